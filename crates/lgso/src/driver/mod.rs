//! The driver: the loop around an ask/tell [`Optimizer`].
//!
//! Each iteration: ask -> evaluate the requests (an [`Evaluator`]: threads,
//! worker processes) -> commit them to the run database -> append the
//! samples to the [`History`] -> tell -> estimate the objective at the new
//! psi -> checkpoint -> report to the [`Observer`]s. The driver owns the
//! budget accounting (one simulator call per drawn y), the failure policy
//! and the stopping rules, so every optimizer is charged the same way.
//!
//! - `mod.rs`: the loop ([`run`], [`run_session`]).
//! - `observer.rs`: the [`Observer`] trait.
//! - `restore.rs`: continuing a run from its run database.
//! - `factory.rs`: the configured surrogate and optimizer
//!   ([`optimizer_for`], [`surrogate_for`]) and one-call entry points
//!   ([`run_method`], [`run_lgso`]).

use std::time::Instant;

use crate::config::ResolvedConfig;
use crate::data::{monitor_request_id, Outcome, Request};
use crate::error::{Error, Result};
use crate::evaluate::{Evaluator, InProcess, RequestResult};
use crate::history::{History, RequestKind, RunStatus, RunStore};
use crate::optimizer::Optimizer;
use crate::problem;
use crate::report::{IterationReport, RunInfo, StepReport, StopReason, Summary};
use crate::seed::{derive_seed, stream};

mod factory;
mod observer;
mod restore;

pub use factory::{lgso_for, optimizer_for, run_lgso, run_method, surrogate_for};
pub use observer::Observer;

/// Where a run's requests go and where the run is recorded.
pub struct Session<'a> {
    /// Evaluates the simulator requests (in-process threads or worker
    /// processes).
    pub evaluator: &'a mut dyn Evaluator,
    /// The run database: every request is committed as it arrives, every
    /// iteration with the optimizer's state. `None`: nothing is stored.
    pub store: Option<&'a mut RunStore>,
    /// Continue from the store's last completed iteration (the run must
    /// have been started with the same configuration).
    pub resume: bool,
}

/// Running totals of a run: calls charged and request failures.
#[derive(Debug, Default)]
struct Tally {
    calls: u64,
    requests: u64,
    failed: u64,
    /// Samples asked for and samples not usable (failed requests, rejected
    /// samples): the failure rate is their ratio.
    asked: u64,
    lost: u64,
    last_failure: Option<String>,
}

impl Tally {
    fn count(&mut self, results: &[RequestResult]) {
        for r in results {
            self.calls += r.calls();
            self.requests += 1;
            self.asked += r.request.count as u64;
            self.lost += (r.request.count as u64).saturating_sub(r.samples.len() as u64);
            if let Some(f) = &r.failure {
                self.failed += 1;
                self.last_failure = Some(failure_text(r, f));
            }
        }
    }
}

/// One line (plus the stderr tail) naming the request, its psi and what
/// was wrong.
pub fn failure_text(r: &RequestResult, f: &crate::evaluate::Failure) -> String {
    // every evaluator's message starts with the request's id and psi
    // (`Failure::of`)
    let mut s = format!(
        "{} (iteration {}, {} samples) [{}]",
        f.message,
        r.request.iteration,
        r.request.count,
        f.kind.name()
    );
    let tail = f.stderr_tail.trim();
    if !tail.is_empty() {
        s.push_str("; simulator stderr (last lines): ");
        s.push_str(&tail.replace('\n', " | "));
    }
    s
}

struct Runner<'a, 'b> {
    cfg: &'a ResolvedConfig,
    session: Session<'b>,
    dims: (usize, usize, usize),
    monitor_samples: usize,
    monitor_seed: u64,
    /// Monitor requests that failed (in part or in full).
    monitor_failed: u64,
    /// Whether requests may be answered from the run database: only a
    /// resumed run before its first new checkpoint (afterwards nothing
    /// asked can be stored yet), so a running run does not query the
    /// database for every request.
    lookup: bool,
}

