//! FFJORD tests: the RK4 solver against a closed-form ODE solution, the
//! log-density of a linear flow against its closed form, the divergence and
//! the training gradient against finite differences, a fit of a known
//! conditional law, and the psi-derivative of a sample against finite
//! differences.

use candle_core::{DType, Device, Tensor, Var};
use lgso::seed::rng_from_seed;
use lgso::surrogate::ffjord::{dynamics_and_divergence, dynamics_net, log_density_standardized};
use lgso::surrogate::mlp::{Activation, Init, Mlp};
use lgso::surrogate::ode::{dopri5, rk4, Solver};
use lgso::surrogate::FfjordSettings;
use lgso::surrogate::{Ffjord, FittedSurrogate};
use nalgebra::Matrix2;
use rand_distr::{Distribution, StandardNormal};

mod common;

fn t64(v: Vec<f64>, r: usize, c: usize) -> Tensor {
    Tensor::from_vec(v, (r, c), &Device::Cpu).unwrap()
}

fn randn64(r: usize, c: usize, rng: &mut lgso::seed::Rng) -> Vec<f64> {
    (0..r * c)
        .map(|_| {
            let z: f64 = StandardNormal.sample(rng);
            z
        })
        .collect()
}

fn vec2(t: &Tensor) -> Vec<Vec<f64>> {
    t.to_dtype(DType::F64).unwrap().to_vec2::<f64>().unwrap()
}

/// RK4 with 40 steps over [0, 1]: local error ~1e-10 on the linear flows.
const RK4_40: Solver = Solver::Rk4 { steps: 40 };

/// dy/dt = -t y, y(0) = 1 has y(t) = exp(-t^2 / 2); RK4's global error is
/// O(h^4): 20 steps over [0, 2] must be within 1e-5, and halving h must
/// shrink the error about 16-fold.
#[test]
fn rk4_matches_the_closed_form_with_fourth_order_error() {
    let err = |steps: usize| {
        let y0 = t64(vec![1.0], 1, 1);
        let out = rk4(vec![y0], 0.0, 2.0, steps, |t, s| {
            Ok(vec![s[0].affine(-t, 0.0)?])
        })
        .unwrap();
        (vec2(&out[0])[0][0] - (-2.0f64).exp()).abs()
    };
    let (e10, e20) = (err(10), err(20));
    assert!(e20 < 1e-5, "error with 20 steps {e20}");
    let ratio = e10 / e20;
    assert!(
        (10.0..22.0).contains(&ratio),
        "error ratio {ratio} (expected ~16)"
    );
    // backwards in time returns to the start
    let y1 = t64(vec![(-2.0f64).exp()], 1, 1);
    let back = rk4(vec![y1], 2.0, 0.0, 40, |t, s| {
        Ok(vec![s[0].affine(-t, 0.0)?])
    })
    .unwrap();
    assert!((vec2(&back[0])[0][0] - 1.0).abs() < 1e-6);
}

