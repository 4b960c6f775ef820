//! Guided evolutionary strategies (Maheswaranathan et al., "Guided
//! evolutionary strategies", ICML 2019; baselines.md).
//!
//! Each step draws `P` antithetic perturbations `eps ~ N(0, sigma^2 C)` with
//! `C = (alpha / n) I + ((1 - alpha) / k) U U^T`, `U` (`[n, k]`) an
//! orthonormal basis of the last `k` guiding gradients, evaluates the mean
//! objective (`M` draws) at `psi +- eps` and estimates
//! `g = beta / (2 sigma^2 P) sum_i eps_i (f(psi + eps_i) - f(psi - eps_i))`
//! (their Algorithm 1), then takes one Adam step.
//!
//! The guiding gradients are GES's own earlier estimates (`guide = "past"`,
//! no extra calls), or, as in the authors' baseline script, a
//! central-difference gradient paid every step (`guide = "numdiff"`,
//! `2 n M` more calls). Until the first guiding gradient exists `C = I / n`.

use std::collections::VecDeque;

use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

use super::adam::AdamSettings;
use super::numdiff::NumDiff;
use super::state::Base;
use super::{norm, CallCost, Method, Optimizer, PsiState};
use crate::check::{at_least, at_most, betas, positive, MAX_SAMPLES};
use crate::data::{Matrix, Outcome, Request};
use crate::error::{Error, Result};
use crate::history::History;
use crate::problem::Problem;
use crate::report::StepReport;
use crate::seed::{derive_seed, rng_from_seed, Rng};

/// Guided evolutionary strategies (`[ges]`; Maheswaranathan et al. 2019;
/// baselines.md) as written in a configuration. Cost per step
/// `2 P samples` calls, plus `2 n samples` with `guide = "numdiff"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GesConfig {
    /// Perturbation variance scale `sigma^2`. Default 0.01.
    pub sigma2: f64,
    /// Weight of the isotropic part of the covariance, in [0, 1]. Default 0.5.
    pub alpha: f64,
    /// Gradient scale `beta`. Default 2.
    pub beta: f64,
    /// Past gradients spanning the guiding subspace. Default 20.
    pub k: usize,
    /// Antithetic pairs `P` per step. Default: the dimension of psi (the
    /// reference's 2, 10, 100, 91).
    pub pairs: Option<usize>,
    /// Draws averaged per function value (`M`). Default 3000.
    pub samples: usize,
    /// Guiding gradients: `past` (GES's own earlier estimates, no extra
    /// calls) or `numdiff` (a central-difference gradient each step with
    /// `[numdiff] step`, as the authors' script did, charged `2 n samples`
    /// calls). Default `past`.
    pub guide: String,
    /// Adam learning rate. Default 0.1.
    pub lr: f64,
    /// Adam betas. Default (0.9, 0.999).
    pub betas: [f64; 2],
}

impl Default for GesConfig {
    fn default() -> Self {
        GesConfig {
            sigma2: 0.01,
            alpha: 0.5,
            beta: 2.0,
            k: 20,
            pairs: None,
            samples: 3000,
            guide: "past".into(),
            lr: 0.1,
            betas: [0.9, 0.999],
        }
    }
}

/// Where GES's guiding gradients come from.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub enum GesGuide {
    /// Its own earlier estimates (no extra calls).
    Past,
    /// A central-difference gradient with step `h` every step.
    NumDiff {
        /// The finite-difference step `h` (`[numdiff] step`).
        step: f64,
    },
}

/// GES settings with every default filled in ([`GesConfig::resolve`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GesSettings {
    /// Perturbation variance scale `sigma^2`.
    pub sigma2: f64,
    /// Weight of the isotropic part of the covariance.
    pub alpha: f64,
    /// Gradient scale `beta`.
    pub beta: f64,
    /// Past gradients spanning the guiding subspace.
    pub k: usize,
    /// Antithetic pairs `P` per step.
    pub pairs: usize,
    /// Draws averaged per function value (`M`).
    pub samples: usize,
    /// The guiding gradients.
    pub guide: GesGuide,
    /// Adam on psi.
    pub adam: AdamSettings,
}

