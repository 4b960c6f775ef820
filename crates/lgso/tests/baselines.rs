//! The baselines of baselines.md beyond the checks every method passes
//! (tests/conformance.rs): options of one method on the noisy quadratic
//! (tests/quadratic), and their building blocks against hand-computed
//! values.

use std::sync::atomic::Ordering;

use lgso::driver::run;
use lgso::optimizer::bo::{expected_improvement, normal_cdf, Gp, Matern52};
use lgso::optimizer::cmaes::CmaesParameters;
use lgso::optimizer::ges::{covariance, orthonormal_basis, perturbation};
use lgso::optimizer::lax::ControlVariate;
use lgso::optimizer::reinforce::score_function_gradient;
use lgso::optimizer::{Ges, NumDiff};
use lgso::seed::rng_from_seed;
use rand_distr::{Distribution, StandardNormal};

mod quadratic;

use quadratic::{quadratic_with, START};

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