/// A one-layer linear dynamics `f(y, t, c) = A y` (weights on t and c zero)
/// moves z to `y = e^A z`, so `log p(y) = log N(e^{-A} y; 0, I) - tr(A)`.
#[test]
fn log_density_of_a_linear_flow_matches_the_closed_form() {
    let (m, c) = (2, 3);
    let a = Matrix2::new(0.3, -0.4, 0.2, -0.5);
    let mut rng = rng_from_seed(3);
    let net = Mlp::new(
        &[m + 1 + c, m],
        &[Activation::Identity],
        Init::TorchDefault,
        &mut rng,
    )
    .unwrap()
    .to_dtype(DType::F64)
    .unwrap();
    let mut w = vec![0.0; m * (m + 1 + c)];
    for i in 0..m {
        for j in 0..m {
            w[i * (m + 1 + c) + j] = a[(i, j)];
        }
    }
    net.layers[0].weight.set(&t64(w, m, m + 1 + c)).unwrap();
    net.layers[0]
        .bias
        .set(&Tensor::zeros(m, DType::F64, &Device::Cpu).unwrap())
        .unwrap();
    let b = 5;
    let y = randn64(b, m, &mut rng);
    let cond = t64(randn64(b, c, &mut rng), b, c);
    let lp = vec2(
        &log_density_standardized(&net, &t64(y.clone(), b, m), &cond, &RK4_40, None, true).unwrap(),
    );
    let inv = (-a).exp();
    let half_ln_2pi = 0.5 * (2.0 * std::f64::consts::PI).ln();
    for i in 0..b {
        let z = inv * nalgebra::Vector2::new(y[i * m], y[i * m + 1]);
        let expected = -0.5 * z.norm_squared() - 2.0 * half_ln_2pi - a.trace();
        assert!(
            (lp[i][0] - expected).abs() < 1e-7,
            "row {i}: {} vs {expected}",
            lp[i][0]
        );
    }
    // Hutchinson with a fixed probe eps: the trace term becomes eps^T A eps,
    // so the log-density is log N(z) - eps^T A eps, exactly.
    let eps = randn64(b, m, &mut rng);
    let probe = t64(eps.clone(), b, m);
    let lh = vec2(
        &log_density_standardized(
            &net,
            &t64(y.clone(), b, m),
            &cond,
            &RK4_40,
            Some(&probe),
            true,
        )
        .unwrap(),
    );
    for i in 0..b {
        let z = inv * nalgebra::Vector2::new(y[i * m], y[i * m + 1]);
        let e = nalgebra::Vector2::new(eps[i * m], eps[i * m + 1]);
        let expected = -0.5 * z.norm_squared() - 2.0 * half_ln_2pi - e.dot(&(a * e));
        assert!((lh[i][0] - expected).abs() < 1e-7, "row {i}");
    }
}

/// A random f64 dynamics net (tanh, hidden 6-5) for the derivative checks.
fn random_net(m: usize, c: usize, seed: u64) -> Mlp {
    let mut rng = rng_from_seed(seed);
    dynamics_net(m, c, &[6, 5], &mut rng)
        .unwrap()
        .to_dtype(DType::F64)
        .unwrap()
}

/// The exact divergence is the trace of the finite-difference Jacobian
/// df/dy, and Hutchinson's term is eps^T J eps with the same Jacobian.
#[test]
fn divergence_matches_finite_differences() {
    let (m, c, b) = (3, 2, 4);
    let net = random_net(m, c, 7);
    let mut rng = rng_from_seed(8);
    let y = randn64(b, m, &mut rng);
    let cond = t64(randn64(b, c, &mut rng), b, c);
    let eps = randn64(b, m, &mut rng);
    let t = 0.37;
    let f = |y: &[f64]| {
        let (f, _) =
            dynamics_and_divergence(&net, &t64(y.to_vec(), b, m), t, &cond, None, true).unwrap();
        vec2(&f)
    };
    let (_, exact) =
        dynamics_and_divergence(&net, &t64(y.clone(), b, m), t, &cond, None, true).unwrap();
    let (_, hutch) = dynamics_and_divergence(
        &net,
        &t64(y.clone(), b, m),
        t,
        &cond,
        Some(&t64(eps.clone(), b, m)),
        true,
    )
    .unwrap();
    let (exact, hutch) = (vec2(&exact), vec2(&hutch));
    let h = 1e-6;
    for i in 0..b {
        // J[r][k] = d f_r / d y_k for row i
        let mut jac = vec![vec![0.0; m]; m];
        for k in 0..m {
            let (mut yp, mut ym) = (y.clone(), y.clone());
            yp[i * m + k] += h;
            ym[i * m + k] -= h;
            let (fp, fm) = (f(&yp), f(&ym));
            for (r, row) in jac.iter_mut().enumerate() {
                row[k] = (fp[i][r] - fm[i][r]) / (2.0 * h);
            }
        }
        let trace: f64 = (0..m).map(|k| jac[k][k]).sum();
        let quad: f64 = (0..m)
            .flat_map(|r| (0..m).map(move |k| (r, k)))
            .map(|(r, k)| eps[i * m + r] * jac[r][k] * eps[i * m + k])
            .sum();
        assert!(
            (exact[i][0] - trace).abs() < 1e-7,
            "row {i}: {} vs {trace}",
            exact[i][0]
        );
        assert!(
            (hutch[i][0] - quad).abs() < 1e-7,
            "row {i}: {} vs {quad}",
            hutch[i][0]
        );
    }
}

