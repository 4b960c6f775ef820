//! Bayesian optimization (baselines.md; the paper compared BOCK, Oh et al.
//! 2018): a Gaussian process on the box `start +- half_width`, expected
//! improvement, one new point per step, each observation the mean of `R`
//! over `M` draws with its own noise variance `s^2 / M` (the sample
//! variance of the draws).
//!
//! What lgso builds: a GP with an isotropic Matern-5/2 kernel on the box
//! scaled to the unit cube, outputs standardized, kernel length scale and
//! signal variance chosen each step by maximizing the log marginal
//! likelihood over a grid (Rasmussen & Williams 2006, eqs. 2.25-2.30 and
//! 4.17), and EI maximized over random candidates in the box plus
//! perturbations of the incumbent. BOCK's cylindrical kernel (a
//! radial/angular warping of the box around its centre) is **not**
//! implemented. The initial design is a Latin hypercube (the reference
//! used a Sobol sequence). psi is the incumbent: the observed point with
//! the lowest posterior mean.
//!
//! Written with nalgebra's Cholesky rather than a GP crate: the maintained
//! GP crates we looked at take one noise level for all observations, while
//! BO here needs a noise variance per observation.

use nalgebra::{DMatrix, DVector};
use rand::Rng as _;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

use super::design::latin_hypercube;
use super::state::Base;
use super::trust_region::distance;
use super::{CallCost, Method, Optimizer, PsiState};
use crate::check::{at_least, at_most, positive, MAX_SAMPLES};
use crate::data::{Outcome, Request};
use crate::error::{Error, Result};
use crate::history::History;
use crate::problem::{mean_and_stderr, objective_values, Problem};
use crate::report::StepReport;
use crate::seed::{derive_seed, rng_from_seed};

/// Bayesian optimization settings (`[bo]`; baselines.md): a GP with
/// expected improvement on the box `start +- half_width`, one point per
/// step after an initial design. Cost: `initial_points * samples` calls in
/// the first step, then `samples` per step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BoSettings {
    /// Half-width of the search box around the start. Default 7.5.
    pub half_width: f64,
    /// Points of the initial design. Default 20.
    pub initial_points: usize,
    /// Draws averaged per point (`M`). Default 3000.
    pub samples: usize,
    /// Random candidates over which expected improvement is maximized each
    /// step. Default 2000.
    pub candidates: usize,
}

impl Default for BoSettings {
    fn default() -> Self {
        BoSettings {
            half_width: 7.5,
            initial_points: 20,
            samples: 3000,
            candidates: 2000,
        }
    }
}

impl BoSettings {
    /// Checks every setting (`bo.*` keys in messages).
    ///
    /// # Errors
    /// [`Error::Config`] naming the key.
    pub fn validate(&self) -> Result<()> {
        let b = self;
        positive("bo.half_width", b.half_width)?;
        at_least("bo.initial_points", b.initial_points, 2)?;
        at_most("bo.initial_points", b.initial_points, 10_000)?;
        at_least("bo.samples", b.samples, 2)?;
        at_most("bo.samples", b.samples, MAX_SAMPLES)?;
        at_least("bo.candidates", b.candidates, 1)?;
        at_most("bo.candidates", b.candidates, 10_000_000)
    }

    /// Calls: `initial_points * M` in the first step, then `M`.
    pub fn cost(&self) -> CallCost {
        let (p, m) = (self.initial_points as u64, self.samples as u64);
        CallCost {
            first: p * m,
            later: m,
            formula: format!("initial_points * M = {p} * {m} in the first step, then M"),
            keys: "bo.initial_points, bo.samples",
        }
    }
}

/// Stream label of BO's designs and candidates.
const BO_STREAM: u64 = 104;

/// The Matern-5/2 kernel `k(r) = v (1 + sqrt(5) r / l + 5 r^2 / (3 l^2)) exp(-sqrt(5) r / l)`
/// (Rasmussen & Williams 2006, eq. 4.17) with `r` the Euclidean distance.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Matern52 {
    /// Length scale `l`.
    pub length_scale: f64,
    /// Signal variance `v`.
    pub variance: f64,
}

