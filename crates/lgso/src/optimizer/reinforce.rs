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

use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

use super::adam::AdamSettings;
use super::state::Base;
use super::{norm, CallCost, Method, Optimizer, PsiState};
use crate::check::{at_least, at_most, betas, positive, MAX_SAMPLES};
use crate::data::{Outcome, Request};
use crate::error::{Error, Result};
use crate::history::History;
use crate::problem::Problem;
use crate::report::StepReport;
use crate::seed::{derive_seed, rng_from_seed};

/// REINFORCE settings (`[reinforce]`; "Learning to Simulate", Ruiz et al.
/// 2019; baselines.md): a Gaussian policy `N(psi, sigma^2 I)` over
/// parameters. Cost per step `policy_samples * samples` calls.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReinforceSettings {
    /// Policy variance `sigma^2`. Default 0.05.
    pub sigma2: f64,
    /// Policy samples per step. Default 25.
    pub policy_samples: usize,
    /// Draws averaged per policy sample (`M`). Default 3000.
    pub samples: usize,
    /// Weight of the newest mean reward in the baseline's exponentially
    /// weighted moving average. Default 0.05.
    pub baseline_decay: f64,
    /// Adam learning rate. Default 0.1.
    pub lr: f64,
    /// Adam betas. Default (0.9, 0.999).
    pub betas: [f64; 2],
}

impl Default for ReinforceSettings {
    fn default() -> Self {
        ReinforceSettings {
            sigma2: 0.05,
            policy_samples: 25,
            samples: 3000,
            baseline_decay: 0.05,
            lr: 0.1,
            betas: [0.9, 0.999],
        }
    }
}

impl ReinforceSettings {
    /// Checks every setting (`reinforce.*` keys in messages).
    ///
    /// # Errors
    /// [`Error::Config`] naming the key.
    pub fn validate(&self) -> Result<()> {
        let r = self;
        positive("reinforce.sigma2", r.sigma2)?;
        at_least("reinforce.policy_samples", r.policy_samples, 2)?;
        at_most("reinforce.policy_samples", r.policy_samples, 100_000)?;
        at_least("reinforce.samples", r.samples, 1)?;
        at_most("reinforce.samples", r.samples, MAX_SAMPLES)?;
        if !(r.baseline_decay.is_finite() && r.baseline_decay > 0.0 && r.baseline_decay <= 1.0) {
            return Err(Error::config(
                "reinforce.baseline_decay",
                "a number in (0, 1]",
                r.baseline_decay,
            ));
        }
        positive("reinforce.lr", r.lr)?;
        betas("reinforce.betas", r.betas)
    }

    /// Calls per step: `policy_samples * M`.
    pub fn cost(&self) -> CallCost {
        let (s, m) = (self.policy_samples as u64, self.samples as u64);
        CallCost::each(
            s * m,
            format!("policy_samples * M = {s} * {m}"),
            "reinforce.policy_samples, reinforce.samples",
        )
    }
}

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
    base: Base,
    settings: ReinforceSettings,
    /// The moving-average baseline `b` (saved); `None` before the first
    /// step.
    baseline: Option<f64>,
    /// This iteration's policy samples (drawn again by `ask` after a
    /// restore).
    drawn: Vec<Vec<f64>>,
}

/// What REINFORCE keeps besides its [`PsiState`].
#[derive(Debug, Serialize, Deserialize)]
struct ReinforceState {
    baseline: Option<f64>,
}

impl Reinforce {
    /// The baseline method with `settings` on `problem`, from its start
    /// point.
    pub fn new(settings: &ReinforceSettings, problem: &Problem, seed: u64) -> Self {
        let adam = AdamSettings::new(settings.lr, settings.betas);
        Reinforce {
            base: Base::new(Method::Reinforce, settings, problem, seed, Some(&adam)),
            settings: settings.clone(),
            baseline: None,
            drawn: Vec::new(),
        }
    }
}

impl Optimizer for Reinforce {
    fn ask(&mut self) -> Result<Vec<Request>> {
        if let Some(p) = self.base.pending() {
            return Ok(p);
        }
        let sigma = self.settings.sigma2.sqrt();
        let st = &self.base.state;
        let mut rng = rng_from_seed(derive_seed(st.seed, &[POLICY_STREAM, st.iteration]));
        self.drawn = (0..self.settings.policy_samples)
            .map(|_| {
                st.psi
                    .iter()
                    .map(|p| p + sigma * Distribution::<f64>::sample(&StandardNormal, &mut rng))
                    .collect::<Vec<f64>>()
            })
            .collect();
        Ok(self.base.ask(&self.drawn, self.settings.samples))
    }

    fn tell(&mut self, outcomes: &[Outcome], _history: &History) -> Result<StepReport> {
        self.base.answered(outcomes)?;
        let f = self.base.means(outcomes)?;
        let mean = f.iter().sum::<f64>() / f.len() as f64;
        let baseline = self.baseline.unwrap_or(mean);
        let grad = score_function_gradient(
            &self.base.state.psi,
            &self.drawn,
            &f,
            baseline,
            self.settings.sigma2,
        );
        let step_length = self.base.step(&grad, None)?;
        let decay = self.settings.baseline_decay;
        self.baseline = Some((1.0 - decay) * baseline + decay * mean);
        self.base.state.iteration += 1;
        Ok(StepReport {
            grad_norm: norm(&grad),
            step_length,
            surrogate_objective: mean,
            ..StepReport::default()
        })
    }

    fn state(&self) -> &PsiState {
        &self.base.state
    }

    fn calls_per_iteration(&self) -> u64 {
        self.settings.cost().first
    }

    fn save_state(&self) -> Result<serde_json::Value> {
        self.base.save(&ReinforceState {
            baseline: self.baseline,
        })
    }

    fn restore_state(&mut self, state: &serde_json::Value) -> Result<()> {
        let extra: ReinforceState = self.base.restore(state, |_: &ReinforceState, _| true)?;
        self.baseline = extra.baseline;
        Ok(())
    }
}
