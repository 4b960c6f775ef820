//! L-GSO as an ask/tell state machine (paper, Algorithm 1; lgso.md
//! "One iteration").
//!
//! `ask` draws the trust-region design around psi (N Latin-hypercube points
//! in `[psi - eps, psi + eps]` plus psi) and requests M samples at each.
//! `tell` takes the samples in the trust region (new and, with
//! `reuse_history`, earlier ones), fits a fresh surrogate, estimates
//! `grad E[R]` through it from K samples, takes one Adam step and projects
//! it onto the Euclidean ball of radius eps around the previous psi.

use std::sync::Arc;
use std::time::Instant;

use rand::seq::index::sample as sample_indices;

use super::{project_to_ball, Adam, Optimizer};
use crate::config::ResolvedConfig;
use crate::data::{Outcome, Request};
use crate::design::{clamp_to_bounds, clip_design, trust_region_design};
use crate::error::{Error, Result};
use crate::history::History;
use crate::problem::{Objective, Simulator};
use crate::report::StepReport;
use crate::seed::{derive_seed, rng_from_seed, stream};
use crate::surrogate::{pathwise_gradient, Surrogate};

/// L-GSO settings and state.
pub struct Lgso {
    simulator: Arc<dyn Simulator>,
    objective: Arc<dyn Objective>,
    surrogate: Box<dyn Surrogate>,
    seed: u64,
    n_points: usize,
    eps: f64,
    samples_per_point: usize,
    gradient_samples: usize,
    reuse_optimizer: bool,
    reuse_history: bool,
    max_train_samples: usize,
    project: bool,
    psi: Vec<f64>,
    adam: Adam,
    iteration: u64,
    pending: Option<Vec<Request>>,
    bounds: Option<Vec<(f64, f64)>>,
}

/// What [`Lgso::save_state`](Optimizer::save_state) writes: everything that
/// changes between iterations. Every random stream of iteration `t` is
/// derived from `(seed, stream, t)` ([`crate::seed::derive_seed`]), so the
/// seed and the iteration are the RNG state.
#[derive(serde::Serialize, serde::Deserialize)]
struct LgsoState {
    method: String,
    psi: Vec<f64>,
    adam: Adam,
    iteration: u64,
    seed: u64,
}

impl std::fmt::Debug for Lgso {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lgso")
            .field("psi", &self.psi)
            .field("iteration", &self.iteration)
            .finish()
    }
}

impl Lgso {
    /// L-GSO for a resolved configuration, starting at its start point, with
    /// the given surrogate family.
    pub fn new(cfg: &ResolvedConfig, surrogate: Box<dyn Surrogate>) -> Self {
        let l = &cfg.config.lgso;
        let psi = cfg.start().to_vec();
        Lgso {
            simulator: cfg.problem.simulator.clone(),
            objective: cfg.problem.objective.clone(),
            surrogate,
            seed: cfg.config.seed,
            n_points: cfg.n_points(),
            eps: cfg.eps(),
            samples_per_point: cfg.samples_per_point(),
            gradient_samples: l.gradient_samples,
            reuse_optimizer: l.reuse_optimizer,
            reuse_history: l.reuse_history,
            max_train_samples: l.max_train_samples,
            project: l.project,
            adam: Adam::new(psi.len(), cfg.lr(), l.betas[0], l.betas[1], l.adam_eps),
            psi,
            iteration: 0,
            pending: None,
            bounds: cfg.bounds().map(<[(f64, f64)]>::to_vec),
        }
    }

    /// The Adam state on psi.
    pub fn adam(&self) -> &Adam {
        &self.adam
    }
}

impl Optimizer for Lgso {
    fn name(&self) -> &str {
        "lgso"
    }

    fn ask(&mut self) -> Result<Vec<Request>> {
        if let Some(p) = &self.pending {
            return Ok(p.clone());
        }
        let it = self.iteration;
        let mut rng = rng_from_seed(derive_seed(self.seed, &[stream::DESIGN, it]));
        let mut design = trust_region_design(&self.psi, self.eps, self.n_points, &mut rng);
        if let Some(b) = &self.bounds {
            clip_design(&mut design, &self.psi, self.eps, b);
        }
        let requests: Vec<Request> = (0..design.rows())
            .map(|i| Request {
                id: (it << 20) + i as u64,
                iteration: it,
                psi: design.row(i).to_vec(),
                count: self.samples_per_point,
                seed: derive_seed(self.seed, &[stream::REQUEST, it, i as u64]),
            })
            .collect();
        self.pending = Some(requests.clone());
        Ok(requests)
    }

