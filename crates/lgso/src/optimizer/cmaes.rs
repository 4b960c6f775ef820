//! CMA-ES (Hansen, "The CMA Evolution Strategy: A Tutorial",
//! arXiv:1604.00772, 2016): the `(mu/mu_w, lambda)` strategy with
//! cumulative step-size adaptation and rank-one plus rank-mu covariance
//! updates, default parameters of the tutorial's Table 1 (positive
//! recombination weights only). Each candidate's value is the mean of `R`
//! over `M` draws; psi is the distribution mean `m`.
//!
//! Written here rather than taken from a crate: the CMA-ES crates we found
//! draw from an unseeded thread RNG (runs could not be reproduced from the
//! run seed) or in `f32`. The eigendecomposition of `C` uses nalgebra.

use nalgebra::{DMatrix, DVector, SymmetricEigen};
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

use super::state::Base;
use super::trust_region::clamp_to_bounds;
use super::{CallCost, Method, Optimizer, PsiState};
use crate::check::{at_least, at_most, positive, MAX_SAMPLES};
use crate::data::{Outcome, Request};
use crate::error::{Error, Result};
use crate::history::History;
use crate::problem::Problem;
use crate::report::StepReport;
use crate::seed::{derive_seed, rng_from_seed};

/// CMA-ES as written in a configuration (`[cmaes]`): Hansen's
/// `(mu/mu_w, lambda)` strategy with the default weights; each candidate's
/// value is the mean of `samples` draws. Cost per step `lambda * samples`
/// calls.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CmaesConfig {
    /// Initial step size `sigma`. Default 0.5.
    pub sigma: f64,
    /// Population size `lambda`. Default `4 + floor(3 ln n)` (Hansen's
    /// rule, [`default_population`]).
    pub population: Option<usize>,
    /// Draws averaged per candidate (`M`). Default 3000.
    pub samples: usize,
}

impl Default for CmaesConfig {
    fn default() -> Self {
        CmaesConfig {
            sigma: 0.5,
            population: None,
            samples: 3000,
        }
    }
}

/// CMA-ES settings with every default filled in
/// ([`CmaesConfig::resolve`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CmaesSettings {
    /// Initial step size `sigma`.
    pub sigma: f64,
    /// Population size `lambda`.
    pub population: usize,
    /// Draws averaged per candidate (`M`).
    pub samples: usize,
}

/// Hansen's default CMA-ES population for dimension `n`: `4 + floor(3 ln n)`
/// (Hansen 2016, Table 1).
pub fn default_population(n: usize) -> usize {
    4 + (3.0 * (n.max(1) as f64).ln()).floor() as usize
}

impl CmaesConfig {
    /// Checks every setting and fills the population for psi of
    /// dimension `n`.
    ///
    /// # Errors
    /// [`Error::Config`] naming the key (`cmaes.*`).
    pub fn resolve(&self, n: usize) -> Result<CmaesSettings> {
        positive("cmaes.sigma", self.sigma)?;
        if let Some(l) = self.population {
            at_least("cmaes.population", l, 2)?;
            at_most("cmaes.population", l, 100_000)?;
        }
        at_least("cmaes.samples", self.samples, 1)?;
        at_most("cmaes.samples", self.samples, MAX_SAMPLES)?;
        Ok(CmaesSettings {
            sigma: self.sigma,
            population: self.population.unwrap_or_else(|| default_population(n)),
            samples: self.samples,
        })
    }
}

impl CmaesSettings {
    /// Calls per step: `lambda * M`.
    pub fn cost(&self) -> CallCost {
        let (l, m) = (self.population as u64, self.samples as u64);
        CallCost::each(
            l * m,
            format!("lambda * M = {l} * {m}"),
            "cmaes.population, cmaes.samples",
        )
    }
}

/// Stream label of the candidate draws.
const CANDIDATE_STREAM: u64 = 103;

