//! The driver: the loop around an ask/tell [`Optimizer`].
//!
//! Each iteration: ask -> evaluate the requests in parallel threads (rayon)
//! -> append the samples to the [`History`] -> tell -> estimate the objective
//! at the new psi -> report to the [`Observer`]s. The driver owns the budget
//! accounting (one simulator call per drawn y) and the stopping rules, so
//! every optimizer is charged the same way.

use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::config::ResolvedConfig;
use crate::data::{Outcome, Request};
use crate::error::{Error, Result};
use crate::evaluate::{Evaluator, InProcess, RequestResult};
use crate::history::History;
use crate::optimizer::{Optimizer, StepReport};
use crate::problem;
use crate::seed::{derive_seed, stream};
use crate::store::{RequestKind, RunStatus, RunStore};

/// Static facts about a run, given to observers at the start.
#[derive(Debug, Clone, Serialize)]
pub struct RunInfo {
    /// Problem name.
    pub problem: String,
    /// Optimizer name.
    pub optimizer: String,
    /// psi dimension.
    pub dim: usize,
    /// Start point, `[n]`.
    pub start: Vec<f64>,
    /// Call budget.
    pub budget: u64,
    /// Calls per iteration.
    pub calls_per_iteration: u64,
    /// Draws used for each reported objective estimate (not charged).
    pub monitor_samples: usize,
}

/// One row of the trace. Iteration 0 is the start point (no step taken).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IterationReport {
    /// Completed iterations.
    pub iteration: u64,
    /// Simulator calls charged so far.
    pub calls: u64,
    /// Monte Carlo estimate of `E[R](psi)` at the current psi, from
    /// `monitor_samples` fresh draws not charged to the budget.
    #[serde(deserialize_with = "crate::data::f64_or_nan")]
    pub objective: f64,
    /// Its standard error.
    #[serde(deserialize_with = "crate::data::f64_or_nan")]
    pub objective_stderr: f64,
    /// Closed-form `E[R](psi)` where the problem has one.
    pub objective_exact: Option<f64>,
    /// The step's details (zeros at iteration 0).
    pub step: StepReport,
    /// Seconds simulating in this iteration.
    #[serde(deserialize_with = "crate::data::f64_or_nan")]
    pub seconds_simulate: f64,
    /// Seconds of the whole iteration (simulate + fit + gradient + monitor).
    #[serde(deserialize_with = "crate::data::f64_or_nan")]
    pub seconds_total: f64,
    /// The current psi, `[n]`.
    pub psi: Vec<f64>,
}

/// Why a run stopped. Serialized as a plain string (`"budget"`,
/// `"max_iterations"`, `"target"`, `"failed"`); the error message of a failed
/// run is in [`Summary::error`].
#[derive(Debug, Clone, PartialEq)]
pub enum StopReason {
    /// The next iteration would exceed the call budget.
    Budget,
    /// The iteration limit was reached.
    MaxIterations,
    /// The objective estimate reached the target.
    Target,
    /// An error ended the run; the message says which.
    Failed(String),
}

impl StopReason {
    /// The reason's name: `budget`, `max_iterations`, `target` or `failed`.
    pub fn name(&self) -> &'static str {
        match self {
            StopReason::Budget => "budget",
            StopReason::MaxIterations => "max_iterations",
            StopReason::Target => "target",
            StopReason::Failed(_) => "failed",
        }
    }
}

impl Serialize for StopReason {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

/// The outcome of a run.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// Problem name.
    pub problem: String,
    /// Optimizer name.
    pub optimizer: String,
    /// Why it stopped.
    pub stop_reason: StopReason,
    /// The error that ended a failed run.
    pub error: Option<String>,
    /// Iterations completed.
    pub iterations: u64,
    /// Simulator calls charged.
    pub calls: u64,
    /// Simulator requests that failed (in part or in full), the
    /// optimizer's and the monitor's.
    pub failed_requests: u64,
    /// Start point.
    pub psi_start: Vec<f64>,
    /// Final psi: the last psi whose objective was reported (after a
    /// failure, the last good one).
    pub psi_final: Vec<f64>,
    /// Objective estimate at the start (NaN, written as null, if the run
    /// failed there).
    pub objective_start: f64,
    /// Its standard error.
    pub objective_start_stderr: f64,
    /// Objective estimate at the final psi.
    pub objective_final: f64,
    /// Its standard error.
    pub objective_final_stderr: f64,
    /// Closed-form objective at the final psi, where known.
    pub objective_final_exact: Option<f64>,
    /// Wall-clock seconds of the run.
    pub seconds_total: f64,
    /// Median seconds per iteration.
    pub median_seconds_per_iteration: f64,
    /// Share of iteration time spent fitting the surrogate.
    pub fit_share: f64,
}

