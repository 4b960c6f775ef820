//! What a run reports: the facts given to observers at the start
//! ([`RunInfo`]), one trace row per iteration ([`IterationReport`], with
//! the optimizer's [`StepReport`]), why it stopped ([`StopReason`]) and its
//! outcome ([`Summary`]). Plain data: the driver fills them, observers,
//! the run database and the command line read them.

use serde::{Deserialize, Serialize};

/// What one `tell` did, for the trace.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StepReport {
    /// Euclidean norm of the gradient estimate used for the step.
    #[serde(deserialize_with = "crate::data::f64_or_nan")]
    pub grad_norm: f64,
    /// Euclidean length of the step actually taken (after projection).
    #[serde(deserialize_with = "crate::data::f64_or_nan")]
    pub step_length: f64,
    /// Samples the surrogate was trained on (new + reused).
    pub train_samples: usize,
    /// Of those, samples reused from earlier iterations.
    pub reused_samples: usize,
    /// Seconds spent fitting the surrogate.
    #[serde(deserialize_with = "crate::data::f64_or_nan")]
    pub seconds_fit: f64,
    /// Seconds spent on the surrogate gradient.
    #[serde(deserialize_with = "crate::data::f64_or_nan")]
    pub seconds_gradient: f64,
    /// The surrogate's own estimate of `E[R]` at the old psi.
    #[serde(deserialize_with = "crate::data::f64_or_nan")]
    pub surrogate_objective: f64,
}

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
    /// The optimizer has nothing left to try (psi at a minimum it cannot
    /// leave, a flat objective); the message says why.
    Converged(String),
    /// An error ended the run; the message says which.
    Failed(String),
}

impl StopReason {
    /// The reason's name: `budget`, `max_iterations`, `target`,
    /// `converged` or `failed`.
    pub fn name(&self) -> &'static str {
        match self {
            StopReason::Budget => "budget",
            StopReason::MaxIterations => "max_iterations",
            StopReason::Target => "target",
            StopReason::Converged(_) => "converged",
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
