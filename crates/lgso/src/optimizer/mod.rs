//! Optimizers as ask/tell state machines.
//!
//! lgso drives every optimizer the same way: [`Optimizer::ask`] returns a
//! batch of simulator [`Request`]s ("draw M samples at psi_i"), the driver
//! evaluates them (in threads, in worker processes or on a cluster: the
//! optimizer never knows), appends the samples to the [`History`], and
//! hands them back with [`Optimizer::tell`], which advances the state (fit,
//! gradient, step).
//!
//! We chose this pull-free split (rather than an optimizer that calls the
//! simulator itself, as argmin's `next_iter` does) because a simulator call
//! may be a cluster job that finishes tomorrow: the optimizer must be a value
//! that can wait, be saved and be resumed, and one driver, one budget
//! accounting and one trace format then serve L-GSO and every baseline.
//!
//! ## Layout
//! - One file per method, each with its settings (the `[method]` table of
//!   the configuration), the formula of its calls per iteration
//!   ([`CallCost`]) and its ask/tell implementation: [`lgso`] (the paper's
//!   method) and the baselines of baselines.md ([`numdiff`], [`ges`],
//!   [`reinforce`], [`cmaes`], [`bo`], [`lax`], [`oracle`]).
//! - [`state`]: [`PsiState`], the state every optimizer embeds and saves
//!   after each iteration (psi, Adam, iteration, seed), and the bookkeeping
//!   every optimizer shares (outstanding requests, the Adam step).
//! - [`adam`]: Adam on psi; [`trust_region`]: the trust-region geometry
//!   (design box, clipping to bounds, projection onto the eps-ball);
//!   [`design`]: Latin hypercube sampling (L-GSO's design, BO's initial
//!   points).
//!
//! Every optimizer is built from its own settings, the
//! [`Problem`](crate::problem::Problem) (its
//! objective, start point and bounds) and the run seed; the factory that
//! picks one by [`Method`] is `crate::driver::optimizer_for`.

use crate::data::{Outcome, Request};
use crate::error::{Error, Result};
use crate::history::History;
use crate::report::StepReport;

pub mod adam;
pub mod bo;
pub mod cmaes;
pub mod design;
pub mod ges;
pub mod lax;
pub mod lgso;
pub mod lgso_auto;
pub mod numdiff;
pub mod oracle;
pub mod reinforce;
pub mod state;
pub mod trust_region;

pub use adam::{Adam, AdamSettings};
pub use bo::{Bo, BoSettings};
pub use cmaes::{Cmaes, CmaesConfig, CmaesSettings};
pub use ges::{Ges, GesConfig, GesSettings};
pub use lax::{Lax, LaxSettings};
pub use lgso::{Lgso, LgsoConfig, LgsoSettings, Preset};
pub use lgso_auto::LgsoAuto;
pub use numdiff::{NumDiff, NumDiffSettings};
pub use oracle::{Oracle, OracleConfig, OracleSettings};
pub use reinforce::{Reinforce, ReinforceSettings};
pub use state::PsiState;
pub use trust_region::project_to_ball;

/// The optimizers `method` may name: L-GSO and the baselines of
/// baselines.md, in that order (the names of [`Method::ALL`]).
pub const METHODS: [&str; 8] = [
    "lgso",
    "numdiff",
    "ges",
    "reinforce",
    "cmaes",
    "bo",
    "lax",
    "oracle",
];

/// An optimization method (`method` in the configuration).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// L-GSO, the paper's method ([`Lgso`]).
    Lgso,
    /// Central finite differences + Adam ([`NumDiff`]).
    NumDiff,
    /// Guided evolutionary strategies ([`Ges`]).
    Ges,
    /// REINFORCE with a moving-average baseline ([`Reinforce`]).
    Reinforce,
    /// CMA-ES ([`Cmaes`]).
    Cmaes,
    /// Bayesian optimization ([`Bo`]).
    Bo,
    /// LAX ([`Lax`]).
    Lax,
    /// Adam on the exact gradient ([`Oracle`]).
    Oracle,
}

impl Method {
    /// Every method, in the order of [`METHODS`].
    pub const ALL: [Method; 8] = [
        Method::Lgso,
        Method::NumDiff,
        Method::Ges,
        Method::Reinforce,
        Method::Cmaes,
        Method::Bo,
        Method::Lax,
        Method::Oracle,
    ];