/// The gradient of the mean log-density (through the RK4 steps and the
/// explicit divergence) with respect to the weights equals central finite
/// differences: training back-propagates correctly through the solver.
#[test]
fn log_likelihood_weight_gradient_matches_finite_differences() {
    let (m, c, b) = (2, 2, 3);
    let net = random_net(m, c, 17);
    let mut rng = rng_from_seed(18);
    let y = t64(randn64(b, m, &mut rng), b, m);
    let cond = t64(randn64(b, c, &mut rng), b, c);
    let loss = |net: &Mlp| {
        log_density_standardized(net, &y, &cond, &Solver::Rk4 { steps: 3 }, None, false)
            .unwrap()
            .mean_all()
            .unwrap()
    };
    // 3 layers x (weight, bias) x 3 weights each
    assert_eq!(common::check_weight_gradients(&net, &loss), 18);
}

/// The fitted flow's conditional mean must have slopes 2 (psi) and 1 (x),
/// its spread 0.5 everywhere (y ~ N(2 psi + x, 0.5)).
#[test]
fn ffjord_fits_a_known_conditional_law() {
    lgso::threads::single_threaded_tensor_ops();
    let mut rng = rng_from_seed(5);
    let data = common::linear_gaussian_data(20_000, &mut rng);
    let ffjord = Ffjord::new(FfjordSettings {
        threads: 1,
        ..FfjordSettings::default()
    });
    let fitted = ffjord.fit_ffjord(&data, &mut rng).unwrap();
    let grid = common::grid_fit(&fitted, &mut rng);
    // 20k samples, 25 epochs: 5% on the slopes, 0.05 on the spread at every
    // grid point (a flow that ignored x would have slope 0, one that
    // collapsed the noise spread 0).
    common::assert_fits_the_law(&grid, (0.1, 0.05), 0.05);
    // log-density at the mode against the closed form N(0; 0, 0.5):
    // ln(1 / (0.5 sqrt(2 pi))) = -0.2258
    let (y, x, p) = (
        Tensor::from_vec(vec![1.0f32], (1, 1), &Device::Cpu).unwrap(),
        Tensor::from_vec(vec![0.2f32], (1, 1), &Device::Cpu).unwrap(),
        Tensor::from_vec(vec![0.4f32], (1, 1), &Device::Cpu).unwrap(),
    );
    let lp = fitted
        .log_density(&y, &x, &p)
        .unwrap()
        .to_vec1::<f32>()
        .unwrap()[0];
    let expected = -(0.5 * (2.0 * std::f64::consts::PI).sqrt()).ln();
    assert!(
        (f64::from(lp) - expected).abs() < 0.1,
        "log p {lp} vs {expected}"
    );
}

/// A sample is a differentiable function of psi: its autodiff derivative
/// for fixed z equals central finite differences of the sample.
#[test]
fn sample_derivative_in_psi_matches_finite_differences() {
    lgso::threads::single_threaded_tensor_ops();
    let mut rng = rng_from_seed(6);
    let data = common::linear_gaussian_data(2_000, &mut rng);
    let fitted = Ffjord::new(FfjordSettings {
        epochs: 2,
        threads: 1,
        ..FfjordSettings::default()
    })
    .fit_ffjord(&data, &mut rng)
    .unwrap();
    let k = 8;
    let z = lgso::surrogate::mlp::randn(k, 1, &mut rng).unwrap();
    let x = lgso::surrogate::mlp::randn(k, 1, &mut rng).unwrap();
    let psi0 = 0.3f32;
    let psi = Var::from_vec(vec![psi0; k], (k, 1), &Device::Cpu).unwrap();
    let y = fitted.sample(&z, &x, psi.as_tensor()).unwrap();
    let g = y.sum_all().unwrap().backward().unwrap();
    let g = vec2(g.get(psi.as_tensor()).unwrap());
    let at = |p: f32| {
        let pt = Tensor::from_vec(vec![p; k], (k, 1), &Device::Cpu).unwrap();
        vec2(&fitted.sample(&z, &x, &pt).unwrap())
    };
    let h = 1e-2f32;
    let (yp, ym) = (at(psi0 + h), at(psi0 - h));
    for i in 0..k {
        let fd = (yp[i][0] - ym[i][0]) / (2.0 * f64::from(h));
        assert!(
            (g[i][0] - fd).abs() < 1e-3 * (1.0 + fd.abs()),
            "row {i}: {} vs {fd}",
            g[i][0]
        );
    }
}

