//! LAX, "backprop through the void" (Grathwohl, Choi, Wu, Roeder &
//! Duvenaud, ICLR 2018, section 3.1 and Algorithm 1; baselines.md): a
//! score-function gradient with a learned neural control variate.
//!
//! The policy over parameters is `N(mu, diag(sigma^2))` with
//! `theta = (mu, log sigma)` both learned; psi is `mu`. Each step draws `K`
//! samples `b = mu + sigma * e`, `e ~ N(0, I)`, estimates `f(b)` as the mean
//! of `R` over `M` draws, and forms, per sample,
//! `g_theta = (f(b) - c(b)) d/dtheta log p(b | theta) + d/dtheta c(b)`
//! with `d log p / d mu = e / sigma`, `d log p / d log sigma = e^2 - 1`,
//! `d c / d mu = grad_b c(b)` and `d c / d log sigma = grad_b c(b) * sigma * e`
//! (reparameterization). `g_theta` is unbiased for any `c`; `c` is trained
//! to reduce its variance by Adam on `d/dphi ||g_theta||^2` (eq. 5 of the
//! paper). `c_phi(b) = w2 . tanh(W1 b + b1) + b2` with 10 hidden units
//! (baselines.md); its input gradient and the mixed second derivatives the
//! variance gradient needs are written out by hand (see
//! [`ControlVariate::variance_gradient`]), checked against finite
//! differences in the tests.

use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

use super::adam::{adam_step, Adam, AdamSettings};
use super::state::Base;
use super::trust_region::distance;
use super::{norm, CallCost, Method, Optimizer, PsiState};
use crate::check::{at_least, at_most, betas, positive, MAX_SAMPLES};
use crate::data::{Outcome, Request};
use crate::error::{Error, Result};
use crate::history::History;
use crate::problem::Problem;
use crate::report::StepReport;
use crate::seed::{derive_seed, rng_from_seed, Rng};

/// LAX settings (`[lax]`; "backprop through the void", Grathwohl et al.
/// 2018; baselines.md): a Gaussian policy with learned mean and log
/// standard deviation, a score-function gradient with a learned control
/// variate (psi -> 10 tanh -> 1). Cost per step `policy_samples * samples`
/// calls.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LaxSettings {
    /// Initial policy variance `sigma^2` (every coordinate). Default 0.05
    /// (as REINFORCE's).
    pub sigma2: f64,
    /// Policy samples `K` per step. Default 1 (baselines.md).
    pub policy_samples: usize,
    /// Draws averaged per policy sample (`M`). Default 3000.
    pub samples: usize,
    /// Adam learning rate of the policy (mean and log sigma). Default 0.1.
    pub lr: f64,
    /// Adam betas of the policy. Default (0.9, 0.999).
    pub betas: [f64; 2],
    /// Adam learning rate of the control variate. Default 0.01
    /// (baselines.md).
    pub control_variate_lr: f64,
}

impl Default for LaxSettings {
    fn default() -> Self {
        LaxSettings {
            sigma2: 0.05,
            policy_samples: 1,
            samples: 3000,
            lr: 0.1,
            betas: [0.9, 0.999],
            control_variate_lr: 0.01,
        }
    }
}

impl LaxSettings {
    /// Checks every setting (`lax.*` keys in messages).
    ///
    /// # Errors
    /// [`Error::Config`] naming the key.
    pub fn validate(&self) -> Result<()> {
        let x = self;
        positive("lax.sigma2", x.sigma2)?;
        at_least("lax.policy_samples", x.policy_samples, 1)?;
        at_most("lax.policy_samples", x.policy_samples, 100_000)?;
        at_least("lax.samples", x.samples, 1)?;
        at_most("lax.samples", x.samples, MAX_SAMPLES)?;
        positive("lax.lr", x.lr)?;
        betas("lax.betas", x.betas)?;
        positive("lax.control_variate_lr", x.control_variate_lr)
    }

