//! # lgso: L-GSO, black-box optimization with local generative surrogates
//!
//! A stochastic simulator draws `y ~ p(y | x; psi)` for inputs `x ~ q(x)`;
//! it has no gradients and every draw (a *simulator call*) is expensive.
//! L-GSO (Shirobokov, Belavin, Kagan, Ustyuzhanin & Baydin, "Black-Box
//! Optimization with Local Generative Surrogates", NeurIPS 2020,
//! arXiv:2002.04632) minimizes `E[R(y, x, psi)]` over psi by learning, in a
//! small trust region around the current psi, a generative surrogate of the
//! simulator that *is* differentiable, and following its gradient.
//!
//! ## One iteration (Algorithm 1 of the paper)
//! 1. Trust region: the box `[psi - eps, psi + eps]`.
//! 2. Design: `N` Latin-hypercube points in the box plus psi itself
//!    ([`optimizer::trust_region::trust_region_design`]).
//! 3. Simulate: `M` draws at each point, `(N + 1) M` calls, evaluated by an
//!    [`evaluate::Evaluator`] and all stored in the [`history::History`].
//! 4. Reuse: every stored sample whose psi lies in the box
//!    ([`history::History::in_box`]).
//! 5. Fit: a fresh conditional generative surrogate `y = S(z, x, psi)` on
//!    those samples ([`surrogate::Surrogate::fit`]: [`surrogate::CramerGan`],
//!    [`surrogate::Ffjord`] or [`surrogate::Mdn`]).
//! 6. Gradient: the pathwise gradient of the mean objective over `K`
//!    surrogate samples ([`surrogate::pathwise_gradient`]).
//! 7. Step: Adam on psi with its state kept across iterations
//!    ([`optimizer::adam::adam_step`]), projected onto the Euclidean ball of
//!    radius eps around the previous psi ([`optimizer::project_to_ball`]).
//! 8. Repeat until the budget, an iteration limit or a target is reached.
//!
//! [`optimizer::Lgso`] is that iteration as an ask/tell state machine.
//!
//! ## Layers
//! (docs/architecture.md follows psi through them file by file)
//! - [`problem`]: [`problem::Simulator`] and [`problem::Objective`]; the
//!   paper's benchmark problems, the muon shield, external simulators.
//! - [`evaluate`]: the [`evaluate::Evaluator`] seam: a built-in simulator
//!   in threads ([`evaluate::InProcess`]) or user simulators speaking
//!   protocol v1 in worker processes ([`evaluate::external::WorkerPool`]);
//!   the optimizer and driver never know which.
//! - [`history`]: every sample, queryable by trust region
//!   ([`history::History`]), and the run database that keeps it on disk
//!   ([`history::RunStore`]).
//! - [`surrogate`]: [`surrogate::Surrogate`] -> [`surrogate::FittedSurrogate`],
//!   each family with its settings.
//! - [`optimizer`]: the ask/tell [`optimizer::Optimizer`] trait, L-GSO and
//!   the baselines, each with its settings; the [`optimizer::PsiState`]
//!   every optimizer saves; Adam and the trust-region geometry.
//! - [`driver`]: the loop: hands requests to an evaluator, commits them,
//!   charges the budget, stops, checkpoints, resumes, reports to
//!   [`driver::Observer`]s; what it reports is in [`report`].
//! - [`config`]: the configuration file and its resolution into a
//!   [`config::ResolvedConfig`] of checked, filled-in settings (the paper's
//!   values as defaults); [`check`] holds the value checks.
//! - Supporting modules: [`data`] (matrices, requests, samples), [`seed`]
//!   (every random stream derived from the run seed), [`error`],
//!   [`threads`], and the tools [`bench`](mod@bench) and
//!   [`diagnose`].
//!
//! ## Example
//! ```no_run
//! use lgso::config::Config;
//! use lgso::driver::run_lgso;
//!
//! let mut config = Config::default(); // three hump, the paper's settings
//! config.stop.budget = Some(150_000);
//! let resolved = config.resolve()?;
//! let summary = run_lgso(&resolved, &mut [])?;
//! println!("E[R]: {} -> {} in {} calls", summary.objective_start,
//!          summary.objective_final, summary.calls);
//! # Ok::<(), lgso::Error>(())
//! ```
//!
//! Driving an optimizer yourself (e.g. with your own evaluator) is the
//! ask/tell loop of [`driver::run`]: `ask` -> evaluate -> `History::append`
//! -> `tell`.
#![warn(missing_docs)]

pub mod bench;
pub mod check;
pub mod config;
pub mod data;
pub mod diagnose;
pub mod driver;
pub mod error;
pub mod evaluate;
pub mod history;
pub mod optimizer;
pub mod problem;
pub mod report;
pub mod seed;
pub mod surrogate;
pub mod threads;

pub use error::{Error, Result};
