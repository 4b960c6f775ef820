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
use std::sync::Arc;

use rand_distr::{Distribution, StandardNormal};

use super::numdiff::NumDiff;
use super::{adam_step, norm, outcome_means, Adam, Asked, Optimizer};
use crate::config::ResolvedConfig;
use crate::data::{Matrix, Outcome, Request};
use crate::error::Result;
use crate::history::History;
use crate::problem::Objective;
use crate::report::StepReport;
use crate::seed::{derive_seed, rng_from_seed, Rng};

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
    objective: Arc<dyn Objective>,
    seed: u64,
    sigma: f64,
    alpha: f64,
    beta: f64,
    k: usize,
    pairs: usize,
    samples: usize,
    numdiff_guide: bool,
    numdiff_step: f64,
    guides: VecDeque<Vec<f64>>,
    perturbations: Vec<Vec<f64>>,
    psi: Vec<f64>,
    adam: Adam,
    bounds: Option<Vec<(f64, f64)>>,
    iteration: u64,
    asked: Asked,
}

impl Ges {
    /// The baseline for a resolved configuration (`[ges]`; the
    /// finite-difference step of `guide = "numdiff"` is `[numdiff] step`).
    pub fn new(cfg: &ResolvedConfig) -> Self {
        let c = &cfg.config.ges;
        let psi = cfg.start().to_vec();
        Ges {
            objective: cfg.problem.objective.clone(),
            seed: cfg.config.seed,
            sigma: c.sigma2.sqrt(),
            alpha: c.alpha,
            beta: c.beta,
            k: c.k,
            pairs: cfg.ges_pairs(),
            samples: c.samples,
            numdiff_guide: c.guide == "numdiff",
            numdiff_step: cfg.config.numdiff.step,
            guides: VecDeque::new(),
            perturbations: Vec::new(),
            adam: Adam::new(psi.len(), c.lr, c.betas[0], c.betas[1], 1e-8),
            psi,
            bounds: cfg.bounds().map(<[(f64, f64)]>::to_vec),
            iteration: 0,
            asked: Asked::new(cfg.config.seed),
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
    fn name(&self) -> &str {
        "ges"
    }

    fn ask(&mut self) -> Result<Vec<Request>> {
        if let Some(p) = self.asked.pending() {
            return Ok(p);
        }
        let n = self.psi.len();
        let guides: Vec<Vec<f64>> = self.guides.iter().cloned().collect();
        let basis = orthonormal_basis(&guides);
        let mut rng = rng_from_seed(derive_seed(
            self.seed,
            &[PERTURBATION_STREAM, self.iteration],
        ));
        self.perturbations = (0..self.pairs)
            .map(|_| perturbation(self.sigma, self.alpha, n, &basis, &mut rng))
            .collect();
        let mut points = Vec::with_capacity(2 * self.pairs + 2 * n);
        for e in &self.perturbations {
            points.push(self.psi.iter().zip(e).map(|(p, d)| p + d).collect());
            points.push(self.psi.iter().zip(e).map(|(p, d)| p - d).collect());
        }
        if self.numdiff_guide {
            points.extend(NumDiff::points(&self.psi, self.numdiff_step));
        }
        Ok(self.asked.ask(self.iteration, &points, self.samples))
    }

    fn tell(&mut self, outcomes: &[Outcome], _history: &History) -> Result<StepReport> {
        self.asked.answered(outcomes)?;
        let values = outcome_means(self.objective.as_ref(), outcomes)?;
        let (pairs, fd) = values.split_at(2 * self.pairs);
        let plus: Vec<f64> = pairs.iter().step_by(2).copied().collect();
        let minus: Vec<f64> = pairs.iter().skip(1).step_by(2).copied().collect();
        let sigma2 = self.sigma * self.sigma;
        let grad = Ges::gradient(&self.perturbations, &plus, &minus, sigma2, self.beta);
        let guide = if self.numdiff_guide {
            NumDiff::gradient(fd, self.numdiff_step)
        } else {
            grad.clone()
        };
        let step_length = adam_step(
            "ges",
            &mut self.adam,
            &mut self.psi,
            &grad,
            None,
            self.bounds.as_deref(),
        )?;
        if self.k > 0 {
            self.guides.push_front(guide);
            self.guides.truncate(self.k);
        }
        self.iteration += 1;
        Ok(StepReport {
            grad_norm: norm(&grad),
            step_length,
            surrogate_objective: pairs.iter().sum::<f64>() / pairs.len() as f64,
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
        let n = self.psi.len() as u64;
        let extra = if self.numdiff_guide { 2 * n } else { 0 };
        (2 * self.pairs as u64 + extra) * self.samples as u64
    }
}