/// The strategy parameters of Hansen's Table 1 for dimension `n` and
/// population `lambda`.
#[derive(Debug, Clone, PartialEq)]
pub struct CmaesParameters {
    /// Parents `mu = floor(lambda / 2)`.
    pub mu: usize,
    /// Recombination weights `w_i ∝ ln((lambda + 1) / 2) - ln i`, summing
    /// to 1, `[mu]`.
    pub weights: Vec<f64>,
    /// Variance-effective selection mass `1 / sum w_i^2`.
    pub mu_eff: f64,
    /// Step-size cumulation `c_sigma = (mu_eff + 2) / (n + mu_eff + 5)`.
    pub c_sigma: f64,
    /// Step-size damping `d_sigma = 1 + 2 max(0, sqrt((mu_eff - 1) / (n + 1)) - 1) + c_sigma`.
    pub d_sigma: f64,
    /// Covariance cumulation `c_c = (4 + mu_eff / n) / (n + 4 + 2 mu_eff / n)`.
    pub c_c: f64,
    /// Rank-one learning rate `c_1 = 2 / ((n + 1.3)^2 + mu_eff)`.
    pub c_1: f64,
    /// Rank-mu learning rate
    /// `c_mu = min(1 - c_1, 2 (mu_eff - 2 + 1 / mu_eff) / ((n + 2)^2 + mu_eff))`.
    pub c_mu: f64,
    /// `E||N(0, I)|| ~ sqrt(n) (1 - 1 / (4 n) + 1 / (21 n^2))`.
    pub chi_n: f64,
}

impl CmaesParameters {
    /// Table 1 of the tutorial for dimension `n >= 1` and `lambda >= 2`.
    pub fn new(n: usize, lambda: usize) -> Self {
        let nf = n as f64;
        let mu = (lambda / 2).max(1);
        let raw: Vec<f64> = (1..=mu)
            .map(|i| ((lambda as f64 + 1.0) / 2.0).ln() - (i as f64).ln())
            .collect();
        let total: f64 = raw.iter().sum();
        let weights: Vec<f64> = raw.iter().map(|w| w / total).collect();
        let mu_eff = 1.0 / weights.iter().map(|w| w * w).sum::<f64>();
        let c_sigma = (mu_eff + 2.0) / (nf + mu_eff + 5.0);
        let d_sigma = 1.0 + 2.0 * (((mu_eff - 1.0) / (nf + 1.0)).sqrt() - 1.0).max(0.0) + c_sigma;
        let c_c = (4.0 + mu_eff / nf) / (nf + 4.0 + 2.0 * mu_eff / nf);
        let c_1 = 2.0 / ((nf + 1.3).powi(2) + mu_eff);
        let c_mu =
            (1.0 - c_1).min(2.0 * (mu_eff - 2.0 + 1.0 / mu_eff) / ((nf + 2.0).powi(2) + mu_eff));
        let chi_n = nf.sqrt() * (1.0 - 1.0 / (4.0 * nf) + 1.0 / (21.0 * nf * nf));
        CmaesParameters {
            mu,
            weights,
            mu_eff,
            c_sigma,
            d_sigma,
            c_c,
            c_1,
            c_mu,
            chi_n,
        }
    }
}

/// CMA-ES: mean `m` (= psi), step size `sigma`, covariance `C = B D^2 B^T`,
/// evolution paths `p_sigma`, `p_c`.
pub struct Cmaes {
    base: Base,
    settings: CmaesSettings,
    params: CmaesParameters,
    sigma: f64,
    c: DMatrix<f64>,
    b: DMatrix<f64>,
    d: DVector<f64>,
    p_sigma: DVector<f64>,
    p_c: DVector<f64>,
    /// This iteration's candidate steps `y_k` (drawn again by `ask` after
    /// a restore).
    steps: Vec<DVector<f64>>,
}

