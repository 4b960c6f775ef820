//! Optimizers as ask/tell state machines.
//!
//! lgso drives every optimizer the same way: [`Optimizer::ask`] returns a
//! batch of simulator [`Request`]s ("draw M samples at psi_i"), the driver
//! evaluates them (in threads today; in worker processes or on a cluster
//! later), appends the samples to the [`History`], and hands them back with
//! [`Optimizer::tell`], which advances the state (fit, gradient, step).
//!
//! We chose this pull-free split (rather than an optimizer that calls the
//! simulator itself, as argmin's `next_iter` does) because a simulator call
//! may be a cluster job that finishes tomorrow: the optimizer must be a value
//! that can wait, be saved and be resumed, and one driver, one budget
//! accounting and one trace format then serve L-GSO and every baseline.

use crate::data::{Outcome, Request};
use crate::error::Result;
use crate::history::History;

pub mod adam;
pub mod lgso;
pub mod trust_region;

pub use adam::Adam;
pub use lgso::Lgso;
pub use trust_region::project_to_ball;

/// What one `tell` did, for the trace.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct StepReport {
    /// Euclidean norm of the gradient estimate used for the step.
    pub grad_norm: f64,
    /// Euclidean length of the step actually taken (after projection).
    pub step_length: f64,
    /// Samples the surrogate was trained on (new + reused).
    pub train_samples: usize,
    /// Of those, samples reused from earlier iterations.
    pub reused_samples: usize,
    /// Seconds spent fitting the surrogate.
    pub seconds_fit: f64,
    /// Seconds spent on the surrogate gradient.
    pub seconds_gradient: f64,
    /// The surrogate's own estimate of `E[R]` at the old psi.
    pub surrogate_objective: f64,
}

/// An optimizer of `E[R](psi)` driven by ask/tell.
pub trait Optimizer: Send {
    /// Short name, e.g. `lgso`.
    fn name(&self) -> &str;

    /// The requests of the next iteration. Calling `ask` again before
    /// `tell` returns the same requests.
    ///
    /// # Errors
    /// Optimizer-specific.
    fn ask(&mut self) -> Result<Vec<Request>>;

    /// Takes the outcomes of the last `ask` (already appended to
    /// `history`) and advances to the next psi.
    ///
    /// # Errors
    /// [`crate::Error::Protocol`] when the outcomes do not answer the last
    /// ask; surrogate or tensor errors.
    fn tell(&mut self, outcomes: &[Outcome], history: &History) -> Result<StepReport>;

    /// The current parameters, `[n]`.
    fn psi(&self) -> &[f64];

    /// Completed iterations.
    fn iteration(&self) -> u64;

    /// Simulator calls the next `ask` will request.
    fn calls_per_iteration(&self) -> u64;
}
