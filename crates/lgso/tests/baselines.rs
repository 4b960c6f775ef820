//! The baseline optimizers of baselines.md on a noisy quadratic, with their
//! simulator calls counted, and their building blocks against hand-computed
//! values.
//!
//! The noisy quadratic: psi in R^3, `x ~ N(0, 1)`,
//! `y = ||psi - 1||^2 + 0.1 x`, `R = y`, so `E[R] = ||psi - 1||^2`
//! (minimum 0 at psi = 1) and every draw is one counted simulator call.
//! Start (3, -1, 2): `E[R] = 4 + 4 + 1 = 9`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use candle_core::Tensor;
use lgso::config::{Config, ResolvedConfig};
use lgso::data::Matrix;
use lgso::driver::{run, run_method, Observer};
use lgso::optimizer::bo::{expected_improvement, normal_cdf, Gp, Matern52};
use lgso::optimizer::cmaes::CmaesParameters;
use lgso::optimizer::ges::{covariance, orthonormal_basis, perturbation};
use lgso::optimizer::lax::ControlVariate;
use lgso::optimizer::reinforce::score_function_gradient;
use lgso::optimizer::{Ges, NumDiff};
use lgso::problem::{Dims, ExactObjective, Objective, Problem, ProblemDefaults, Simulator};
use lgso::report::{IterationReport, StopReason};
use lgso::seed::{rng_from_seed, Rng};
use rand_distr::{Distribution, StandardNormal};

const START: [f64; 3] = [3.0, -1.0, 2.0];