impl Matern52 {
    /// `k(a, b)`.
    pub fn k(&self, a: &[f64], b: &[f64]) -> f64 {
        let r = a
            .iter()
            .zip(b)
            .map(|(x, y)| (x - y).powi(2))
            .sum::<f64>()
            .sqrt();
        let s = 5f64.sqrt() * r / self.length_scale;
        self.variance * (1.0 + s + s * s / 3.0) * (-s).exp()
    }
}

/// A fitted Gaussian process with per-observation noise: `K + diag(noise)`
/// factored by Cholesky (Rasmussen & Williams, Algorithm 2.1), zero prior
/// mean.
#[derive(Debug, Clone)]
pub struct Gp {
    kernel: Matern52,
    x: Vec<Vec<f64>>,
    chol: nalgebra::Cholesky<f64, nalgebra::Dyn>,
    alpha: DVector<f64>,
    log_marginal: f64,
}

impl Gp {
    /// Fits the GP to inputs `x` (`p` of `[n]`), outputs `y` (`[p]`) and
    /// noise variances `noise` (`[p]`); a jitter of `1e-10 v` is added to
    /// the diagonal.
    ///
    /// # Errors
    /// [`Error::Protocol`] when `K + diag(noise)` is not positive definite
    /// (not expected for distinct inputs).
    pub fn fit(kernel: Matern52, x: &[Vec<f64>], y: &[f64], noise: &[f64]) -> Result<Gp> {
        let p = x.len();
        let mut k = DMatrix::from_fn(p, p, |i, j| kernel.k(&x[i], &x[j]));
        for i in 0..p {
            k[(i, i)] += noise[i] + 1e-10 * kernel.variance;
        }
        let chol = k
            .cholesky()
            .ok_or_else(|| Error::Protocol("GP covariance is not positive definite".into()))?;
        let yv = DVector::from_column_slice(y);
        let alpha = chol.solve(&yv);
        let log_det: f64 = chol.l().diagonal().iter().map(|d| d.ln()).sum::<f64>() * 2.0;
        let log_marginal = -0.5 * yv.dot(&alpha)
            - 0.5 * log_det
            - 0.5 * p as f64 * (2.0 * std::f64::consts::PI).ln();
        Ok(Gp {
            kernel,
            x: x.to_vec(),
            chol,
            alpha,
            log_marginal,
        })
    }

    /// Log marginal likelihood `log p(y | x)` (eq. 2.30).
    pub fn log_marginal(&self) -> f64 {
        self.log_marginal
    }

    /// Posterior mean and variance of the latent function at `x` (eqs.
    /// 2.25-2.26).
    pub fn predict(&self, x: &[f64]) -> (f64, f64) {
        let ks = DVector::from_iterator(self.x.len(), self.x.iter().map(|xi| self.kernel.k(xi, x)));
        let mean = ks.dot(&self.alpha);
        let v = self.chol.l().solve_lower_triangular(&ks).unwrap_or(ks);
        let var = (self.kernel.variance - v.dot(&v)).max(0.0);
        (mean, var)
    }
}

/// The standard normal CDF `Phi(z) = erfc(-z / sqrt 2) / 2`, with `erfc` by
/// the Chebyshev fit of Numerical Recipes (3rd ed., 6.2.2; relative error
/// below 1.2e-7).
pub fn normal_cdf(z: f64) -> f64 {
    let x = -z / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.5 * x.abs());
    let poly = -x * x - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let erfc_abs = t * poly.exp();
    let erfc = if x >= 0.0 { erfc_abs } else { 2.0 - erfc_abs };
    0.5 * erfc
}