    /// Calls per step: `policy_samples * M`.
    pub fn cost(&self) -> CallCost {
        let (k, m) = (self.policy_samples as u64, self.samples as u64);
        CallCost::each(
            k * m,
            format!("policy_samples * M = {k} * {m}"),
            "lax.policy_samples, lax.samples",
        )
    }
}

/// Stream label of the policy samples.
const LAX_STREAM: u64 = 105;

/// Hidden units of the control variate (baselines.md: psi -> 10 tanh -> 1).
pub const HIDDEN: usize = 10;

/// The control variate `c(b) = w2 . tanh(W1 b + b1) + b2`, `W1: [H, n]`,
/// with its parameters `phi` flattened as `[W1 (row-major), b1, w2, b2]`.
#[derive(Debug, Clone, PartialEq)]
pub struct ControlVariate {
    /// Input dimension `n`.
    pub n: usize,
    /// Flattened parameters `phi`, `[H n + H + H + 1]`.
    pub phi: Vec<f64>,
}

impl ControlVariate {
    /// A network with `W1 ~ N(0, 1 / n)`, `w2 ~ N(0, 1 / H)`, zero biases.
    pub fn new(n: usize, rng: &mut Rng) -> Self {
        let mut phi = vec![0.0; HIDDEN * n + 2 * HIDDEN + 1];
        let s1 = 1.0 / (n as f64).sqrt();
        for w in &mut phi[..HIDDEN * n] {
            *w = s1 * Distribution::<f64>::sample(&StandardNormal, rng);
        }
        let s2 = 1.0 / (HIDDEN as f64).sqrt();
        for w in &mut phi[HIDDEN * n + HIDDEN..HIDDEN * n + 2 * HIDDEN] {
            *w = s2 * Distribution::<f64>::sample(&StandardNormal, rng);
        }
        ControlVariate { n, phi }
    }

    fn w1(&self, k: usize, j: usize) -> f64 {
        self.phi[k * self.n + j]
    }
    fn b1(&self, k: usize) -> f64 {
        self.phi[HIDDEN * self.n + k]
    }
    fn w2(&self, k: usize) -> f64 {
        self.phi[HIDDEN * self.n + HIDDEN + k]
    }

    fn hidden(&self, b: &[f64]) -> Vec<f64> {
        (0..HIDDEN)
            .map(|k| (self.b1(k) + (0..self.n).map(|j| self.w1(k, j) * b[j]).sum::<f64>()).tanh())
            .collect()
    }

    /// `c(b)`.
    pub fn value(&self, b: &[f64]) -> f64 {
        let h = self.hidden(b);
        (0..HIDDEN).map(|k| self.w2(k) * h[k]).sum::<f64>() + self.phi[self.phi.len() - 1]
    }

    /// `grad_b c(b) = W1^T (w2 * (1 - h^2))`, `[n]`.
    pub fn input_gradient(&self, b: &[f64]) -> Vec<f64> {
        let h = self.hidden(b);
        (0..self.n)
            .map(|j| {
                (0..HIDDEN)
                    .map(|k| self.w1(k, j) * self.w2(k) * (1.0 - h[k] * h[k]))
                    .sum()
            })
            .collect()
    }

    /// The LAX estimate for one sample `b = mu + sigma e` with value `f`:
    /// `[g_mu (n), g_log_sigma (n)]`.
    pub fn estimate(&self, f: f64, b: &[f64], e: &[f64], sigma: &[f64]) -> Vec<f64> {
        let c = self.value(b);
        let grad = self.input_gradient(b);
        let n = self.n;
        let mut g = vec![0.0; 2 * n];
        for j in 0..n {
            g[j] = (f - c) * e[j] / sigma[j] + grad[j];
            g[n + j] = (f - c) * (e[j] * e[j] - 1.0) + grad[j] * sigma[j] * e[j];
        }
        g
    }

