//! Numerical differentiation (baselines.md): the gradient of `E[R]` by
//! central finite differences, each function value the mean of `R` over `M`
//! fresh draws, followed by one Adam step on psi.
//!
//! Per step: `2 n` points `psi +- h e_i`, `M` draws each (`2 n M` calls);
//! `g_i = (f(psi + h e_i) - f(psi - h e_i)) / (2 h)` (the 3-point central
//! scheme, error `O(h^2)` plus Monte Carlo noise of standard deviation about
//! `sd(R) / (h sqrt(2 M))`).

use std::sync::Arc;

use super::{adam_step, norm, outcome_means, Adam, Asked, Optimizer};
use crate::config::ResolvedConfig;
use crate::data::{Outcome, Request};
use crate::error::Result;
use crate::history::History;
use crate::problem::Objective;
use crate::report::StepReport;

/// Central finite differences + Adam.
pub struct NumDiff {
    objective: Arc<dyn Objective>,
    step: f64,
    samples: usize,
    psi: Vec<f64>,
    adam: Adam,
    bounds: Option<Vec<(f64, f64)>>,
    iteration: u64,
    asked: Asked,
}

impl NumDiff {
    /// The baseline for a resolved configuration (`[numdiff]` settings),
    /// starting at its start point.
    pub fn new(cfg: &ResolvedConfig) -> Self {
        let c = &cfg.config.numdiff;
        let psi = cfg.start().to_vec();
        NumDiff {
            objective: cfg.problem.objective.clone(),
            step: c.step,
            samples: c.samples,
            adam: Adam::new(psi.len(), c.lr, c.betas[0], c.betas[1], 1e-8),
            psi,
            bounds: cfg.bounds().map(<[(f64, f64)]>::to_vec),
            iteration: 0,
            asked: Asked::new(cfg.config.seed),
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
    fn name(&self) -> &str {
        "numdiff"
    }

    fn ask(&mut self) -> Result<Vec<Request>> {
        if let Some(p) = self.asked.pending() {
            return Ok(p);
        }
        let points = NumDiff::points(&self.psi, self.step);
        Ok(self.asked.ask(self.iteration, &points, self.samples))
    }

    fn tell(&mut self, outcomes: &[Outcome], _history: &History) -> Result<StepReport> {
        self.asked.answered(outcomes)?;
        let values = outcome_means(self.objective.as_ref(), outcomes)?;
        let grad = NumDiff::gradient(&values, self.step);
        let step_length = adam_step(
            "numdiff",
            &mut self.adam,
            &mut self.psi,
            &grad,
            None,
            self.bounds.as_deref(),
        )?;
        self.iteration += 1;
        Ok(StepReport {
            grad_norm: norm(&grad),
            step_length,
            surrogate_objective: values.iter().sum::<f64>() / values.len() as f64,
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
        2 * self.psi.len() as u64 * self.samples as u64
    }
}