impl GesConfig {
    /// Checks every setting and fills the defaults for psi of dimension
    /// `n`; `numdiff_step` is `[numdiff] step`, used with
    /// `guide = "numdiff"`.
    ///
    /// # Errors
    /// [`Error::Config`] naming the key (`ges.*`).
    pub fn resolve(&self, n: usize, numdiff_step: f64) -> Result<GesSettings> {
        let g = self;
        positive("ges.sigma2", g.sigma2)?;
        if !(g.alpha.is_finite() && (0.0..=1.0).contains(&g.alpha)) {
            return Err(Error::config("ges.alpha", "a number in [0, 1]", g.alpha));
        }
        positive("ges.beta", g.beta)?;
        at_most("ges.k", g.k, 10_000)?;
        if let Some(p) = g.pairs {
            at_least("ges.pairs", p, 1)?;
            at_most("ges.pairs", p, 100_000)?;
        }
        at_least("ges.samples", g.samples, 1)?;
        at_most("ges.samples", g.samples, MAX_SAMPLES)?;
        let guide = match g.guide.as_str() {
            "past" => GesGuide::Past,
            "numdiff" => GesGuide::NumDiff { step: numdiff_step },
            other => {
                return Err(Error::config(
                    "ges.guide",
                    "\"past\" or \"numdiff\"",
                    format!("{other:?}"),
                ))
            }
        };
        positive("ges.lr", g.lr)?;
        betas("ges.betas", g.betas)?;
        Ok(GesSettings {
            sigma2: g.sigma2,
            alpha: g.alpha,
            beta: g.beta,
            k: g.k,
            pairs: g.pairs.unwrap_or(n),
            samples: g.samples,
            guide,
            adam: AdamSettings::new(g.lr, g.betas),
        })
    }
}

impl GesSettings {
    /// Calls per step for psi of dimension `n`: `2 P M`, or `2 (P + n) M`
    /// with the numdiff guide.
    pub fn cost(&self, n: usize) -> CallCost {
        let (n, m, p) = (n as u64, self.samples as u64, self.pairs as u64);
        let keys = "ges.pairs, ges.samples";
        match self.guide {
            GesGuide::NumDiff { .. } => CallCost::each(
                2 * (p + n) * m,
                format!("2 (P + n) M = 2 * ({p} + {n}) * {m}"),
                keys,
            ),
            GesGuide::Past => CallCost::each(2 * p * m, format!("2 P M = 2 * {p} * {m}"), keys),
        }
    }
}

/// Stream label of GES's perturbations (distinct from the library's).
const PERTURBATION_STREAM: u64 = 101;

/// An orthonormal basis of the span of `vectors` (each `[n]`), by modified
/// Gram-Schmidt in the given order; vectors (nearly) in the span of the
/// earlier ones (residual below `1e-10` of their norm) are dropped.
pub fn orthonormal_basis(vectors: &[Vec<f64>]) -> Vec<Vec<f64>> {
    let mut basis: Vec<Vec<f64>> = Vec::new();
    for v in vectors {
        let original = norm(v);
        if original == 0.0 || !original.is_finite() {
            continue;
        }
        let mut r = v.clone();
        for b in &basis {
            let dot: f64 = r.iter().zip(b).map(|(a, c)| a * c).sum();
            r.iter_mut().zip(b).for_each(|(a, c)| *a -= dot * c);
        }
        let rest = norm(&r);
        if rest > 1e-10 * original {
            r.iter_mut().for_each(|a| *a /= rest);
            basis.push(r);
        }
    }
    basis
}

/// The search covariance `C = (alpha / n) I + ((1 - alpha) / k) U U^T`
/// (`[n, n]`) for an orthonormal `basis` of `k` vectors (`C = I / n` when
/// `k = 0`). `trace(C) = 1`.
pub fn covariance(alpha: f64, n: usize, basis: &[Vec<f64>]) -> Matrix {
    let mut c = Matrix::zeros(n, n);
    let k = basis.len();
    let iso = if k == 0 {
        1.0 / n as f64
    } else {
        alpha / n as f64
    };
    for i in 0..n {
        c.row_mut(i)[i] = iso;
    }
    if k > 0 {
        let w = (1.0 - alpha) / k as f64;
        for u in basis {
            for i in 0..n {
                for j in 0..n {
                    c.row_mut(i)[j] += w * u[i] * u[j];
                }
            }
        }
    }
    c
}

/// One perturbation `eps ~ N(0, sigma^2 C)` for the covariance of
/// [`covariance`]: `eps = sigma (sqrt(alpha / n) z + sqrt((1 - alpha) / k) U w)`
/// with `z ~ N(0, I_n)`, `w ~ N(0, I_k)`.
pub fn perturbation(
    sigma: f64,
    alpha: f64,
    n: usize,
    basis: &[Vec<f64>],
    rng: &mut Rng,
) -> Vec<f64> {
    let k = basis.len();
    let iso = if k == 0 {
        1.0 / n as f64
    } else {
        alpha / n as f64
    }
    .sqrt();
    let mut eps: Vec<f64> = (0..n)
        .map(|_| sigma * iso * Distribution::<f64>::sample(&StandardNormal, rng))
        .collect::<Vec<f64>>();
    if k > 0 {
        let sub = ((1.0 - alpha) / k as f64).sqrt();
        for u in basis {
            let w: f64 = Distribution::<f64>::sample(&StandardNormal, rng);
            eps.iter_mut()
                .zip(u)
                .for_each(|(e, ui)| *e += sigma * sub * w * ui);
        }
    }
    eps
}

