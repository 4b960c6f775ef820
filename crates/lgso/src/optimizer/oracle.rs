//! The exact-gradient oracle (baselines.md): L-GSO's step, Adam on psi with
//! the projection onto the Euclidean ball of radius eps around the previous
//! psi, taken along the true gradient of `E[R]` instead of a surrogate's.
//! It is charged L-GSO's per-step cost (the draws are made at psi and not
//! used), so that traces compare per simulator call: the ceiling for any
//! gradient estimator with L-GSO's optimizer.

use std::sync::Arc;

use super::{adam_step, norm, Adam, Asked, Optimizer};
use crate::config::ResolvedConfig;
use crate::data::{Outcome, Request};
use crate::error::{Error, Result};
use crate::history::History;
use crate::problem::ExactObjective;
use crate::report::StepReport;

/// Adam on the exact gradient.
pub struct Oracle {
    exact: Arc<dyn ExactObjective>,
    calls: u64,
    eps: Option<f64>,
    psi: Vec<f64>,
    adam: Adam,
    bounds: Option<Vec<(f64, f64)>>,
    iteration: u64,
    asked: Asked,
}

impl Oracle {
    /// The oracle for a resolved configuration: `[lgso]`'s `lr`, `betas`,
    /// `adam_eps`, `eps` and `project`; `[oracle] calls_per_step`.
    ///
    /// # Errors
    /// [`Error::Config`] when the problem has no exact objective.
    pub fn new(cfg: &ResolvedConfig) -> Result<Self> {
        let exact = cfg.problem.exact.clone().ok_or_else(|| {
            Error::config(
                "method",
                "a problem with an exact objective for `oracle`",
                cfg.problem.name,
            )
        })?;
        let l = &cfg.config.lgso;
        let psi = cfg.start().to_vec();
        Ok(Oracle {
            exact,
            calls: cfg.oracle_calls_per_step(),
            eps: l.project.then(|| cfg.eps()),
            adam: Adam::new(psi.len(), cfg.lr(), l.betas[0], l.betas[1], l.adam_eps),
            psi,
            bounds: cfg.bounds().map(<[(f64, f64)]>::to_vec),
            iteration: 0,
            asked: Asked::new(cfg.config.seed),
        })
    }
}

impl Optimizer for Oracle {
    fn name(&self) -> &str {
        "oracle"
    }

    fn ask(&mut self) -> Result<Vec<Request>> {
        if let Some(p) = self.asked.pending() {
            return Ok(p);
        }
        let count = usize::try_from(self.calls).unwrap_or(usize::MAX);
        Ok(self
            .asked
            .ask(self.iteration, std::slice::from_ref(&self.psi), count))
    }

    fn tell(&mut self, outcomes: &[Outcome], _history: &History) -> Result<StepReport> {
        self.asked.answered(outcomes)?;
        let value = self.exact.value(&self.psi);
        let grad = self.exact.gradient(&self.psi);
        let step_length = adam_step(
            "oracle",
            &mut self.adam,
            &mut self.psi,
            &grad,
            self.eps,
            self.bounds.as_deref(),
        )?;
        self.iteration += 1;
        Ok(StepReport {
            grad_norm: norm(&grad),
            step_length,
            surrogate_objective: value,
            ..StepReport::default()
        })
    }

    fn psi(&self) -> &[f64] {
        &self.psi
    }

    fn iteration(&self) -> u64 {
        self.iteration
    }

    fn calls_per_iteration(&self) -> u64 {
        self.calls
    }
}