/// Expected improvement below `best` for a Gaussian with `mean` and
/// standard deviation `sd`: `(best - mean) Phi(u) + sd phi(u)`,
/// `u = (best - mean) / sd` (Jones et al. 1998).
pub fn expected_improvement(mean: f64, sd: f64, best: f64) -> f64 {
    if sd <= 0.0 {
        return (best - mean).max(0.0);
    }
    let u = (best - mean) / sd;
    let pdf = (-0.5 * u * u).exp() / (2.0 * std::f64::consts::PI).sqrt();
    (best - mean) * normal_cdf(u) + sd * pdf
}

/// Bayesian optimization with a GP and expected improvement.
pub struct Bo {
    base: Base,
    settings: BoSettings,
    lower: Vec<f64>,
    width: Vec<f64>,
    /// Every observed point, its mean objective and that mean's variance
    /// (saved).
    observed: Vec<Vec<f64>>,
    values: Vec<f64>,
    variances: Vec<f64>,
    /// The GP fitted in the last `tell`, reused by the next `ask` (fitted
    /// again from the observations after a restore).
    model: Option<Gp>,
}

/// What BO keeps besides its [`PsiState`].
#[derive(Debug, Serialize, Deserialize)]
struct BoState {
    observed: Vec<Vec<f64>>,
    values: Vec<f64>,
    variances: Vec<f64>,
}

impl Bo {
    /// BO with `settings` on `problem`, on the box `start +- half_width`,
    /// or on the problem's bounds where it has them.
    pub fn new(settings: &BoSettings, problem: &Problem, seed: u64) -> Self {
        let start = &problem.start;
        let (lower, width) = match &problem.bounds {
            Some(b) => (
                b.iter().map(|&(lo, _)| lo).collect(),
                b.iter().map(|&(lo, hi)| hi - lo).collect(),
            ),
            None => (
                start.iter().map(|p| p - settings.half_width).collect(),
                vec![2.0 * settings.half_width; start.len()],
            ),
        };
        Bo {
            base: Base::new(Method::Bo, settings, problem, seed, None),
            settings: settings.clone(),
            lower,
            width,
            observed: Vec::new(),
            values: Vec::new(),
            variances: Vec::new(),
            model: None,
        }
    }

    fn to_box(&self, u: &[f64]) -> Vec<f64> {
        u.iter()
            .zip(&self.lower)
            .zip(&self.width)
            .map(|((u, l), w)| l + w * u)
            .collect()
    }

    fn to_unit(&self, psi: &[f64]) -> Vec<f64> {
        psi.iter()
            .zip(&self.lower)
            .zip(&self.width)
            .map(|((p, l), w)| (p - l) / w)
            .collect()
    }

    /// The GP on the unit cube with standardized outputs, its kernel chosen
    /// by the largest log marginal likelihood over a grid. Returns the GP,
    /// the output mean and the output scale.
    fn fit(&self) -> Result<(Gp, f64, f64)> {
        let units: Vec<Vec<f64>> = self.observed.iter().map(|p| self.to_unit(p)).collect();
        let (mean, _) = mean_and_stderr(&self.values);
        let var = self.values.iter().map(|v| (v - mean).powi(2)).sum::<f64>()
            / self.values.len().max(1) as f64;
        let scale = if var > 0.0 { var.sqrt() } else { 1.0 };
        let y: Vec<f64> = self.values.iter().map(|v| (v - mean) / scale).collect();
        let noise: Vec<f64> = self.variances.iter().map(|v| v / (scale * scale)).collect();
        let dim_scale = (self.lower.len() as f64).sqrt();
        let mut best: Option<Gp> = None;
        for l in [0.05, 0.1, 0.2, 0.4, 0.8, 1.6] {
            for v in [0.25, 1.0, 4.0] {
                let kernel = Matern52 {
                    length_scale: l * dim_scale,
                    variance: v,
                };
                if let Ok(gp) = Gp::fit(kernel, &units, &y, &noise) {
                    if best
                        .as_ref()
                        .is_none_or(|b| gp.log_marginal() > b.log_marginal())
                    {
                        best = Some(gp);
                    }
                }
            }
        }
        let gp = best.ok_or_else(|| Error::Diverged {
            method: Method::Bo.name().into(),
            detail: "no GP kernel could be fitted".into(),
        })?;
        Ok((gp, mean, scale))
    }
}