    /// `d/dphi ||g||^2 = 2 sum_i g_i dg_i/dphi` for the estimate `g` of
    /// [`ControlVariate::estimate`] at one sample, with
    /// `dg_mu_j/dphi = -s_j dc/dphi + dG_j/dphi`,
    /// `dg_logsigma_j/dphi = -t_j dc/dphi + sigma_j e_j dG_j/dphi`,
    /// `s_j = e_j / sigma_j`, `t_j = e_j^2 - 1`, `G = grad_b c`, and, with
    /// `a_k = 1 - h_k^2`: `dc/dW1_kl = w2_k a_k b_l`, `dc/db1_k = w2_k a_k`,
    /// `dc/dw2_k = h_k`, `dc/db2 = 1`; `dG_j/dW1_kl = [j = l] w2_k a_k
    /// - 2 W1_kj w2_k h_k a_k b_l`, `dG_j/db1_k = -2 W1_kj w2_k h_k a_k`,
    /// `dG_j/dw2_k = W1_kj a_k`, `dG_j/db2 = 0`.
    pub fn variance_gradient(&self, f: f64, b: &[f64], e: &[f64], sigma: &[f64]) -> Vec<f64> {
        let n = self.n;
        let g = self.estimate(f, b, e, sigma);
        let h = self.hidden(b);
        // u_j = 2 g_mu_j + 2 g_ls_j sigma_j e_j multiplies dG_j/dphi;
        // r = -2 sum_j (g_mu_j s_j + g_ls_j t_j) multiplies dc/dphi.
        let u: Vec<f64> = (0..n)
            .map(|j| 2.0 * g[j] + 2.0 * g[n + j] * sigma[j] * e[j])
            .collect();
        let r: f64 = -2.0
            * (0..n)
                .map(|j| g[j] * e[j] / sigma[j] + g[n + j] * (e[j] * e[j] - 1.0))
                .sum::<f64>();
        let mut out = vec![0.0; self.phi.len()];
        for k in 0..HIDDEN {
            let a = 1.0 - h[k] * h[k];
            let w2 = self.w2(k);
            // sum_j u_j W1_kj
            let uw: f64 = (0..n).map(|j| u[j] * self.w1(k, j)).sum();
            for l in 0..n {
                out[k * n + l] =
                    r * w2 * a * b[l] + u[l] * w2 * a - 2.0 * uw * w2 * h[k] * a * b[l];
            }
            out[HIDDEN * n + k] = r * w2 * a - 2.0 * uw * w2 * h[k] * a;
            out[HIDDEN * n + HIDDEN + k] = r * h[k] + uw * a;
        }
        let last = out.len() - 1;
        out[last] = r;
        out
    }
}

/// LAX with Adam on `(mu, log sigma)` (the [`PsiState`]'s Adam, `[2n]`)
/// and on the control variate.
pub struct Lax {
    base: Base,
    settings: LaxSettings,
    log_sigma: Vec<f64>,
    cv: ControlVariate,
    cv_adam: Adam,
    /// This iteration's policy samples `(b, e)` (drawn again by `ask`
    /// after a restore).
    drawn: Vec<(Vec<f64>, Vec<f64>)>,
}

/// What LAX keeps besides its [`PsiState`].
#[derive(Debug, Serialize, Deserialize)]
struct LaxState {
    log_sigma: Vec<f64>,
    control_variate: Vec<f64>,
    control_variate_adam: Adam,
}

impl Lax {
    /// LAX with `settings` on `problem`, from its start point.
    pub fn new(settings: &LaxSettings, problem: &Problem, seed: u64) -> Self {
        let n = problem.start.len();
        let mut rng = rng_from_seed(derive_seed(seed, &[LAX_STREAM, u64::MAX]));
        let cv = ControlVariate::new(n, &mut rng);
        let policy = AdamSettings::new(settings.lr, settings.betas);
        let mut base = Base::new(Method::Lax, settings, problem, seed, None);
        base.state.adam = Some(policy.adam(2 * n));
        Lax {
            base,
            log_sigma: vec![0.5 * settings.sigma2.ln(); n],
            cv_adam: AdamSettings::new(settings.control_variate_lr, [0.9, 0.999])
                .adam(cv.phi.len()),
            cv,
            settings: settings.clone(),
            drawn: Vec::new(),
        }
    }

