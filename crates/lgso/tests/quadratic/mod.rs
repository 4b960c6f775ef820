//! Shared by the optimizer tests (conformance.rs, baselines.rs): the noisy
//! quadratic. psi in R^3, `x ~ N(0, 1)`, `y = ||psi - 1||^2 + 0.1 x`,
//! `R = y`, so `E[R] = ||psi - 1||^2` (minimum 0 at psi = 1) and every draw
//! is one counted simulator call. Start (3, -1, 2): `E[R] = 4 + 4 + 1 = 9`.

#![allow(dead_code)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use candle_core::Tensor;
use lgso::config::{Config, ResolvedConfig};
use lgso::data::Matrix;
use lgso::driver::Observer;
use lgso::problem::{Dims, ExactObjective, Objective, Problem, ProblemDefaults, Simulator};
use lgso::report::IterationReport;
use lgso::seed::Rng;
use rand_distr::{Distribution, StandardNormal};

/// The start point; `E[R] = 9` there.
pub const START: [f64; 3] = [3.0, -1.0, 2.0];

/// The noisy quadratic, counting its draws and recording the psi of every
/// request it simulates.
pub struct NoisyQuadratic {
    /// Draws made (simulator calls).
    pub calls: AtomicU64,
    /// The psi of every request simulated, in any order.
    pub asked: Mutex<Vec<Vec<f64>>>,
}

impl Simulator for NoisyQuadratic {
    fn name(&self) -> &str {
        "noisy-quadratic"
    }
    fn dims(&self) -> Dims {
        Dims { psi: 3, x: 1, y: 1 }
    }
    fn sample_x(&self, count: usize, rng: &mut Rng) -> Matrix {
        let v = (0..count)
            .map(|_| Distribution::<f64>::sample(&StandardNormal, rng))
            .collect();
        Matrix::from_vec(count, 1, v).unwrap()
    }
    fn simulate(&self, psi: &[f64], x: &Matrix, _rng: &mut Rng) -> lgso::Result<Matrix> {
        self.calls.fetch_add(x.rows() as u64, Ordering::SeqCst);
        self.asked.lock().unwrap().push(psi.to_vec());
        let q: f64 = psi.iter().map(|p| (p - 1.0).powi(2)).sum();
        Matrix::from_vec(
            x.rows(),
            1,
            (0..x.rows()).map(|i| q + 0.1 * x.get(i, 0)).collect(),
        )
    }
}

impl ExactObjective for NoisyQuadratic {
    fn value(&self, psi: &[f64]) -> f64 {
        psi.iter().map(|p| (p - 1.0).powi(2)).sum()
    }
    fn gradient(&self, psi: &[f64]) -> Vec<f64> {
        psi.iter().map(|p| 2.0 * (p - 1.0)).collect()
    }
}

/// R = y.
pub struct Identity;
impl Objective for Identity {
    fn per_sample(&self, y: &Tensor, _x: &Tensor, _psi: &Tensor) -> candle_core::Result<Tensor> {
        y.squeeze(1)
    }
}

/// A resolved config for `method` on the noisy quadratic with `M = 100`
/// draws per point (L-GSO: N = 3, eps = 0.5, the MDN surrogate, K = 2000);
/// monitor draws 10 per report.
pub fn quadratic(method: &str, budget: u64) -> (ResolvedConfig, Arc<NoisyQuadratic>) {
    quadratic_with(method, budget, |_| {})
}

/// As [`quadratic`], with `edit` applied to the configuration before it is
/// resolved.
pub fn quadratic_with(
    method: &str,
    budget: u64,
    edit: impl FnOnce(&mut Config),
) -> (ResolvedConfig, Arc<NoisyQuadratic>) {
    let sim = Arc::new(NoisyQuadratic {
        calls: AtomicU64::new(0),
        asked: Mutex::new(Vec::new()),
    });
    let mut config = Config {
        method: method.into(),
        seed: 3,
        ..Config::default()
    };
    config.stop.budget = Some(budget);
    config.monitor.samples = Some(10);
    config.start = Some(START.to_vec());
    config.numdiff.samples = 100;
    config.ges.samples = 100;
    config.reinforce.samples = 100;
    config.cmaes.samples = 100;
    config.bo.samples = 100;
    config.lax.samples = 100;
    config.oracle.calls_per_step = Some(100);
    // L-GSO: the problem's N = 3, eps = 0.5, M = 100, lr = 0.1; the MDN
    config.lgso.preset = Some("paper".into());
    config.lgso.surrogate = Some("mdn".into());
    config.lgso.gradient_samples = Some(2000);
    edit(&mut config);
    let problem = Problem {
        name: "noisy-quadratic",
        description: "test",
        simulator: sim.clone(),
        objective: Arc::new(Identity),
        start: START.to_vec(),
        defaults: ProblemDefaults {
            n_points: 3,
            eps: 0.5,
            samples_per_point: 100,
            lr: 0.1,
        },
        target: 0.0,
        exact: Some(sim.clone()),
        bounds: None,
        psi_names: None,
    };
    (config.resolve_with(problem).unwrap(), sim)
}

/// Keeps every trace row.
#[derive(Default)]
pub struct Rows(pub Vec<IterationReport>);
impl Observer for Rows {
    fn on_iteration(&mut self, r: &IterationReport) -> lgso::Result<()> {
        self.0.push(r.clone());
        Ok(())
    }
}