/// What CMA-ES keeps besides its [`PsiState`] (matrices column-major).
#[derive(Debug, Serialize, Deserialize)]
struct CmaesState {
    sigma: f64,
    c: Vec<f64>,
    b: Vec<f64>,
    d: Vec<f64>,
    p_sigma: Vec<f64>,
    p_c: Vec<f64>,
}

impl Cmaes {
    /// CMA-ES with `settings` on `problem`, started at its start point with
    /// `C = I`.
    pub fn new(settings: &CmaesSettings, problem: &Problem, seed: u64) -> Self {
        let n = problem.start.len();
        Cmaes {
            base: Base::new(Method::Cmaes, settings, problem, seed, None),
            settings: settings.clone(),
            params: CmaesParameters::new(n, settings.population),
            sigma: settings.sigma,
            c: DMatrix::identity(n, n),
            b: DMatrix::identity(n, n),
            d: DVector::from_element(n, 1.0),
            p_sigma: DVector::zeros(n),
            p_c: DVector::zeros(n),
            steps: Vec::new(),
        }
    }

    /// The current step size `sigma`.
    pub fn sigma(&self) -> f64 {
        self.sigma
    }

    /// The current covariance `C`, row-major `[n * n]`.
    pub fn covariance(&self) -> Vec<f64> {
        let n = self.base.state.psi.len();
        (0..n * n).map(|k| self.c[(k / n, k % n)]).collect()
    }

    /// Moves the distribution given candidate steps `y_k` (`x_k = m + sigma y_k`)
    /// and their values (Hansen's tutorial, eqs. 39-47 with positive
    /// weights only). Returns the mean step length `sigma ||y_w||`.
    fn update(&mut self, values: &[f64]) -> Result<f64> {
        let n = self.base.state.psi.len();
        let p = &self.params;
        let mut order: Vec<usize> = (0..values.len()).collect();
        order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
        let mut y_w = DVector::zeros(n);
        for (w, &k) in p.weights.iter().zip(&order) {
            y_w += &self.steps[k] * *w;
        }
        // C^{-1/2} y_w = B D^{-1} B^T y_w
        let d_inv = self.d.map(|v| 1.0 / v);
        let c_inv_half_y = &self.b * d_inv.component_mul(&(self.b.transpose() * &y_w));
        self.p_sigma = &self.p_sigma * (1.0 - p.c_sigma)
            + c_inv_half_y * (p.c_sigma * (2.0 - p.c_sigma) * p.mu_eff).sqrt();
        let ps_norm = self.p_sigma.norm();
        let generations = self.base.state.iteration as f64 + 1.0;
        let h_sigma = ps_norm / (1.0 - (1.0 - p.c_sigma).powf(2.0 * generations)).sqrt()
            < (1.4 + 2.0 / (n as f64 + 1.0)) * p.chi_n;
        let h = if h_sigma { 1.0 } else { 0.0 };
        self.p_c =
            &self.p_c * (1.0 - p.c_c) + &y_w * (h * (p.c_c * (2.0 - p.c_c) * p.mu_eff).sqrt());
        let delta_h = (1.0 - h) * p.c_c * (2.0 - p.c_c);
        let mut rank_mu = DMatrix::zeros(n, n);
        for (w, &k) in p.weights.iter().zip(&order) {
            let y = &self.steps[k];
            rank_mu += y * y.transpose() * *w;
        }
        let new_c = &self.c * (1.0 + p.c_1 * delta_h - p.c_1 - p.c_mu)
            + &self.p_c * self.p_c.transpose() * p.c_1
            + rank_mu * p.c_mu;
        let new_sigma = self.sigma * ((p.c_sigma / p.d_sigma) * (ps_norm / p.chi_n - 1.0)).exp();
        let step: Vec<f64> = y_w.iter().map(|v| self.sigma * v).collect();
        let new_mean: Vec<f64> = self
            .base
            .state
            .psi
            .iter()
            .zip(&step)
            .map(|(m, s)| m + s)
            .collect();
        if !new_sigma.is_finite()
            || new_sigma <= 0.0
            || new_c.iter().any(|v| !v.is_finite())
            || new_mean.iter().any(|v| !v.is_finite())
        {
            return Err(Error::Diverged {
                method: Method::Cmaes.name().into(),
                detail: format!(
                    "the update produced sigma = {new_sigma} or a non-finite mean or covariance"
                ),
            });
        }
        // Symmetrize, then decompose C = B D^2 B^T.
        let sym = (&new_c + new_c.transpose()) * 0.5;
        let eig = SymmetricEigen::new(sym.clone());
        self.d = eig.eigenvalues.map(|v| v.max(1e-300).sqrt());
        self.b = eig.eigenvectors;
        self.c = sym;
        self.sigma = new_sigma;
        self.base.state.psi = new_mean;
        Ok(step.iter().map(|s| s * s).sum::<f64>().sqrt())
    }
}

