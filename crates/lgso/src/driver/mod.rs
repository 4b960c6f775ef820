//! The driver: the loop around an ask/tell [`Optimizer`].
//!
//! Each iteration: ask -> evaluate the requests in parallel threads (rayon)
//! -> append the samples to the [`History`] -> tell -> estimate the objective
//! at the new psi -> report to the [`Observer`]s. The driver owns the budget
//! accounting (one simulator call per drawn y) and the stopping rules, so
//! every optimizer is charged the same way.

use std::time::Instant;

use rayon::prelude::*;
use serde::Serialize;

use crate::config::ResolvedConfig;
use crate::data::{Outcome, Request};
use crate::error::{Error, Result};
use crate::history::History;
use crate::optimizer::{Optimizer, StepReport};
use crate::problem::{self, Problem};
use crate::seed::{derive_seed, stream};

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
#[derive(Debug, Clone, Serialize)]
pub struct IterationReport {
    /// Completed iterations.
    pub iteration: u64,
    /// Simulator calls charged so far.
    pub calls: u64,
    /// Monte Carlo estimate of `E[R](psi)` at the current psi, from
    /// `monitor_samples` fresh draws not charged to the budget.
    pub objective: f64,
    /// Its standard error.
    pub objective_stderr: f64,
    /// Closed-form `E[R](psi)` where the problem has one.
    pub objective_exact: Option<f64>,
    /// The step's details (zeros at iteration 0).
    pub step: StepReport,
    /// Seconds simulating in this iteration.
    pub seconds_simulate: f64,
    /// Seconds of the whole iteration (simulate + fit + gradient + monitor).
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

/// Evaluates simulator requests in parallel threads; one outcome per
/// request, in order.
///
/// # Errors
/// The first failing request's error ([`Error::Simulator`] names its psi).
pub fn evaluate(problem: &Problem, requests: &[Request]) -> Result<Vec<Outcome>> {
    crate::threads::simulation_pool().install(|| {
        requests
            .par_iter()
            .map(|r| {
                let samples = problem::draw(problem.simulator.as_ref(), &r.psi, r.count, r.seed)?;
                Ok(Outcome {
                    request: r.clone(),
                    samples,
                })
            })
            .collect()
    })
}

struct Monitor<'a> {
    problem: &'a Problem,
    samples: usize,
    seed: u64,
}

impl Monitor<'_> {
    /// Objective estimate at psi with common random numbers across
    /// iterations (the same seed each time), so that successive estimates
    /// differ by the change in psi more than by noise.
    fn estimate(&self, psi: &[f64]) -> Result<(f64, f64, Option<f64>)> {
        let (mean, se) = problem::estimate_objective(self.problem, psi, self.samples, self.seed)?;
        Ok((mean, se, self.problem.exact.as_ref().map(|e| e.value(psi))))
    }
}

/// Runs `optimizer` on the configured problem until a stopping rule fires,
/// reporting to `observers`.
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
    let t0 = Instant::now();
    let problem = &cfg.problem;
    let dims = problem.dims();
    let monitor = Monitor {
        problem,
        samples: cfg.config.monitor.samples,
        seed: derive_seed(cfg.config.seed, &[stream::MONITOR]),
    };
    let info = RunInfo {
        problem: problem.name.to_string(),
        optimizer: optimizer.name().to_string(),
        dim: dims.psi,
        start: optimizer.psi().to_vec(),
        budget: cfg.budget(),
        calls_per_iteration: optimizer.calls_per_iteration(),
        monitor_samples: cfg.config.monitor.samples,
    };
    for o in observers.iter_mut() {
        o.on_start(&info)?;
    }
    let mut history = History::new(dims.psi, dims.x, dims.y);
    let mut reports: Vec<IterationReport> = Vec::new();
    let result = iterate(
        cfg,
        optimizer,
        observers,
        &monitor,
        &mut history,
        &mut reports,
    );
    let stop_reason = match &result {
        Ok(r) => r.clone(),
        Err(e) => StopReason::Failed(e.to_string()),
    };
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
        calls: history.calls(),
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

/// Reports the start point (iteration 0), then iterates until a stopping
/// rule fires.
fn iterate(
    cfg: &ResolvedConfig,
    optimizer: &mut dyn Optimizer,
    observers: &mut [&mut dyn Observer],
    monitor: &Monitor,
    history: &mut History,
    reports: &mut Vec<IterationReport>,
) -> Result<StopReason> {
    let (objective, objective_stderr, objective_exact) = monitor.estimate(optimizer.psi())?;
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
    for o in observers.iter_mut() {
        o.on_iteration(&start_report)?;
    }
    reports.push(start_report);
    let stop = &cfg.config.stop;
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
        if history.calls() + optimizer.calls_per_iteration() > cfg.budget() {
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
        let outcomes = evaluate(&cfg.problem, &requests)?;
        let seconds_simulate = t_sim.elapsed().as_secs_f64();
        history.append(&outcomes)?;
        let step = optimizer.tell(&outcomes, history)?;
        let (objective, objective_stderr, objective_exact) = monitor.estimate(optimizer.psi())?;
        let report = IterationReport {
            iteration: optimizer.iteration(),
            calls: history.calls(),
            objective,
            objective_stderr,
            objective_exact,
            step,
            seconds_simulate,
            seconds_total: t_iter.elapsed().as_secs_f64(),
            psi: optimizer.psi().to_vec(),
        };
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