struct NoisyQuadratic {
    calls: AtomicU64,
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
struct Identity;
impl Objective for Identity {
    fn per_sample(&self, y: &Tensor, _x: &Tensor, _psi: &Tensor) -> candle_core::Result<Tensor> {
        y.squeeze(1)
    }
}

/// A resolved config for `method` on the noisy quadratic with `M = 100`
/// draws per point; monitor draws 10 per report.
fn quadratic(method: &str, budget: u64) -> (ResolvedConfig, Arc<NoisyQuadratic>) {
    quadratic_with(method, budget, |_| {})
}

/// As [`quadratic`], with `edit` applied to the configuration before it is
/// resolved.
fn quadratic_with(
    method: &str,
    budget: u64,
    edit: impl FnOnce(&mut Config),
) -> (ResolvedConfig, Arc<NoisyQuadratic>) {
    let sim = Arc::new(NoisyQuadratic {
        calls: AtomicU64::new(0),
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

#[derive(Default)]
struct Rows(Vec<IterationReport>);
impl Observer for Rows {
    fn on_iteration(&mut self, r: &IterationReport) -> lgso::Result<()> {
        self.0.push(r.clone());
        Ok(())
    }
}

/// Runs `method` on the quadratic with `budget` calls; checks the call
/// accounting and that the exact `E[R]` at the final psi is below `goal`.
fn lowers_the_quadratic(method: &str, budget: u64, per_iteration: u64, goal: f64) {
    let (cfg, sim) = quadratic(method, budget);
    assert_eq!(cfg.calls_per_iteration(), per_iteration, "{method}");
    let mut rows = Rows::default();
    let s = run_method(&cfg, &mut [&mut rows]).unwrap();
    assert_eq!(s.optimizer, method);
    assert_eq!(s.stop_reason, StopReason::Budget, "{method}");
    let iterations = budget / per_iteration;
    assert_eq!(s.iterations, iterations, "{method}");
    assert_eq!(s.calls, iterations * per_iteration, "{method}");
    // Every draw is charged, except the 10 monitor draws per report.
    assert_eq!(
        sim.calls.load(Ordering::SeqCst),
        s.calls + 10 * (iterations + 1),
        "{method}: draws made vs calls charged"
    );
    let calls: Vec<u64> = rows.0.iter().map(|r| r.calls).collect();
    let expected: Vec<u64> = (0..=iterations).map(|i| i * per_iteration).collect();
    assert_eq!(calls, expected, "{method}");
    assert_eq!(s.objective_start.round(), 9.0);
    let value = s.objective_final_exact.unwrap();
    eprintln!(
        "{method}: E[R] 9 -> {value:.4} in {} calls, psi {:?}",
        s.calls, s.psi_final
    );
    assert!(
        value < goal,
        "{method}: E[R] = {value} at {:?}",
        s.psi_final
    );
}

#[test]
fn numdiff_lowers_the_quadratic() {
    // 2 n M = 2 * 3 * 100 = 600 calls per step; 80 Adam steps of ~0.1.
    lowers_the_quadratic("numdiff", 48_000, 600, 0.05);
}

#[test]
fn ges_lowers_the_quadratic() {
    // 2 P M = 2 * 3 * 100 = 600 calls per step.
    lowers_the_quadratic("ges", 60_000, 600, 0.05);
}

#[test]
fn reinforce_lowers_the_quadratic() {
    // S M = 25 * 100 = 2500 calls per step.
    lowers_the_quadratic("reinforce", 250_000, 2500, 0.1);
}

#[test]
fn cmaes_lowers_the_quadratic() {
    // lambda = 4 + floor(3 ln 3) = 7 candidates of 100 draws per step.
    lowers_the_quadratic("cmaes", 42_000, 700, 0.05);
}

#[test]
fn bo_lowers_the_quadratic() {
    // 20 initial points of 100 draws, then one point per step: 2000 + 60 *
    // 100 calls. Box: start +- 7.5, so the optimum is 2-3 units inside it.
    let (cfg, sim) = quadratic("bo", 8_000);
    assert_eq!(cfg.calls_per_iteration(), 2_000);
    let s = run_method(&cfg, &mut []).unwrap();
    assert_eq!(
        (s.stop_reason.name(), s.iterations, s.calls),
        ("budget", 61, 8_000)
    );
    assert_eq!(sim.calls.load(Ordering::SeqCst), 8_000 + 10 * 62);
    let value = s.objective_final_exact.unwrap();
    eprintln!("bo: E[R] 9 -> {value:.4}, psi {:?}", s.psi_final);
    assert!(value < 0.5, "bo: E[R] = {value} at {:?}", s.psi_final);
}

#[test]
fn gp_posterior_by_hand() {
    // Matern-5/2, l = 1, v = 1: k(1) = (1 + sqrt5 + 5/3) e^-sqrt5 = 0.523994,
    // k(0.5) = (1 + sqrt5/2 + 5/12) e^(-sqrt5/2) = 0.828649.
    let kernel = Matern52 {
        length_scale: 1.0,
        variance: 1.0,
    };
    assert!((kernel.k(&[0.0], &[1.0]) - 0.523994).abs() < 1e-6);
    assert!((kernel.k(&[0.0, 0.0], &[0.3, 0.4]) - 0.828649).abs() < 1e-6);
    let x = [vec![0.0], vec![1.0]];
    // y = (1, -1), no noise: mean at 0.5 is k* K^-1 y = 0 by symmetry;
    // variance 1 - 2 k(0.5)^2 / (1 + k(1)) = 1 - 1.373319 / 1.523994 = 0.098869.
    let gp = Gp::fit(kernel, &x, &[1.0, -1.0], &[0.0, 0.0]).unwrap();
    let (m, v) = gp.predict(&[0.5]);
    assert!(m.abs() < 1e-9 && (v - 0.098869).abs() < 1e-6, "{m} {v}");
    // At an observed input the noise-free posterior interpolates.
    let (m, v) = gp.predict(&[0.0]);
    assert!((m - 1.0).abs() < 1e-6 && v < 1e-6, "{m} {v}");
    // y = (1, 1): mean at 0.5 = 2 k(0.5) / (1 + k(1)) = 1.657298 / 1.523994 = 1.087470.
    let gp = Gp::fit(kernel, &x, &[1.0, 1.0], &[0.0, 0.0]).unwrap();
    assert!((gp.predict(&[0.5]).0 - 1.087470).abs() < 1e-6);
    // One observation y = 2 with noise variance 1: mean 2 k / (1 + 1) = 1 at
    // the input, variance 1 - 1 / 2 = 0.5.
    let gp = Gp::fit(kernel, &[vec![0.0]], &[2.0], &[1.0]).unwrap();
    let (m, v) = gp.predict(&[0.0]);
    assert!((m - 1.0).abs() < 1e-8 && (v - 0.5).abs() < 1e-8, "{m} {v}");
    // log p(y) for that case: N(2; 0, 2) = -2^2 / 4 - ln(2) / 2 - ln(2 pi) / 2.
    let expected = -1.0 - 0.5 * 2f64.ln() - 0.5 * (2.0 * std::f64::consts::PI).ln();
    assert!((gp.log_marginal() - expected).abs() < 1e-8);
}

#[test]
fn expected_improvement_by_hand() {
    // Phi(1) = 0.8413447, Phi(-2) = 0.0227501 (tables).
    assert!((normal_cdf(1.0) - 0.841_344_7).abs() < 2e-7);
    assert!((normal_cdf(-2.0) - 0.022_750_1).abs() < 2e-7);
    assert!((normal_cdf(0.0) - 0.5).abs() < 2e-7);
    // mean = best: EI = sd * phi(0) = 0.398942 sd.
    assert!((expected_improvement(0.0, 2.0, 0.0) - 2.0 * 0.398_942_3).abs() < 1e-6);
    // best - mean = 1, sd = 1: 1 * Phi(1) + phi(1) = 0.841345 + 0.241971.
    assert!((expected_improvement(0.0, 1.0, 1.0) - 1.083_316).abs() < 1e-5);
    // no uncertainty: the plain improvement
    assert_eq!(expected_improvement(3.0, 0.0, 1.0), 0.0);
}

#[test]
fn lax_lowers_the_quadratic() {
    // K = 1 policy sample of 100 draws per step.
    lowers_the_quadratic("lax", 30_000, 100, 0.5);
}

#[test]
fn lax_variance_gradient_matches_finite_differences() {
    let mut rng = rng_from_seed(21);
    let cv = ControlVariate::new(3, &mut rng);
    let (b, e, sigma, f) = ([0.3, -1.2, 0.8], [0.5, -0.7, 1.1], [0.4, 0.9, 0.6], 2.5);
    let analytic = cv.variance_gradient(f, &b, &e, &sigma);
    let sq = |c: &ControlVariate| {
        c.estimate(f, &b, &e, &sigma)
            .iter()
            .map(|g| g * g)
            .sum::<f64>()
    };
    for (i, &a) in analytic.iter().enumerate() {
        let mut up = cv.clone();
        let mut down = cv.clone();
        up.phi[i] += 1e-6;
        down.phi[i] -= 1e-6;
        let fd = (sq(&up) - sq(&down)) / 2e-6;
        assert!(
            (a - fd).abs() < 1e-5 * (1.0 + fd.abs()),
            "d||g||^2/dphi_{i}: {a} vs {fd}"
        );
    }
    // and the input gradient of c against finite differences
    let grad = cv.input_gradient(&b);
    for j in 0..3 {
        let mut up = b;
        let mut down = b;
        up[j] += 1e-6;
        down[j] -= 1e-6;
        let fd = (cv.value(&up) - cv.value(&down)) / 2e-6;
        assert!(
            (grad[j] - fd).abs() < 1e-7,
            "dc/db_{j}: {} vs {fd}",
            grad[j]
        );
    }
}

#[test]
fn lax_estimate_is_unbiased_whatever_the_control_variate() {
    // f(b) = 2 b1 - b2 under N(mu, diag(sigma^2)): d E f / d mu = (2, -1),
    // d E f / d log sigma = 0. Mean of 200k single-sample estimates with a
    // random (untrained) control variate.
    let mut rng = rng_from_seed(22);
    let cv = ControlVariate::new(2, &mut rng);
    let (mu, sigma) = ([0.3, -0.2], [0.5, 0.8]);
    let n = 200_000;
    let mut mean = [0.0; 4];
    for _ in 0..n {
        let e: Vec<f64> = (0..2)
            .map(|_| Distribution::<f64>::sample(&StandardNormal, &mut rng))
            .collect();
        let b: Vec<f64> = (0..2).map(|j| mu[j] + sigma[j] * e[j]).collect();
        let g = cv.estimate(2.0 * b[0] - b[1], &b, &e, &sigma);
        mean.iter_mut()
            .zip(&g)
            .for_each(|(m, v)| *m += v / n as f64);
    }
    for (got, want) in mean.iter().zip([2.0, -1.0, 0.0, 0.0]) {
        assert!((got - want).abs() < 0.05, "{mean:?}");
    }
}

#[test]
fn oracle_lowers_the_quadratic() {
    // calls_per_step = 100, Adam lr 0.1 with the eps = 0.5 projection.
    lowers_the_quadratic("oracle", 8_000, 100, 0.01);
}

#[test]
fn ges_guided_by_numdiff_pays_for_the_differences() {
    let (cfg, sim) = quadratic_with("ges", 12_000, |c| c.ges.guide = "numdiff".into());
    // 2 (P + n) M = 2 * (3 + 3) * 100.
    assert_eq!(cfg.calls_per_iteration(), 1200);
    let mut opt = Ges::new(&cfg.ges, &cfg.problem, cfg.seed);
    let s = run(&cfg, &mut opt, &mut []).unwrap();
    assert_eq!(s.iterations, 10);
    assert_eq!(sim.calls.load(Ordering::SeqCst), 12_000 + 10 * 11);
    assert!(s.objective_final_exact.unwrap() < 9.0);
}

#[test]
fn a_diverging_method_fails_without_losing_psi() {
    // An Adam learning rate of 1e308 sends psi to infinity in one step.
    let (cfg, _) = quadratic_with("numdiff", 6_000, |c| c.numdiff.lr = 1e308);
    let mut opt = NumDiff::new(&cfg.numdiff, &cfg.problem, cfg.seed);
    let e = run(&cfg, &mut opt, &mut []).unwrap_err();
    assert!(matches!(e, lgso::Error::Diverged { .. }), "{e}");
    assert!(e.to_string().contains("numdiff"), "{e}");
    use lgso::optimizer::Optimizer;
    assert_eq!(opt.psi(), &START, "psi is kept at the last finite value");
}

// ---------------------------------------------------------------------------
// Building blocks against hand-computed values.
// ---------------------------------------------------------------------------

#[test]
fn central_differences_are_exact_on_a_quadratic() {
    // f(p) = p1^2 + 3 p2 at (1, 2), h = 0.1: points (1.1, 2), (0.9, 2),
    // (1, 2.1), (1, 1.9); values 1.21 + 6, 0.81 + 6, 1 + 6.3, 1 + 5.7;
    // gradient (0.4 / 0.2, 0.6 / 0.2) = (2, 3).
    let points = NumDiff::points(&[1.0, 2.0], 0.1);
    assert_eq!(points.len(), 4);
    let f: Vec<f64> = points.iter().map(|p| p[0] * p[0] + 3.0 * p[1]).collect();
    let g = NumDiff::gradient(&f, 0.1);
    assert!(
        (g[0] - 2.0).abs() < 1e-12 && (g[1] - 3.0).abs() < 1e-12,
        "{g:?}"
    );
}

#[test]
fn ges_covariance_by_hand() {
    // Gram-Schmidt of (3, 4), (6, 8), (0, 1): (0.6, 0.8); (6, 8) is
    // parallel and dropped; (0, 1) - 0.8 (0.6, 0.8) = (-0.48, 0.36), norm
    // 0.6, gives (-0.8, 0.6).
    let basis = orthonormal_basis(&[vec![3.0, 4.0], vec![6.0, 8.0], vec![0.0, 1.0]]);
    assert_eq!(basis.len(), 2);
    for (b, e) in basis.iter().zip([[0.6, 0.8], [-0.8, 0.6]]) {
        assert!(
            (b[0] - e[0]).abs() < 1e-12 && (b[1] - e[1]).abs() < 1e-12,
            "{b:?}"
        );
    }
    // alpha = 0.5, n = 2, U = e1 (k = 1): C = 0.25 I + 0.5 e1 e1^T.
    let c = covariance(0.5, 2, &[vec![1.0, 0.0]]);
    assert_eq!(c.as_slice(), &[0.75, 0.0, 0.0, 0.25]);
    // No guide yet: C = I / n.
    assert_eq!(covariance(0.5, 2, &[]).as_slice(), &[0.5, 0.0, 0.0, 0.5]);
    // The sampler draws N(0, sigma^2 C): sample covariance of 200k draws
    // with sigma = 2 and U = (0.6, 0.8) against
    // 4 (0.25 I + 0.5 U U^T) = [[1 + 0.72, 0.96], [0.96, 1 + 1.28]].
    let u = vec![0.6, 0.8];
    let mut rng = rng_from_seed(9);
    let n = 200_000;
    let mut s = [0.0; 4];
    for _ in 0..n {
        let e = perturbation(2.0, 0.5, 2, std::slice::from_ref(&u), &mut rng);
        s[0] += e[0] * e[0];
        s[1] += e[0] * e[1];
        s[3] += e[1] * e[1];
    }
    let expected = [1.72, 0.96, 0.0, 2.28];
    for k in [0, 1, 3] {
        let got = s[k] / n as f64;
        // standard error of a second moment of a normal: about
        // sqrt(2 / n) * 2.3 = 0.007; allow 4 of them.
        assert!(
            (got - expected[k]).abs() < 0.03,
            "C[{k}]: {got} vs {}",
            expected[k]
        );
    }
}

#[test]
fn ges_gradient_by_hand() {
    // eps = (1, 0), f+ = 3, f- = 1, sigma^2 = 0.5, beta = 2, P = 1:
    // 2 / (2 * 0.5 * 1) * (1, 0) * (3 - 1) = (4, 0).
    let g = Ges::gradient(&[vec![1.0, 0.0]], &[3.0], &[1.0], 0.5, 2.0);
    assert_eq!(g, vec![4.0, 0.0]);
}

#[test]
fn score_function_gradient_by_hand_and_unbiased() {
    // psi = 0, samples +1 and -1, f = 3 and 1, b = 2, sigma^2 = 1:
    // (1/2) [(3 - 2)(1) + (1 - 2)(-1)] = 1.
    let g = score_function_gradient(&[0.0], &[vec![1.0], vec![-1.0]], &[3.0, 1.0], 2.0, 1.0);
    assert_eq!(g, vec![1.0]);
    // For f(psi') = 2 psi'_1 - psi'_2 the estimator's mean is (2, -1) for
    // any baseline; 100k policy samples with sigma^2 = 0.05, baseline 0.5.
    let mut rng = rng_from_seed(4);
    let sigma = 0.05f64.sqrt();
    let psi = [0.3, -0.2];
    let samples: Vec<Vec<f64>> = (0..100_000)
        .map(|_| {
            psi.iter()
                .map(|p| p + sigma * Distribution::<f64>::sample(&StandardNormal, &mut rng))
                .collect()
        })
        .collect();
    let f: Vec<f64> = samples.iter().map(|s| 2.0 * s[0] - s[1]).collect();
    let g = score_function_gradient(&psi, &samples, &f, 0.5, 0.05);
    // Per-sample sd about |f - b| / sigma ~ 1 / 0.22 = 4.5: se 0.015.
    assert!(
        (g[0] - 2.0).abs() < 0.08 && (g[1] + 1.0).abs() < 0.08,
        "{g:?}"
    );
}

#[test]
fn cmaes_parameters_of_the_tutorial() {
    // n = 2, lambda = 6 (Hansen's rule: 4 + floor(3 ln 2) = 6): mu = 3,
    // w ∝ ln 3.5 - ln i = 1.2528, 0.5596, 0.1542 (sum 1.9666), so
    // w = 0.6370, 0.2846, 0.0784 and mu_eff = 1 / sum w^2 = 2.0287;
    // c_sigma = 4.0287 / 9.0287 = 0.4462; c_c = (4 + 1.0143) / (6 + 2.0287)
    // = 0.6245; c_1 = 2 / (3.3^2 + 2.0287) = 2 / 12.9187 = 0.1548;
    // c_mu = min(0.8439, 2 (0.5216) / (16 + 2.0287)) = 0.0579.
    assert_eq!(lgso::optimizer::cmaes::default_population(2), 6);
    assert_eq!(lgso::optimizer::cmaes::default_population(10), 10);
    let p = CmaesParameters::new(2, 6);
    assert_eq!(p.mu, 3);
    for (w, e) in p.weights.iter().zip([0.6370, 0.2846, 0.0784]) {
        assert!((w - e).abs() < 1e-3, "{w} vs {e}");
    }
    for (got, e, what) in [
        (p.mu_eff, 2.0287, "mu_eff"),
        (p.c_sigma, 0.4462, "c_sigma"),
        (p.c_c, 0.6245, "c_c"),
        (p.c_1, 0.1548, "c_1"),
        (p.c_mu, 0.0579, "c_mu"),
    ] {
        assert!((got - e).abs() < 1e-3, "{what}: {got} vs {e}");
    }
}