/// Watches a run: progress bars, trace files, plots.
pub trait Observer {
    /// Called once before the first iteration.
    ///
    /// # Errors
    /// I/O errors; they stop the run.
    fn on_start(&mut self, _info: &RunInfo) -> Result<()> {
        Ok(())
    }
    /// Called with the start point (iteration 0) and after every iteration.
    ///
    /// # Errors
    /// I/O errors; they stop the run.
    fn on_iteration(&mut self, _report: &IterationReport) -> Result<()> {
        Ok(())
    }
    /// Called once at the end, also when the run failed.
    ///
    /// # Errors
    /// I/O errors.
    fn on_finish(&mut self, _summary: &Summary) -> Result<()> {
        Ok(())
    }
}

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

/// Index of the monitor's request within an iteration's ids
/// (`iteration * 2^20 + MONITOR_INDEX`), above any optimizer's requests.
const MONITOR_INDEX: u64 = (1 << 20) - 1;

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
            id: (iteration << 20) + MONITOR_INDEX,
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
            store.commit_iteration(report, calls, optimizer.save_state().as_ref())?;
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
        monitor_samples: cfg.monitor_samples(),
        monitor_seed: derive_seed(cfg.config.seed, &[stream::MONITOR]),
        monitor_failed: 0,
        lookup,
    };
    let info = RunInfo {
        problem: problem.name.to_string(),
        optimizer: optimizer.name().to_string(),
        dim: dims.psi,
        start: cfg.start().to_vec(),
        budget: cfg.budget(),
        calls_per_iteration: optimizer.calls_per_iteration(),
        monitor_samples: runner.monitor_samples,
    };
    for o in observers.iter_mut() {
        o.on_start(&info)?;
    }
    let mut history = History::new(dims.psi, dims.x, dims.y);
    let mut reports: Vec<IterationReport> = Vec::new();
    let mut tally = Tally::default();
    let result = restore(
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

/// For a resumed run: restores the optimizer, the history, the trace and
/// the tally from the run database. Does nothing for a fresh run.
fn restore(
    runner: &mut Runner,
    optimizer: &mut dyn Optimizer,
    history: &mut History,
    reports: &mut Vec<IterationReport>,
    tally: &mut Tally,
) -> Result<()> {
    if !runner.session.resume {
        return Ok(());
    }
    let store = runner
        .session
        .store
        .as_deref()
        .ok_or_else(|| Error::Protocol("resume needs a run database".into()))?;
    let Some(cp) = store.last_checkpoint()? else {
        // killed before the start point was reported: start over; requests
        // already stored are taken from the database
        return Ok(());
    };
    let done = cp.report.iteration;
    let results = store.results(runner.dims, Some(done))?;
    *reports = store.reports()?;
    match &cp.state {
        Some(state) => {
            optimizer.restore_state(state)?;
            for r in &results {
                history.append(&[Outcome {
                    request: r.request.clone(),
                    samples: r.samples.clone(),
                }])?;
            }
        }
        None => {
            // replay: the optimizer asks again, gets the stored answers
            let mut by_id: std::collections::HashMap<u64, &RequestResult> =
                results.iter().map(|r| (r.request.id, r)).collect();
            while optimizer.iteration() < done {
                let requests = optimizer.ask()?;
                let mut outcomes = Vec::with_capacity(requests.len());
                for q in &requests {
                    let r = by_id
                        .remove(&q.id)
                        .filter(|r| r.request == *q)
                        .ok_or_else(|| {
                            Error::Protocol(format!(
                            "replaying iteration {}: request {} is not stored as asked; the run \
                             cannot be continued with this configuration",
                            optimizer.iteration(),
                            q.id
                        ))
                        })?;
                    outcomes.push(Outcome {
                        request: q.clone(),
                        samples: r.samples.clone(),
                    });
                }
                history.append(&outcomes)?;
                optimizer.tell(&outcomes, history)?;
            }
        }
    }
    tally.count(&results);
    tally.calls = cp.calls;
    Ok(())
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
    let stop = &cfg.config.stop;
    let max_rate = cfg.config.simulator.max_failure_rate;
    loop {
        if let (Some(t), Some(r)) = (stop.target, reports.last()) {
            if r.objective <= t {
                return Ok(StopReason::Target);
            }
        }
        if let Some(max) = stop.max_iterations {
            if optimizer.iteration() >= max {
                return Ok(StopReason::MaxIterations);
            }
        }
        if tally.calls + optimizer.calls_per_iteration() > cfg.budget() {
            return Ok(StopReason::Budget);
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

/// Builds the configured surrogate family.
///
/// # Errors
/// [`Error::Config`] for an unknown family (already rejected by
/// validation).
pub fn surrogate_for(cfg: &ResolvedConfig) -> Result<Box<dyn crate::surrogate::Surrogate>> {
    match cfg.config.lgso.surrogate.as_str() {
        "gan" => Ok(Box::new(crate::surrogate::CramerGan::new(
            cfg.config.gan.clone(),
        ))),
        "ffjord" => Ok(Box::new(crate::surrogate::Ffjord::new(
            cfg.config.ffjord.clone(),
        ))),
        "mdn" => Ok(Box::new(crate::surrogate::Mdn::new(cfg.config.mdn.clone()))),
        other => Err(Error::config(
            "lgso.surrogate",
            format!("one of {}", crate::config::SURROGATES.join(", ")),
            other,
        )),
    }
}

/// The configured optimizer (`method`): L-GSO with its surrogate, or a
/// baseline.
///
/// # Errors
/// [`Error::Config`] for an unknown method or an oracle on a problem
/// without an exact objective (both already rejected by
/// [`crate::config::Config::resolve`]).
pub fn optimizer_for(cfg: &ResolvedConfig) -> Result<Box<dyn Optimizer>> {
    use crate::optimizer::{Bo, Cmaes, Ges, Lax, Lgso, NumDiff, Oracle, Reinforce};
    Ok(match cfg.config.method.as_str() {
        "lgso" => Box::new(Lgso::new(cfg, surrogate_for(cfg)?)),
        "numdiff" => Box::new(NumDiff::new(cfg)),
        "ges" => Box::new(Ges::new(cfg)),
        "reinforce" => Box::new(Reinforce::new(cfg)),
        "cmaes" => Box::new(Cmaes::new(cfg)),
        "bo" => Box::new(Bo::new(cfg)),
        "lax" => Box::new(Lax::new(cfg)),
        "oracle" => Box::new(Oracle::new(cfg)?),
        other => {
            return Err(Error::config(
                "method",
                format!("one of {}", crate::config::METHODS.join(", ")),
                format!("{other:?}"),
            ))
        }
    })
}

/// Runs the configured method (`method`, default L-GSO) on the configured
/// problem.
///
/// # Errors
/// As [`run`].
pub fn run_method(cfg: &ResolvedConfig, observers: &mut [&mut dyn Observer]) -> Result<Summary> {
    let mut opt = optimizer_for(cfg)?;
    run(cfg, opt.as_mut(), observers)
}

/// Runs L-GSO with the configured surrogate (whatever `method` says): the
/// library's one-call entry point for the paper's method.
///
/// # Errors
/// As [`run`].
pub fn run_lgso(cfg: &ResolvedConfig, observers: &mut [&mut dyn Observer]) -> Result<Summary> {
    let mut opt = crate::optimizer::Lgso::new(cfg, surrogate_for(cfg)?);
    run(cfg, &mut opt, observers)
}