    /// The method's name in configurations and traces, e.g. `cmaes`.
    pub fn name(self) -> &'static str {
        METHODS[self as usize]
    }

    /// The method called `name`: the one place where method names are
    /// matched.
    ///
    /// # Errors
    /// [`Error::Config`] (key `method`) listing [`METHODS`].
    pub fn parse(name: &str) -> Result<Method> {
        METHODS
            .iter()
            .position(|m| *m == name)
            .map(|i| Method::ALL[i])
            .ok_or_else(|| {
                Error::config(
                    "method",
                    format!("one of {}", METHODS.join(", ")),
                    format!("{name:?}"),
                )
            })
    }
}

/// The simulator calls of one iteration of a method and how they are made
/// up, from the method's settings and the dimension of psi. Each method's
/// formula exists once, in its own file; the optimizer charges it and the
/// configuration checks it against the budget.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallCost {
    /// Calls of the first iteration.
    pub first: u64,
    /// Calls of every later iteration (the same but for BO, which pays
    /// for its initial design in the first step only).
    pub later: u64,
    /// The formula with its numbers, e.g. `2 n M = 2 * 10 * 3000`.
    pub formula: String,
    /// The settings that make it up, for messages, e.g.
    /// `numdiff.samples`.
    pub keys: &'static str,
}

impl CallCost {
    /// The same cost every iteration.
    pub fn each(calls: u64, formula: String, keys: &'static str) -> CallCost {
        CallCost {
            first: calls,
            later: calls,
            formula,
            keys,
        }
    }

    /// Calls of the iteration after `completed` iterations.
    pub fn next(&self, completed: u64) -> u64 {
        if completed == 0 {
            self.first
        } else {
            self.later
        }
    }
}

/// An optimizer of `E[R](psi)` driven by ask/tell.
pub trait Optimizer: Send {
    /// The method's name, e.g. `lgso`.
    fn name(&self) -> &str {
        &self.state().method
    }

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
    /// ask; [`crate::Error::Diverged`] when the step would make psi
    /// non-finite (psi and Adam are kept); surrogate or tensor errors.
    fn tell(&mut self, outcomes: &[Outcome], history: &History) -> Result<StepReport>;

    /// The state every optimizer shares: psi, iteration, seed, Adam.
    fn state(&self) -> &PsiState;

    /// The current parameters, `[n]`.
    fn psi(&self) -> &[f64] {
        &self.state().psi
    }

    /// Completed iterations.
    fn iteration(&self) -> u64 {
        self.state().iteration
    }

    /// Simulator calls the next `ask` will request.
    fn calls_per_iteration(&self) -> u64;

    /// The optimizer's full state after a `tell`: its [`PsiState`] and what
    /// the method keeps besides (CMA-ES's covariance, BO's observations,
    /// ...), as a JSON value for the run database. A resumed run restores
    /// it and continues exactly as an uninterrupted one.
    ///
    /// # Errors
    /// [`crate::Error::Protocol`] if the state cannot be written (not
    /// expected: every value in it is finite).
    fn save_state(&self) -> Result<serde_json::Value>;

    /// Restores a state written by [`Optimizer::save_state`] of the same
    /// method, dimension and seed.
    ///
    /// # Errors
    /// [`crate::Error::Protocol`] when the state does not belong to this
    /// optimizer or cannot be read.
    fn restore_state(&mut self, state: &serde_json::Value) -> Result<()>;

    /// Why the optimizer has nothing left to try (psi at a minimum it
    /// cannot leave, a flat objective), if so: the run stops there
    /// ([`crate::report::StopReason::Converged`]). Default: never.
    fn converged(&self) -> Option<String> {
        None
    }

    /// Whether `tell` accepts outcomes with fewer samples than requested
    /// (even none, when a simulator request failed). L-GSO does: it trains
    /// on whatever the trust region holds. Methods that need an objective
    /// value at every requested point do not.
    fn tolerates_missing(&self) -> bool {
        false
    }
}

/// Euclidean norm of `v`.
pub(crate) fn norm(v: &[f64]) -> f64 {
    v.iter().map(|g| g * g).sum::<f64>().sqrt()
}
