//! Numerical differentiation (baselines.md): the gradient of `E[R]` by
//! central finite differences, each function value the mean of `R` over `M`
//! fresh draws, followed by one Adam step on psi.
//!
//! Per step: `2 n` points `psi +- h e_i`, `M` draws each (`2 n M` calls);
//! `g_i = (f(psi + h e_i) - f(psi - h e_i)) / (2 h)` (the 3-point central
//! scheme, error `O(h^2)` plus Monte Carlo noise of standard deviation about
//! `sd(R) / (h sqrt(2 M))`).

use serde::{Deserialize, Serialize};

use super::adam::AdamSettings;
use super::state::Base;
use super::{norm, CallCost, Method, Optimizer, PsiState};
use crate::check::{at_least, at_most, betas, positive, MAX_SAMPLES};
use crate::data::{Outcome, Request};
use crate::error::Result;
use crate::history::History;
use crate::problem::Problem;
use crate::report::StepReport;

/// Numerical differentiation settings (`[numdiff]`; baselines.md): central
/// differences per coordinate, each value the mean of `samples` draws, then
/// one Adam step. Cost per step `2 n samples` calls.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NumDiffSettings {
    /// Finite-difference step `h`. Default 0.1.
    pub step: f64,
    /// Draws averaged per function value (`M`). Default 3000.
    pub samples: usize,
    /// Adam learning rate. Default 0.1.
    pub lr: f64,
    /// Adam betas. Default (0.9, 0.999).
    pub betas: [f64; 2],
}

impl Default for NumDiffSettings {
    fn default() -> Self {
        NumDiffSettings {
            step: 0.1,
            samples: 3000,
            lr: 0.1,
            betas: [0.9, 0.999],
        }
    }
}

impl NumDiffSettings {
    /// Checks every setting (`numdiff.*` keys in messages).
    ///
    /// # Errors
    /// [`crate::Error::Config`] naming the key.
    pub fn validate(&self) -> Result<()> {
        positive("numdiff.step", self.step)?;
        at_least("numdiff.samples", self.samples, 1)?;
        at_most("numdiff.samples", self.samples, MAX_SAMPLES)?;
        positive("numdiff.lr", self.lr)?;
        betas("numdiff.betas", self.betas)
    }

    /// Calls per step for psi of dimension `n`: `2 n M`.
    pub fn cost(&self, n: usize) -> CallCost {
        let (n, m) = (n as u64, self.samples as u64);
        CallCost::each(
            2 * n * m,
            format!("2 n M = 2 * {n} * {m}"),
            "numdiff.samples",
        )
    }
}

/// Central finite differences + Adam.
pub struct NumDiff {
    base: Base,
    settings: NumDiffSettings,
}

impl NumDiff {
    /// The baseline with `settings` on `problem`, from its start point.
    pub fn new(settings: &NumDiffSettings, problem: &Problem, seed: u64) -> Self {
        let adam = AdamSettings::new(settings.lr, settings.betas);
        NumDiff {
            base: Base::new(Method::NumDiff, settings, problem, seed, Some(&adam)),
            settings: settings.clone(),
        }
    }

    /// The `2 n` evaluation points: `psi + h e_0, psi - h e_0, psi + h e_1, ...`.
    pub fn points(psi: &[f64], h: f64) -> Vec<Vec<f64>> {
        let mut points = Vec::with_capacity(2 * psi.len());
        for i in 0..psi.len() {
            for sign in [1.0, -1.0] {
                let mut p = psi.to_vec();
                p[i] += sign * h;
                points.push(p);
            }
        }
        points
    }

    /// The central-difference gradient from values at [`NumDiff::points`]:
    /// `g_i = (f[2i] - f[2i + 1]) / (2 h)`.
    pub fn gradient(values: &[f64], h: f64) -> Vec<f64> {
        values
            .chunks_exact(2)
            .map(|pair| (pair[0] - pair[1]) / (2.0 * h))
            .collect()
    }
}

impl Optimizer for NumDiff {
    fn ask(&mut self) -> Result<Vec<Request>> {
        if let Some(p) = self.base.pending() {
            return Ok(p);
        }
        let points = NumDiff::points(&self.base.state.psi, self.settings.step);
        Ok(self.base.ask(&points, self.settings.samples))
    }

    fn tell(&mut self, outcomes: &[Outcome], _history: &History) -> Result<StepReport> {
        self.base.answered(outcomes)?;
        let values = self.base.means(outcomes)?;
        let grad = NumDiff::gradient(&values, self.settings.step);
        let step_length = self.base.step(&grad, None)?;
        self.base.state.iteration += 1;
        Ok(StepReport {
            grad_norm: norm(&grad),
            step_length,
            surrogate_objective: values.iter().sum::<f64>() / values.len() as f64,
            ..StepReport::default()
        })
    }

    fn state(&self) -> &PsiState {
        &self.base.state
    }

    fn calls_per_iteration(&self) -> u64 {
        self.settings.cost(self.base.state.psi.len()).first
    }

    fn save_state(&self) -> Result<serde_json::Value> {
        self.base.save(&())
    }

    fn restore_state(&mut self, state: &serde_json::Value) -> Result<()> {
        self.base.restore(state, |_: &(), _| true)
    }
}