impl Runner<'_, '_> {
    /// Evaluates `requests`, taking those the run database already holds
    /// (a resumed run re-asks the interrupted iteration) from it and
    /// committing each fresh result as it arrives.
    fn evaluate(&mut self, kind: RequestKind, requests: &[Request]) -> Result<Vec<RequestResult>> {
        let reproducible = self.session.evaluator.reproducible();
        // in-process monitor draws are reproducible from the seed: neither
        // stored nor taken from the store
        let stored = kind == RequestKind::Step || !reproducible;
        let mut cached: Vec<Option<RequestResult>> = vec![None; requests.len()];
        if let (Some(store), true) = (self.session.store.as_deref(), stored && self.lookup) {
            for (c, r) in cached.iter_mut().zip(requests) {
                // a stored request that produced nothing (it failed) is
                // simulated again: the simulator may have been fixed
                *c = store
                    .completed(r, self.dims)?
                    .filter(|c| !(c.samples.is_empty() && c.failure.is_some()));
            }
        }
        let todo: Vec<Request> = requests
            .iter()
            .zip(&cached)
            .filter(|(_, c)| c.is_none())
            .map(|(r, _)| r.clone())
            .collect();
        let store = &mut self.session.store;
        let mut commit = |r: &RequestResult| -> Result<()> {
            match store.as_deref_mut() {
                Some(s) if stored => s.commit_request(kind, r),
                _ => Ok(()),
            }
        };
        let mut fresh = if todo.is_empty() {
            Vec::new()
        } else {
            self.session.evaluator.evaluate(&todo, &mut commit)?
        }
        .into_iter();
        let mut out = Vec::with_capacity(requests.len());
        for c in cached {
            match c {
                Some(r) => out.push(r),
                None => out.push(fresh.next().ok_or_else(|| {
                    Error::Protocol(
                        "the evaluator answered fewer requests than it was given".into(),
                    )
                })?),
            }
        }
        Ok(out)
    }

    /// Objective estimate at psi after `iteration` iterations, with common
    /// random numbers across iterations (the same seed each time), so that
    /// successive estimates differ by the change in psi more than by noise.
    /// A failed monitor request gives NaN (written as an empty cell).
    fn estimate(&mut self, psi: &[f64], iteration: u64) -> Result<(f64, f64, Option<f64>)> {
        let request = Request {
            id: monitor_request_id(iteration),
            iteration,
            psi: psi.to_vec(),
            count: self.monitor_samples,
            seed: self.monitor_seed,
        };
        let results = self.evaluate(RequestKind::Monitor, &[request])?;
        let exact = self.cfg.problem.exact.as_ref().map(|e| e.value(psi));
        if results[0].failure.is_some() {
            self.monitor_failed += 1;
        }
        let samples = &results[0].samples;
        if samples.is_empty() {
            if let Some(f) = &results[0].failure {
                if self.session.evaluator.reproducible() {
                    // a built-in simulator that cannot run at psi: an error,
                    // as before the evaluator existed
                    return Err(Error::SimulatorFailures {
                        reason: "the objective at psi cannot be estimated".into(),
                        last: failure_text(&results[0], f),
                    });
                }
            }
            return Ok((f64::NAN, f64::NAN, exact));
        }
        let r = problem::objective_values(self.cfg.problem.objective.as_ref(), samples)?;
        let (mean, se) = problem::mean_and_stderr(&r);
        Ok((mean, se, exact))
    }

    fn checkpoint(
        &mut self,
        report: &IterationReport,
        calls: u64,
        optimizer: &dyn Optimizer,
    ) -> Result<()> {
        if let Some(store) = self.session.store.as_deref_mut() {
            let state = optimizer.save_state()?;
            store.commit_iteration(report, calls, Some(&state))?;
        }
        self.lookup = false;
        Ok(())
    }
}

/// Runs `optimizer` on the configured problem until a stopping rule fires,
/// reporting to `observers`; requests are evaluated in-process (threads)
/// and nothing is stored (see [`run_session`] for both).
///
/// On an error after the start the observers still get `on_finish` with a
/// [`StopReason::Failed`] summary (nothing computed so far is lost), and the
/// error is returned.
///
/// # Errors
/// Simulator, surrogate and observer errors.
pub fn run(
    cfg: &ResolvedConfig,
    optimizer: &mut dyn Optimizer,
    observers: &mut [&mut dyn Observer],
) -> Result<Summary> {
    let mut evaluator = InProcess::new(cfg.problem.simulator.clone());
    let session = Session {
        evaluator: &mut evaluator,
        store: None,
        resume: false,
    };
    run_session(cfg, optimizer, session, observers)
}