/// Guided ES with Adam.
pub struct Ges {
    base: Base,
    settings: GesSettings,
    /// The last `k` guiding gradients, newest first (saved).
    guides: VecDeque<Vec<f64>>,
    /// This iteration's perturbations (drawn again by `ask` after a
    /// restore, from the seed and the iteration).
    perturbations: Vec<Vec<f64>>,
}

/// What GES keeps besides its [`PsiState`].
#[derive(Debug, Serialize, Deserialize)]
struct GesState {
    guides: VecDeque<Vec<f64>>,
}

impl Ges {
    /// The baseline with `settings` on `problem`, from its start point.
    pub fn new(settings: &GesSettings, problem: &Problem, seed: u64) -> Self {
        Ges {
            base: Base::new(Method::Ges, settings, problem, seed, Some(&settings.adam)),
            settings: settings.clone(),
            guides: VecDeque::new(),
            perturbations: Vec::new(),
        }
    }

    /// The GES gradient `beta / (2 sigma^2 P) sum_i eps_i (f_i^+ - f_i^-)`
    /// from perturbations `eps` (`P` of `[n]`) and values at `psi + eps_i`
    /// (`plus`) and `psi - eps_i` (`minus`).
    pub fn gradient(
        eps: &[Vec<f64>],
        plus: &[f64],
        minus: &[f64],
        sigma2: f64,
        beta: f64,
    ) -> Vec<f64> {
        let n = eps.first().map_or(0, Vec::len);
        let scale = beta / (2.0 * sigma2 * eps.len() as f64);
        let mut g = vec![0.0; n];
        for ((e, fp), fm) in eps.iter().zip(plus).zip(minus) {
            g.iter_mut()
                .zip(e)
                .for_each(|(gi, ei)| *gi += scale * ei * (fp - fm));
        }
        g
    }
}

impl Optimizer for Ges {
    fn ask(&mut self) -> Result<Vec<Request>> {
        if let Some(p) = self.base.pending() {
            return Ok(p);
        }
        let s = &self.settings;
        let psi = &self.base.state.psi;
        let n = psi.len();
        let guides: Vec<Vec<f64>> = self.guides.iter().cloned().collect();
        let basis = orthonormal_basis(&guides);
        let mut rng = rng_from_seed(derive_seed(
            self.base.state.seed,
            &[PERTURBATION_STREAM, self.base.state.iteration],
        ));
        let sigma = s.sigma2.sqrt();
        self.perturbations = (0..s.pairs)
            .map(|_| perturbation(sigma, s.alpha, n, &basis, &mut rng))
            .collect();
        let mut points = Vec::with_capacity(2 * s.pairs + 2 * n);
        for e in &self.perturbations {
            points.push(psi.iter().zip(e).map(|(p, d)| p + d).collect());
            points.push(psi.iter().zip(e).map(|(p, d)| p - d).collect());
        }
        if let GesGuide::NumDiff { step } = s.guide {
            points.extend(NumDiff::points(psi, step));
        }
        let samples = s.samples;
        Ok(self.base.ask(&points, samples))
    }

    fn tell(&mut self, outcomes: &[Outcome], _history: &History) -> Result<StepReport> {
        self.base.answered(outcomes)?;
        let values = self.base.means(outcomes)?;
        let s = &self.settings;
        let (pairs, fd) = values.split_at(2 * s.pairs);
        let plus: Vec<f64> = pairs.iter().step_by(2).copied().collect();
        let minus: Vec<f64> = pairs.iter().skip(1).step_by(2).copied().collect();
        let sigma = s.sigma2.sqrt();
        let grad = Ges::gradient(&self.perturbations, &plus, &minus, sigma * sigma, s.beta);
        let guide = match s.guide {
            GesGuide::NumDiff { step } => NumDiff::gradient(fd, step),
            GesGuide::Past => grad.clone(),
        };
        let k = s.k;
        let step_length = self.base.step(&grad, None)?;
        if k > 0 {
            self.guides.push_front(guide);
            self.guides.truncate(k);
        }
        self.base.state.iteration += 1;
        Ok(StepReport {
            grad_norm: norm(&grad),
            step_length,
            surrogate_objective: pairs.iter().sum::<f64>() / pairs.len() as f64,
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
        self.base.save(&GesState {
            guides: self.guides.clone(),
        })
    }

    fn restore_state(&mut self, state: &serde_json::Value) -> Result<()> {
        let extra: GesState = self.base.restore(state, |s: &GesState, n| {
            s.guides.iter().all(|g| g.len() == n)
        })?;
        self.guides = extra.guides;
        Ok(())
    }
}