    fn tell(&mut self, outcomes: &[Outcome], history: &History) -> Result<StepReport> {
        super::take_answered(&mut self.pending, outcomes)?;
        let it = self.iteration;
        // Training data: every stored sample in the trust region (this
        // iteration's and, with reuse, earlier ones), capped at random.
        let mut idx = if self.reuse_history {
            history.in_box_indices(&self.psi, self.eps)
        } else {
            (0..history.len())
                .filter(|&i| history.iteration_of(i) == it)
                .collect()
        };
        if idx.len() > self.max_train_samples {
            let mut rng = rng_from_seed(derive_seed(self.seed, &[stream::REUSE, it]));
            let keep = sample_indices(&mut rng, idx.len(), self.max_train_samples);
            let mut kept: Vec<usize> = keep.into_iter().map(|j| idx[j]).collect();
            kept.sort_unstable();
            idx = kept;
        }
        let reused = idx
            .iter()
            .filter(|&&i| history.iteration_of(i) != it)
            .count();
        let data = history.samples().select(&idx);

        let t_fit = Instant::now();
        let mut fit_rng = rng_from_seed(derive_seed(self.seed, &[stream::FIT, it]));
        let fitted = self.surrogate.fit(&data, &mut fit_rng)?;
        let seconds_fit = t_fit.elapsed().as_secs_f64();

        let t_grad = Instant::now();
        let mut grad_rng = rng_from_seed(derive_seed(self.seed, &[stream::GRADIENT, it]));
        let x = if self.simulator.samples_x() {
            self.simulator
                .sample_x(self.gradient_samples, &mut grad_rng)
        } else {
            // x ~ q(x) does not depend on psi: resample the inputs the
            // simulator drew for the training data (its empirical q(x)).
            if data.is_empty() {
                return Err(Error::Surrogate(
                    "no samples in the trust region to train on (every request failed)".into(),
                ));
            }
            let rows: Vec<usize> = (0..self.gradient_samples)
                .map(|_| rand::Rng::random_range(&mut grad_rng, 0..data.len()))
                .collect();
            data.x.select_rows(&rows)
        };
        let (value, grad) = pathwise_gradient(
            fitted.as_ref(),
            self.objective.as_ref(),
            &self.psi,
            &x,
            &mut grad_rng,
        )?;
        let seconds_gradient = t_grad.elapsed().as_secs_f64();

        if !self.reuse_optimizer {
            self.adam.reset();
        }
        let previous = self.psi.clone();
        self.adam.step(&mut self.psi, &grad);
        if self.project {
            project_to_ball(&mut self.psi, &previous, self.eps);
        }
        if let Some(b) = &self.bounds {
            clamp_to_bounds(&mut self.psi, b);
        }
        if let Some(bad) = self.psi.iter().find(|v| !v.is_finite()) {
            let bad = *bad;
            self.psi = previous;
            return Err(Error::Surrogate(format!(
                "the Adam step produced a non-finite psi ({bad}); psi is kept at the previous value"
            )));
        }
        let step_length = super::trust_region::distance(&self.psi, &previous);
        self.iteration += 1;
        Ok(StepReport {
            grad_norm: grad.iter().map(|g| g * g).sum::<f64>().sqrt(),
            step_length,
            train_samples: data.len(),
            reused_samples: reused,
            seconds_fit,
            seconds_gradient,
            surrogate_objective: value,
        })
    }

    fn psi(&self) -> &[f64] {
        &self.psi
    }

    fn iteration(&self) -> u64 {
        self.iteration
    }

    fn calls_per_iteration(&self) -> u64 {
        (self.n_points as u64 + 1) * self.samples_per_point as u64
    }

    fn save_state(&self) -> Option<serde_json::Value> {
        serde_json::to_value(LgsoState {
            method: "lgso".into(),
            psi: self.psi.clone(),
            adam: self.adam.clone(),
            iteration: self.iteration,
            seed: self.seed,
        })
        .ok()
    }

    fn restore_state(&mut self, state: &serde_json::Value) -> Result<()> {
        let s: LgsoState = serde_json::from_value(state.clone())
            .map_err(|e| Error::Protocol(format!("saved lgso state does not parse: {e}")))?;
        if s.method != "lgso" || s.psi.len() != self.psi.len() || s.seed != self.seed {
            return Err(Error::Protocol(format!(
                "saved state is of method {} with {} parameters and seed {}, expected lgso with {} and seed {}",
                s.method,
                s.psi.len(),
                s.seed,
                self.psi.len(),
                self.seed
            )));
        }
        self.psi = s.psi;
        self.adam = s.adam;
        self.iteration = s.iteration;
        self.pending = None;
        Ok(())
    }

    fn tolerates_missing(&self) -> bool {
        true
    }
}