/// Runs `optimizer` with the given evaluator and run database, or resumes
/// it from the database's last completed iteration (`session.resume`).
///
/// A resumed run restores the optimizer's saved state (or, for a method
/// that saves none, replays its stored samples from iteration 0), rebuilds
/// the history from the stored samples, re-asks the interrupted iteration
/// and takes every request already stored from the database: no completed
/// sample is simulated twice, and the run continues exactly as an
/// uninterrupted one with the same seed.
///
/// # Errors
/// As [`run`]; [`Error::Store`]; [`Error::SimulatorFailures`] when
/// requests fail beyond `simulator.max_failure_rate` or a method that
/// needs every point misses one (everything computed is saved first).
pub fn run_session(
    cfg: &ResolvedConfig,
    optimizer: &mut dyn Optimizer,
    session: Session<'_>,
    observers: &mut [&mut dyn Observer],
) -> Result<Summary> {
    let t0 = Instant::now();
    let problem = &cfg.problem;
    let dims = problem.dims();
    let lookup = session.resume;
    let mut runner = Runner {
        cfg,
        session,
        dims: (dims.psi, dims.x, dims.y),
        monitor_samples: cfg.monitor_samples,
        monitor_seed: derive_seed(cfg.seed, &[stream::MONITOR]),
        monitor_failed: 0,
        lookup,
    };
    let info = RunInfo {
        problem: problem.name.to_string(),
        optimizer: optimizer.name().to_string(),
        dim: dims.psi,
        start: cfg.start().to_vec(),
        budget: cfg.budget,
        calls_per_iteration: optimizer.calls_per_iteration(),
        monitor_samples: runner.monitor_samples,
    };
    for o in observers.iter_mut() {
        o.on_start(&info)?;
    }
    let mut history = History::new(dims.psi, dims.x, dims.y);
    let mut reports: Vec<IterationReport> = Vec::new();
    let mut tally = Tally::default();
    let result = restore::restore(
        &mut runner,
        optimizer,
        &mut history,
        &mut reports,
        &mut tally,
    )
    .and_then(|()| {
        for r in &reports {
            for o in observers.iter_mut() {
                o.on_iteration(r)?;
            }
        }
        iterate(
            &mut runner,
            optimizer,
            observers,
            &mut history,
            &mut reports,
            &mut tally,
        )
    });
    let stop_reason = match &result {
        Ok(r) => r.clone(),
        Err(e) => StopReason::Failed(e.to_string()),
    };
    if let Some(store) = runner.session.store.as_deref() {
        let status = if result.is_ok() {
            RunStatus::Finished
        } else {
            RunStatus::Failed
        };
        let error = result.as_ref().err().map(|e| e.to_string());
        store.set_status(status, stop_reason.name(), error.as_deref())?;
    }
    let steps = reports.get(1..).unwrap_or(&[]);
    let times: Vec<f64> = steps.iter().map(|r| r.seconds_total).collect();
    let total_iter: f64 = times.iter().sum();
    let total_fit: f64 = steps.iter().map(|r| r.step.seconds_fit).sum();
    let nan = f64::NAN;
    let (first, last) = (reports.first(), reports.last());
    let summary = Summary {
        problem: info.problem.clone(),
        optimizer: info.optimizer.clone(),
        error: result.as_ref().err().map(|e| e.to_string()),
        stop_reason,
        iterations: optimizer.iteration(),
        calls: tally.calls,
        failed_requests: tally.failed + runner.monitor_failed,
        psi_start: info.start.clone(),
        // the last psi whose objective was estimated, so that psi_final
        // and objective_final belong together also when a run failed
        psi_final: last.map_or_else(|| optimizer.psi().to_vec(), |r| r.psi.clone()),
        objective_start: first.map_or(nan, |r| r.objective),
        objective_start_stderr: first.map_or(nan, |r| r.objective_stderr),
        objective_final: last.map_or(nan, |r| r.objective),
        objective_final_stderr: last.map_or(nan, |r| r.objective_stderr),
        objective_final_exact: last.and_then(|r| r.objective_exact),
        seconds_total: t0.elapsed().as_secs_f64(),
        median_seconds_per_iteration: median(&times),
        fit_share: if total_iter > 0.0 {
            total_fit / total_iter
        } else {
            0.0
        },
    };
    for o in observers.iter_mut() {
        o.on_finish(&summary)?;
    }
    result.map(|_| summary)
}

