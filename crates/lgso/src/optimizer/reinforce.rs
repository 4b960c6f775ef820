//! REINFORCE with a moving-average baseline, the score-function estimator of
//! "Learning to Simulate" (Ruiz, Schulter & Chandraker, ICLR 2019;
//! baselines.md).
//!
//! A Gaussian policy `pi(psi') = N(psi, sigma^2 I)` over parameters; each
//! step draws `S` policy samples `psi_s = psi + sigma z_s`, estimates
//! `f_s`, the mean objective over `M` draws at `psi_s`, and uses
//! `g = (1 / S) sum_s (f_s - b) (psi_s - psi) / sigma^2`
//! (`grad_psi log pi(psi_s) = (psi_s - psi) / sigma^2`), an unbiased
//! estimate of the gradient of the smoothed objective `E_pi[f]`. The
//! baseline `b` is an exponentially weighted moving average of the batch
//! means: `b <- (1 - d) b + d mean_s f_s` after each step, started at the
//! first batch's mean. One Adam step on psi follows.

use std::sync::Arc;

use rand_distr::{Distribution, StandardNormal};

use super::{adam_step, norm, outcome_means, Adam, Asked, Optimizer};
use crate::config::ResolvedConfig;
use crate::data::{Outcome, Request};
use crate::error::Result;
use crate::history::History;
use crate::problem::Objective;
use crate::report::StepReport;
use crate::seed::{derive_seed, rng_from_seed};

/// Stream label of the policy samples.
const POLICY_STREAM: u64 = 102;

/// The score-function gradient `(1 / S) sum_s (f_s - b) (psi_s - psi) / sigma^2`
/// for policy samples `samples` (`S` of `[n]`) around `psi` with values `f`.
pub fn score_function_gradient(
    psi: &[f64],
    samples: &[Vec<f64>],
    f: &[f64],
    baseline: f64,
    sigma2: f64,
) -> Vec<f64> {
    let mut g = vec![0.0; psi.len()];
    let scale = 1.0 / (samples.len() as f64 * sigma2);
    for (s, fs) in samples.iter().zip(f) {
        for ((gi, si), pi) in g.iter_mut().zip(s).zip(psi) {
            *gi += scale * (fs - baseline) * (si - pi);
        }
    }
    g
}

/// REINFORCE with Adam.
pub struct Reinforce {
    objective: Arc<dyn Objective>,
    seed: u64,
    sigma2: f64,
    policy_samples: usize,
    samples: usize,
    decay: f64,
    baseline: Option<f64>,
    drawn: Vec<Vec<f64>>,
    psi: Vec<f64>,
    adam: Adam,
    bounds: Option<Vec<(f64, f64)>>,
    iteration: u64,
    asked: Asked,
}

impl Reinforce {
    /// The baseline method for a resolved configuration (`[reinforce]`).
    pub fn new(cfg: &ResolvedConfig) -> Self {
        let c = &cfg.config.reinforce;
        let psi = cfg.start().to_vec();
        Reinforce {
            objective: cfg.problem.objective.clone(),
            seed: cfg.config.seed,
            sigma2: c.sigma2,
            policy_samples: c.policy_samples,
            samples: c.samples,
            decay: c.baseline_decay,
            baseline: None,
            drawn: Vec::new(),
            adam: Adam::new(psi.len(), c.lr, c.betas[0], c.betas[1], 1e-8),
            psi,
            bounds: cfg.bounds().map(<[(f64, f64)]>::to_vec),
            iteration: 0,
            asked: Asked::new(cfg.config.seed),
        }
    }
}

impl Optimizer for Reinforce {
    fn name(&self) -> &str {
        "reinforce"
    }

    fn ask(&mut self) -> Result<Vec<Request>> {
        if let Some(p) = self.asked.pending() {
            return Ok(p);
        }
        let sigma = self.sigma2.sqrt();
        let mut rng = rng_from_seed(derive_seed(self.seed, &[POLICY_STREAM, self.iteration]));
        self.drawn = (0..self.policy_samples)
            .map(|_| {
                self.psi
                    .iter()
                    .map(|p| p + sigma * Distribution::<f64>::sample(&StandardNormal, &mut rng))
                    .collect::<Vec<f64>>()
            })
            .collect();
        Ok(self.asked.ask(self.iteration, &self.drawn, self.samples))
    }

    fn tell(&mut self, outcomes: &[Outcome], _history: &History) -> Result<StepReport> {
        self.asked.answered(outcomes)?;
        let f = outcome_means(self.objective.as_ref(), outcomes)?;
        let mean = f.iter().sum::<f64>() / f.len() as f64;
        let baseline = self.baseline.unwrap_or(mean);
        let grad = score_function_gradient(&self.psi, &self.drawn, &f, baseline, self.sigma2);
        let step_length = adam_step(
            "reinforce",
            &mut self.adam,
            &mut self.psi,
            &grad,
            None,
            self.bounds.as_deref(),
        )?;
        self.baseline = Some((1.0 - self.decay) * baseline + self.decay * mean);
        self.iteration += 1;
        Ok(StepReport {
            grad_norm: norm(&grad),
            step_length,
            surrogate_objective: mean,
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
        self.policy_samples as u64 * self.samples as u64
    }
}