/// `[ffjord]` and `[mdn]` reject unknown keys and bad values with the key
/// named, like the other tables; `surrogate` accepts the three families.
#[test]
fn ffjord_and_mdn_settings_are_validated() {
    use lgso::config::Config;
    let message = |text: &str| match Config::from_toml_str(text).and_then(Config::resolve) {
        Ok(_) => String::new(),
        Err(e) => e.to_string(),
    };
    for s in ["gan", "ffjord", "mdn"] {
        assert_eq!(message(&format!("[lgso]\nsurrogate = \"{s}\"")), "", "{s}");
    }
    let m = message("[lgso]\nsurrogate = \"vae\"");
    assert!(m.contains("one of gan, ffjord, mdn"), "{m}");
    for (text, key) in [
        ("[ffjord]\nsteps = 4", "ffjord.steps"),
        ("[mdn]\nmixtures = 3", "mdn.mixtures"),
        ("[ffjord]\node_steps = 0", "ffjord.ode_steps"),
        ("[ffjord]\nhidden = []", "ffjord.hidden"),
        ("[ffjord]\nlr = -1.0", "ffjord.lr"),
        ("[ffjord]\nsolver = \"euler\"", "ffjord.solver"),
        ("[ffjord]\nrtol = 0.0", "ffjord.rtol"),
        ("[ffjord]\nbatch_size = 1", "ffjord.batch_size"),
        ("[mdn]\ncomponents = 0", "mdn.components"),
        ("[mdn]\nhidden = [0]", "mdn.hidden"),
        ("[mdn]\nbetas = [0.9, 1.0]", "mdn.betas"),
        ("[mdn]\ninstance_noise = -0.1", "mdn.instance_noise"),
    ] {
        let m = message(text);
        assert!(m.contains(key), "{text}: {m}");
    }
}

/// Hutchinson's estimator is unbiased: over 20,000 Gaussian probes at one
/// point its mean is the exact divergence within 4 standard errors (its
/// variance is `2 ||sym J||_F^2` for Gaussian probes, estimated here from
/// the draws).
#[test]
fn hutchinson_divergence_is_unbiased() {
    let (m, c, b) = (3, 2, 20_000);
    let net = random_net(m, c, 27);
    let mut rng = rng_from_seed(28);
    let y1 = randn64(1, m, &mut rng);
    let c1 = randn64(1, c, &mut rng);
    let y = t64(y1.repeat(b), b, m);
    let cond = t64(c1.repeat(b), b, c);
    let probe = t64(randn64(b, m, &mut rng), b, m);
    let (_, exact) = dynamics_and_divergence(&net, &y, 0.6, &cond, None, true).unwrap();
    let (_, hutch) = dynamics_and_divergence(&net, &y, 0.6, &cond, Some(&probe), true).unwrap();
    let exact = vec2(&exact)[0][0];
    let h: Vec<f64> = vec2(&hutch).into_iter().map(|r| r[0]).collect();
    let (mean, se) = lgso::problem::mean_and_stderr(&h);
    assert!(se > 0.0, "the probes must vary the estimate");
    assert!(
        (mean - exact).abs() < 4.0 * se,
        "Hutchinson mean {mean} ± {se} vs exact {exact}"
    );
}