/// Reports the start point (iteration 0) unless the run was restored, then
/// iterates until a stopping rule fires.
fn iterate(
    runner: &mut Runner,
    optimizer: &mut dyn Optimizer,
    observers: &mut [&mut dyn Observer],
    history: &mut History,
    reports: &mut Vec<IterationReport>,
    tally: &mut Tally,
) -> Result<StopReason> {
    let cfg = runner.cfg;
    if reports.is_empty() {
        let (objective, objective_stderr, objective_exact) = runner.estimate(optimizer.psi(), 0)?;
        let start_report = IterationReport {
            iteration: 0,
            calls: 0,
            objective,
            objective_stderr,
            objective_exact,
            step: StepReport::default(),
            seconds_simulate: 0.0,
            seconds_total: 0.0,
            psi: optimizer.psi().to_vec(),
        };
        runner.checkpoint(&start_report, 0, optimizer)?;
        for o in observers.iter_mut() {
            o.on_iteration(&start_report)?;
        }
        reports.push(start_report);
    }
    let max_rate = cfg.max_failure_rate;
    loop {
        if let (Some(t), Some(r)) = (cfg.target, reports.last()) {
            if r.objective <= t {
                return Ok(StopReason::Target);
            }
        }
        if let Some(max) = cfg.max_iterations {
            if optimizer.iteration() >= max {
                return Ok(StopReason::MaxIterations);
            }
        }
        if tally.calls + optimizer.calls_per_iteration() > cfg.budget {
            return Ok(StopReason::Budget);
        }
        if let Some(why) = optimizer.converged() {
            return Ok(StopReason::Converged(why));
        }
        let t_iter = Instant::now();
        let requests = optimizer.ask()?;
        if requests.is_empty() {
            return Err(Error::Protocol(format!(
                "optimizer {} asked for nothing",
                optimizer.name()
            )));
        }
        let t_sim = Instant::now();
        let results = runner.evaluate(RequestKind::Step, &requests)?;
        let seconds_simulate = t_sim.elapsed().as_secs_f64();
        tally.count(&results);
        let incomplete = results.iter().find(|r| r.samples.len() < r.request.count);
        if let (Some(r), false) = (incomplete, optimizer.tolerates_missing()) {
            let last = match &r.failure {
                Some(f) => failure_text(r, f),
                None => format!(
                    "request {} returned {} of {} samples",
                    r.request.id,
                    r.samples.len(),
                    r.request.count
                ),
            };
            return Err(Error::SimulatorFailures {
                reason: format!(
                    "method {} needs every requested point answered in full",
                    optimizer.name()
                ),
                last,
            });
        }
        if tally.failed >= 3 && tally.lost as f64 > max_rate * tally.asked as f64 {
            return Err(Error::SimulatorFailures {
                reason: format!(
                    "{} of {} simulator requests failed, losing {} of {} requested samples, \
                     more than simulator.max_failure_rate = {max_rate}",
                    tally.failed, tally.requests, tally.lost, tally.asked
                ),
                last: tally.last_failure.clone().unwrap_or_default(),
            });
        }
        if results.iter().all(|r| r.samples.is_empty()) {
            return Err(Error::SimulatorFailures {
                reason: format!(
                    "every request of iteration {} failed",
                    optimizer.iteration()
                ),
                last: tally.last_failure.clone().unwrap_or_default(),
            });
        }
        let outcomes: Vec<Outcome> = results
            .into_iter()
            .map(|r| Outcome {
                request: r.request,
                samples: r.samples,
            })
            .collect();
        history.append(&outcomes)?;
        let step = optimizer.tell(&outcomes, history)?;
        let (objective, objective_stderr, objective_exact) =
            runner.estimate(optimizer.psi(), optimizer.iteration())?;
        let report = IterationReport {
            iteration: optimizer.iteration(),
            calls: tally.calls,
            objective,
            objective_stderr,
            objective_exact,
            step,
            seconds_simulate,
            seconds_total: t_iter.elapsed().as_secs_f64(),
            psi: optimizer.psi().to_vec(),
        };
        runner.checkpoint(&report, tally.calls, optimizer)?;
        for o in observers.iter_mut() {
            o.on_iteration(&report)?;
        }
        reports.push(report);
    }
}

fn median(v: &[f64]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    let n = s.len();
    if n % 2 == 1 {
        s[n / 2]
    } else {
        0.5 * (s[n / 2 - 1] + s[n / 2])
    }
}