impl Optimizer for Bo {
    fn ask(&mut self) -> Result<Vec<Request>> {
        if let Some(p) = self.base.pending() {
            return Ok(p);
        }
        let n = self.lower.len();
        let st = &self.base.state;
        let mut rng = rng_from_seed(derive_seed(st.seed, &[BO_STREAM, st.iteration]));
        let points: Vec<Vec<f64>> = if self.observed.is_empty() {
            let design = latin_hypercube(self.settings.initial_points, n, &mut rng);
            (0..design.rows())
                .map(|i| self.to_box(design.row(i)))
                .collect()
        } else {
            let gp = match self.model.take() {
                Some(gp) => gp,
                None => self.fit()?.0,
            };
            let incumbent = self.to_unit(&self.base.state.psi);
            let best = gp.predict(&incumbent).0;
            let mut top = (f64::NEG_INFINITY, incumbent.clone());
            for c in 0..self.settings.candidates {
                let u: Vec<f64> = if c % 4 == 3 {
                    incumbent
                        .iter()
                        .map(|v| {
                            let z: f64 = Distribution::<f64>::sample(&StandardNormal, &mut rng);
                            (v + 0.05 * z).clamp(0.0, 1.0)
                        })
                        .collect()
                } else {
                    (0..n).map(|_| rng.random_range(0.0..1.0)).collect()
                };
                let (m, var) = gp.predict(&u);
                let ei = expected_improvement(m, var.sqrt(), best);
                if ei > top.0 {
                    top = (ei, u);
                }
            }
            vec![self.to_box(&top.1)]
        };
        Ok(self.base.ask(&points, self.settings.samples))
    }

    fn tell(&mut self, outcomes: &[Outcome], _history: &History) -> Result<StepReport> {
        self.base.answered(outcomes)?;
        for o in outcomes {
            let r = objective_values(self.base.objective.as_ref(), &o.samples)?;
            let (mean, se) = mean_and_stderr(&r);
            if !mean.is_finite() {
                return Err(Error::Diverged {
                    method: Method::Bo.name().into(),
                    detail: format!("the objective at {:?} is {mean}", o.request.psi),
                });
            }
            self.observed.push(o.request.psi.clone());
            self.values.push(mean);
            self.variances
                .push(if se.is_finite() { se * se } else { 0.0 });
        }
        let (gp, mean, scale) = self.fit()?;
        let previous = self.base.state.psi.clone();
        let (mut best_i, mut best_m) = (0, f64::INFINITY);
        for (i, p) in self.observed.iter().enumerate() {
            let m = gp.predict(&self.to_unit(p)).0;
            if m < best_m {
                (best_i, best_m) = (i, m);
            }
        }
        self.base.state.psi = self.observed[best_i].clone();
        self.model = Some(gp);
        self.base.state.iteration += 1;
        Ok(StepReport {
            grad_norm: 0.0,
            step_length: distance(&self.base.state.psi, &previous),
            surrogate_objective: mean + scale * best_m,
            ..StepReport::default()
        })
    }

    fn state(&self) -> &PsiState {
        &self.base.state
    }

    fn calls_per_iteration(&self) -> u64 {
        self.settings.cost().next(self.base.state.iteration)
    }

    fn save_state(&self) -> Result<serde_json::Value> {
        self.base.save(&BoState {
            observed: self.observed.clone(),
            values: self.values.clone(),
            variances: self.variances.clone(),
        })
    }

    fn restore_state(&mut self, state: &serde_json::Value) -> Result<()> {
        let s: BoState = self.base.restore(state, |s: &BoState, n| {
            s.values.len() == s.observed.len()
                && s.variances.len() == s.observed.len()
                && s.observed.iter().all(|p| p.len() == n)
        })?;
        self.observed = s.observed;
        self.values = s.values;
        self.variances = s.variances;
        self.model = None;
        Ok(())
    }
}
