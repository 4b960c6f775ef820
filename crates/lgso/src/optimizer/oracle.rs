//! The exact-gradient oracle (baselines.md): L-GSO's step, Adam on psi with
//! the projection onto the Euclidean ball of radius eps around the previous
//! psi, taken along the true gradient of `E[R]` instead of a surrogate's.
//! It is charged L-GSO's per-step cost (the draws are made at psi and not
//! used), so that traces compare per simulator call: the ceiling for any
//! gradient estimator with L-GSO's optimizer.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::adam::AdamSettings;
use super::lgso::LgsoSettings;
use super::state::Base;
use super::{norm, CallCost, Method, Optimizer, PsiState};
use crate::data::{Outcome, Request};
use crate::error::{Error, Result};
use crate::history::History;
use crate::problem::{ExactObjective, Problem};
use crate::report::StepReport;

/// Exact-gradient oracle settings as written (`[oracle]`): L-GSO's step
/// (Adam with `[lgso]`'s `lr`, `betas`, `adam_eps`, the projection onto the
/// eps ball) on the true gradient of `E[R]`, charged L-GSO's per-step cost.
/// The ceiling for any gradient estimator (baselines.md).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OracleConfig {
    /// Calls charged per step (drawn at psi, unused). Default: L-GSO's
    /// `(N + 1) M`.
    pub calls_per_step: Option<u64>,
}

/// The oracle's settings with every default filled in
/// ([`OracleConfig::resolve`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OracleSettings {
    /// Calls charged per step.
    pub calls_per_step: u64,
    /// L-GSO's Adam on psi.
    pub adam: AdamSettings,
    /// L-GSO's projection radius eps, if it projects.
    pub project: Option<f64>,
}

impl OracleConfig {
    /// Checks `calls_per_step` and takes L-GSO's step settings from
    /// `lgso`.
    ///
    /// # Errors
    /// [`Error::Config`] (key `oracle.calls_per_step`) for 0.
    pub fn resolve(&self, lgso: &LgsoSettings) -> Result<OracleSettings> {
        if self.calls_per_step == Some(0) {
            return Err(Error::config(
                "oracle.calls_per_step",
                "an integer >= 1 (simulator calls)",
                0,
            ));
        }
        Ok(OracleSettings {
            calls_per_step: self.calls_per_step.unwrap_or_else(|| lgso.cost().first),
            adam: lgso.adam,
            project: lgso.project.then_some(lgso.eps),
        })
    }
}

impl OracleSettings {
    /// Calls per step: `oracle.calls_per_step`.
    pub fn cost(&self) -> CallCost {
        CallCost::each(
            self.calls_per_step,
            "oracle.calls_per_step".to_string(),
            "oracle.calls_per_step",
        )
    }
}

/// Adam on the exact gradient.
pub struct Oracle {
    base: Base,
    settings: OracleSettings,
    exact: Arc<dyn ExactObjective>,
}

impl Oracle {
    /// The oracle with `settings` on `problem`, from its start point.
    ///
    /// # Errors
    /// [`Error::Config`] when the problem has no exact objective.
    pub fn new(settings: &OracleSettings, problem: &Problem, seed: u64) -> Result<Self> {
        let exact = problem.exact.clone().ok_or_else(|| {
            Error::config(
                "method",
                "a problem with an exact objective for `oracle`",
                problem.name,
            )
        })?;
        Ok(Oracle {
            base: Base::new(
                Method::Oracle,
                settings,
                problem,
                seed,
                Some(&settings.adam),
            ),
            settings: settings.clone(),
            exact,
        })
    }
}

impl Optimizer for Oracle {
    fn ask(&mut self) -> Result<Vec<Request>> {
        if let Some(p) = self.base.pending() {
            return Ok(p);
        }
        let count = usize::try_from(self.settings.calls_per_step).unwrap_or(usize::MAX);
        let psi = self.base.state.psi.clone();
        Ok(self.base.ask(&[psi], count))
    }

    fn tell(&mut self, outcomes: &[Outcome], _history: &History) -> Result<StepReport> {
        self.base.answered(outcomes)?;
        let psi = &self.base.state.psi;
        let value = self.exact.value(psi);
        let grad = self.exact.gradient(psi);
        let step_length = self.base.step(&grad, self.settings.project)?;
        self.base.state.iteration += 1;
        Ok(StepReport {
            grad_norm: norm(&grad),
            step_length,
            surrogate_objective: value,
            ..StepReport::default()
        })
    }

    fn state(&self) -> &PsiState {
        &self.base.state
    }

    fn calls_per_iteration(&self) -> u64 {
        self.settings.calls_per_step
    }

    fn save_state(&self) -> Result<serde_json::Value> {
        self.base.save(&())
    }

    fn restore_state(&mut self, state: &serde_json::Value) -> Result<()> {
        self.base.restore(state, |_: &(), _| true)
    }
}
