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
use crate::error::{Error, Result};
use crate::history::History;
use crate::problem::{objective_values, Objective};
use crate::report::StepReport;
use crate::seed::{derive_seed, stream};

pub mod adam;
pub mod bo;
pub mod cmaes;
pub mod ges;
pub mod lax;
pub mod lgso;
pub mod numdiff;
pub mod oracle;
pub mod reinforce;
pub mod trust_region;

pub use adam::Adam;
pub use bo::Bo;
pub use cmaes::Cmaes;
pub use ges::Ges;
pub use lax::Lax;
pub use lgso::Lgso;
pub use numdiff::NumDiff;
pub use oracle::Oracle;
pub use reinforce::Reinforce;
pub use trust_region::project_to_ball;

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

    /// The optimizer's full state after a `tell` (psi, Adam moments,
    /// iteration, ...), for the run database; `None` when the optimizer
    /// cannot save one (a resumed run then replays its stored samples
    /// from iteration 0 instead).
    fn save_state(&self) -> Option<serde_json::Value> {
        None
    }

    /// Restores a state written by [`Optimizer::save_state`].
    ///
    /// # Errors
    /// [`crate::Error::Protocol`] when the state does not belong to this
    /// optimizer or cannot be read.
    fn restore_state(&mut self, _state: &serde_json::Value) -> Result<()> {
        Err(Error::Protocol(format!(
            "method {} cannot restore a saved state",
            self.name()
        )))
    }

    /// Whether `tell` accepts outcomes with fewer samples than requested
    /// (even none, when a simulator request failed). L-GSO does: it trains
    /// on whatever the trust region holds. Methods that need an objective
    /// value at every requested point do not.
    fn tolerates_missing(&self) -> bool {
        false
    }
}

/// The requests of iteration `iteration`: `count` draws at each point, with
/// ids `iteration * 2^20 + index` and seeds derived from the run seed.
pub(crate) fn requests_at(
    seed: u64,
    iteration: u64,
    points: &[Vec<f64>],
    count: usize,
) -> Vec<Request> {
    points
        .iter()
        .enumerate()
        .map(|(i, psi)| Request {
            id: (iteration << 20) + i as u64,
            iteration,
            psi: psi.clone(),
            count,
            seed: derive_seed(seed, &[stream::REQUEST, iteration, i as u64]),
        })
        .collect()
}

/// The outstanding ask of an optimizer: the requests handed out and not yet
/// answered, so that `ask` before `tell` repeats them and `tell` can check
/// its outcomes against them.
#[derive(Debug, Clone, Default)]
pub(crate) struct Asked {
    seed: u64,
    requests: Option<Vec<Request>>,
}

impl Asked {
    /// No ask outstanding; requests will derive their seeds from `seed`.
    pub(crate) fn new(seed: u64) -> Self {
        Asked {
            seed,
            requests: None,
        }
    }

    /// The outstanding requests, if any.
    pub(crate) fn pending(&self) -> Option<Vec<Request>> {
        self.requests.clone()
    }

    /// Requests `count` draws at each of `points` for `iteration` (see
    /// [`requests_at`]) and keeps them outstanding.
    pub(crate) fn ask(
        &mut self,
        iteration: u64,
        points: &[Vec<f64>],
        count: usize,
    ) -> Vec<Request> {
        let requests = requests_at(self.seed, iteration, points, count);
        self.requests = Some(requests.clone());
        requests
    }

    /// Checks that `outcomes` answer the outstanding requests and clears
    /// them (see [`take_answered`]).
    ///
    /// # Errors
    /// [`Error::Protocol`] without an outstanding ask or on a mismatch.
    pub(crate) fn answered(&mut self, outcomes: &[Outcome]) -> Result<Vec<Request>> {
        take_answered(&mut self.requests, outcomes)
    }
}

/// Takes the pending ask and checks that `outcomes` answer it, one per
/// request and in order; on a mismatch the ask stays pending.
///
/// # Errors
/// [`Error::Protocol`] without a pending ask or on a mismatch.
pub(crate) fn take_answered(
    pending: &mut Option<Vec<Request>>,
    outcomes: &[Outcome],
) -> Result<Vec<Request>> {
    let asked = pending
        .take()
        .ok_or_else(|| Error::Protocol("tell called without a pending ask".into()))?;
    if outcomes.len() != asked.len()
        || outcomes
            .iter()
            .zip(&asked)
            .any(|(o, r)| o.request.id != r.id)
    {
        let ids: Vec<u64> = outcomes.iter().map(|o| o.request.id).collect();
        *pending = Some(asked);
        return Err(Error::Protocol(format!(
            "tell got outcomes for requests {ids:?}, which do not answer the last ask"
        )));
    }
    Ok(asked)
}

/// The objective at each requested point: the mean of `R` over the
/// outcome's draws (baselines.md: "the objective at a point is always
/// estimated as the mean of R over M draws").
///
/// # Errors
/// Tensor errors from the objective.
pub(crate) fn outcome_means(objective: &dyn Objective, outcomes: &[Outcome]) -> Result<Vec<f64>> {
    outcomes
        .iter()
        .map(|o| {
            let r = objective_values(objective, &o.samples)?;
            Ok(r.iter().sum::<f64>() / r.len().max(1) as f64)
        })
        .collect()
}

/// Euclidean norm of `v`.
pub(crate) fn norm(v: &[f64]) -> f64 {
    v.iter().map(|g| g * g).sum::<f64>().sqrt()
}

/// One Adam step on `psi` along `-grad`, optionally projected onto the
/// ball of radius `eps` around the previous psi, then clamped to the box
/// `bounds` if the problem has one. Returns the step length.
///
/// # Errors
/// [`Error::Diverged`] (psi unchanged) when the gradient or the new psi is
/// not finite.
pub(crate) fn adam_step(
    method: &str,
    adam: &mut Adam,
    psi: &mut Vec<f64>,
    grad: &[f64],
    project: Option<f64>,
    bounds: Option<&[(f64, f64)]>,
) -> Result<f64> {
    if let Some(bad) = grad.iter().find(|g| !g.is_finite()) {
        return Err(Error::Diverged {
            method: method.to_string(),
            detail: format!("the gradient estimate holds {bad}"),
        });
    }
    let previous = psi.clone();
    let saved = adam.clone();
    adam.step(psi, grad);
    if let Some(eps) = project {
        project_to_ball(psi, &previous, eps);
    }
    if let Some(b) = bounds {
        crate::design::clamp_to_bounds(psi, b);
    }
    if let Some(bad) = psi.iter().find(|v| !v.is_finite()) {
        let detail = format!("the step produced a non-finite psi ({bad})");
        *psi = previous;
        *adam = saved;
        return Err(Error::Diverged {
            method: method.to_string(),
            detail,
        });
    }
    Ok(trust_region::distance(psi, &previous))
}