impl Optimizer for Cmaes {
    fn ask(&mut self) -> Result<Vec<Request>> {
        if let Some(p) = self.base.pending() {
            return Ok(p);
        }
        let st = &self.base.state;
        let mean = &st.psi;
        let n = mean.len();
        let mut rng = rng_from_seed(derive_seed(st.seed, &[CANDIDATE_STREAM, st.iteration]));
        self.steps = (0..self.settings.population)
            .map(|_| {
                let z = DVector::from_fn(n, |_, _| {
                    Distribution::<f64>::sample(&StandardNormal, &mut rng)
                });
                &self.b * self.d.component_mul(&z)
            })
            .collect();
        let mut points: Vec<Vec<f64>> = self
            .steps
            .iter()
            .map(|y| {
                mean.iter()
                    .zip(y.iter())
                    .map(|(m, v)| m + self.sigma * v)
                    .collect()
            })
            .collect();
        if let Some(b) = &self.base.bounds {
            // repair: a candidate outside the bounds is clamped onto them
            // and the update uses the clamped point (its step is rewritten)
            for (p, y) in points.iter_mut().zip(self.steps.iter_mut()) {
                if clamp_to_bounds(p, b) {
                    for (j, v) in y.iter_mut().enumerate() {
                        *v = (p[j] - mean[j]) / self.sigma;
                    }
                }
            }
        }
        Ok(self.base.ask(&points, self.settings.samples))
    }

    fn tell(&mut self, outcomes: &[Outcome], _history: &History) -> Result<StepReport> {
        self.base.answered(outcomes)?;
        let values = self.base.means(outcomes)?;
        let step_length = self.update(&values)?;
        self.base.state.iteration += 1;
        Ok(StepReport {
            grad_norm: 0.0,
            step_length,
            surrogate_objective: values.iter().copied().fold(f64::INFINITY, f64::min),
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
        self.base.save(&CmaesState {
            sigma: self.sigma,
            c: self.c.as_slice().to_vec(),
            b: self.b.as_slice().to_vec(),
            d: self.d.as_slice().to_vec(),
            p_sigma: self.p_sigma.as_slice().to_vec(),
            p_c: self.p_c.as_slice().to_vec(),
        })
    }

    fn restore_state(&mut self, state: &serde_json::Value) -> Result<()> {
        let n = self.base.state.psi.len();
        let s: CmaesState = self.base.restore(state, |s: &CmaesState, n| {
            s.c.len() == n * n
                && s.b.len() == n * n
                && [&s.d, &s.p_sigma, &s.p_c].iter().all(|v| v.len() == n)
        })?;
        self.sigma = s.sigma;
        self.c = DMatrix::from_column_slice(n, n, &s.c);
        self.b = DMatrix::from_column_slice(n, n, &s.b);
        self.d = DVector::from_column_slice(&s.d);
        self.p_sigma = DVector::from_column_slice(&s.p_sigma);
        self.p_c = DVector::from_column_slice(&s.p_c);
        Ok(())
    }
}