/// Dormand-Prince on dy/dt = -t y from 0 to 2 (and back) meets its
/// tolerance against the closed form exp(-t^2 / 2), with a two-component
/// state; a tighter tolerance gives a smaller error.
#[test]
fn dopri5_matches_the_closed_form_within_tolerance() {
    let run = |rtol: f64, t0: f64, t1: f64, y0: f64| {
        let s0 = vec![t64(vec![y0, 2.0 * y0], 1, 2), t64(vec![y0], 1, 1)];
        let out = dopri5(s0, t0, t1, rtol, rtol, 1, |t, s| {
            Ok(vec![s[0].affine(-t, 0.0)?, s[1].affine(-t, 0.0)?])
        })
        .unwrap();
        (vec2(&out[0])[0].clone(), vec2(&out[1])[0][0])
    };
    let exact = (-2.0f64).exp();
    let (a, b) = run(1e-6, 0.0, 2.0, 1.0);
    let worst = [a[0] - exact, a[1] - 2.0 * exact, b - exact]
        .iter()
        .fold(0.0f64, |w, e| w.max(e.abs()));
    assert!(worst < 1e-5, "error {worst} at rtol 1e-6");
    let (a9, _) = run(1e-9, 0.0, 2.0, 1.0);
    assert!(
        (a9[0] - exact).abs() < (a[0] - exact).abs().max(1e-12),
        "tighter is better"
    );
    assert!(
        (a9[0] - exact).abs() < 1e-8,
        "error {} at rtol 1e-9",
        a9[0] - exact
    );
    let (back, _) = run(1e-8, 2.0, 0.0, exact);
    assert!((back[0] - 1.0).abs() < 1e-6, "backwards: {}", back[0]);
}

/// The linear-flow log-density through Dormand-Prince matches the closed
/// form as the RK4 one does, and an FFJORD fit with `solver = "dopri5"`
/// gives finite samples.
#[test]
fn dopri5_flow_log_density_and_fit() {
    let (m, c) = (1, 1);
    let mut rng = rng_from_seed(31);
    let net = Mlp::new(
        &[m + 1 + c, m],
        &[Activation::Identity],
        Init::TorchDefault,
        &mut rng,
    )
    .unwrap()
    .to_dtype(DType::F64)
    .unwrap();
    let a = 0.7;
    net.layers[0]
        .weight
        .set(&t64(vec![a, 0.0, 0.0], 1, 3))
        .unwrap();
    net.layers[0]
        .bias
        .set(&Tensor::zeros(1, DType::F64, &Device::Cpu).unwrap())
        .unwrap();
    let y = t64(vec![-1.3, 0.2, 2.5], 3, 1);
    let cond = t64(vec![0.0; 3], 3, 1);
    let solver = Solver::Dopri5 {
        rtol: 1e-9,
        atol: 1e-9,
        initial_steps: 1,
    };
    let lp = vec2(&log_density_standardized(&net, &y, &cond, &solver, None, true).unwrap());
    let half_ln_2pi = 0.5 * (2.0 * std::f64::consts::PI).ln();
    for (i, yi) in [-1.3f64, 0.2, 2.5].iter().enumerate() {
        // y = e^a z: log p(y) = log N(y e^-a) - a
        let z = yi * (-a).exp();
        let expected = -0.5 * z * z - half_ln_2pi - a;
        assert!(
            (lp[i][0] - expected).abs() < 1e-7,
            "row {i}: {} vs {expected}",
            lp[i][0]
        );
    }
    lgso::threads::single_threaded_tensor_ops();
    let data = common::linear_gaussian_data(1_000, &mut rng);
    let fitted = Ffjord::new(FfjordSettings {
        solver: "dopri5".into(),
        epochs: 1,
        threads: 1,
        ..FfjordSettings::default()
    })
    .fit_ffjord(&data, &mut rng)
    .unwrap();
    let z = lgso::surrogate::mlp::randn(50, 1, &mut rng).unwrap();
    let x = lgso::surrogate::mlp::randn(50, 1, &mut rng).unwrap();
    let ys = vec2(&fitted.sample(&z, &x, &x).unwrap());
    assert!(ys.iter().all(|r| r[0].is_finite()));
}