    /// The policy's standard deviations, `[n]`.
    pub fn sigma(&self) -> Vec<f64> {
        self.log_sigma.iter().map(|l| l.exp()).collect()
    }
}

impl Optimizer for Lax {
    fn ask(&mut self) -> Result<Vec<Request>> {
        if let Some(p) = self.base.pending() {
            return Ok(p);
        }
        let sigma = self.sigma();
        let st = &self.base.state;
        let mut rng = rng_from_seed(derive_seed(st.seed, &[LAX_STREAM, st.iteration]));
        self.drawn = (0..self.settings.policy_samples)
            .map(|_| {
                let e: Vec<f64> = (0..st.psi.len())
                    .map(|_| Distribution::<f64>::sample(&StandardNormal, &mut rng))
                    .collect();
                let b = st
                    .psi
                    .iter()
                    .zip(&sigma)
                    .zip(&e)
                    .map(|((m, s), e)| m + s * e)
                    .collect();
                (b, e)
            })
            .collect();
        let points: Vec<Vec<f64>> = self.drawn.iter().map(|(b, _)| b.clone()).collect();
        Ok(self.base.ask(&points, self.settings.samples))
    }

    fn tell(&mut self, outcomes: &[Outcome], _history: &History) -> Result<StepReport> {
        self.base.answered(outcomes)?;
        let f = self.base.means(outcomes)?;
        let n = self.base.state.psi.len();
        let sigma = self.sigma();
        let k = self.drawn.len() as f64;
        let mut g = vec![0.0; 2 * n];
        let mut dphi = vec![0.0; self.cv.phi.len()];
        for ((b, e), fs) in self.drawn.iter().zip(&f) {
            let gs = self.cv.estimate(*fs, b, e, &sigma);
            g.iter_mut().zip(&gs).for_each(|(a, v)| *a += v / k);
            let vs = self.cv.variance_gradient(*fs, b, e, &sigma);
            dphi.iter_mut().zip(&vs).for_each(|(a, v)| *a += v / k);
        }
        // theta = (mu, log sigma), one Adam step; then the control variate.
        let st = &mut self.base.state;
        let mut theta: Vec<f64> = st.psi.iter().chain(&self.log_sigma).copied().collect();
        let policy_adam = st
            .adam
            .as_mut()
            .ok_or_else(|| Error::Protocol("lax has no policy Adam".into()))?;
        adam_step(Method::Lax.name(), policy_adam, &mut theta, &g, None, None)?;
        if let Some(bad) = dphi.iter().find(|v| !v.is_finite()) {
            return Err(Error::Diverged {
                method: Method::Lax.name().into(),
                detail: format!("the control-variate gradient holds {bad}"),
            });
        }
        self.cv_adam.step(&mut self.cv.phi, &dphi);
        let previous = st.psi.clone();
        st.psi.copy_from_slice(&theta[..n]);
        // keep sigma in [1e-6, 1e3] so that a collapsing or exploding
        // policy stays finite
        for (l, t) in self.log_sigma.iter_mut().zip(&theta[n..]) {
            *l = t.clamp(1e-6f64.ln(), 1e3f64.ln());
        }
        st.iteration += 1;
        Ok(StepReport {
            grad_norm: norm(&g[..n]),
            step_length: distance(&st.psi, &previous),
            surrogate_objective: f.iter().sum::<f64>() / k,
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
        self.base.save(&LaxState {
            log_sigma: self.log_sigma.clone(),
            control_variate: self.cv.phi.clone(),
            control_variate_adam: self.cv_adam.clone(),
        })
    }

    fn restore_state(&mut self, state: &serde_json::Value) -> Result<()> {
        let phi = self.cv.phi.len();
        let s: LaxState = self.base.restore(state, |s: &LaxState, n| {
            let a = &s.control_variate_adam;
            s.log_sigma.len() == n
                && s.control_variate.len() == phi
                && a.m.len() == phi
                && a.v.len() == phi
        })?;
        self.log_sigma = s.log_sigma;
        self.cv.phi = s.control_variate;
        self.cv_adam = s.control_variate_adam;
        Ok(())
    }
}
