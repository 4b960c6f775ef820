//! MDN tests: the mixture quantile against the normal quantile, a fit of a
//! known conditional law, the implicit-reparameterization derivative of a
//! sample against finite differences, and the psi gradient of E[y] for a
//! mixture whose weights depend on psi against its closed form.

use candle_core::{DType, Device, Tensor, Var};
use lgso::data::{Matrix, Samples};
use lgso::seed::rng_from_seed;
use lgso::surrogate::mdn::{mixture_quantile, normal_cdf};
use lgso::surrogate::MdnSettings;
use lgso::surrogate::{FittedSurrogate, Mdn};
use rand::Rng;
use rand_distr::{Distribution, StandardNormal};

mod common;

fn vec2(t: &Tensor) -> Vec<Vec<f64>> {
    t.to_dtype(DType::F64).unwrap().to_vec2::<f64>().unwrap()
}

fn col(v: Vec<f32>) -> Tensor {
    let n = v.len();
    Tensor::from_vec(v, (n, 1), &Device::Cpu).unwrap()
}

/// One component: the quantile of u = Phi(q) is mu + s q (table values of
/// the normal quantile: Phi(1.959964) = 0.975, Phi(-1.644854) = 0.05), and
/// the density there is phi(q) / s. Two equal components at +-a: the median
/// is 0 by symmetry.
#[test]
fn mixture_quantile_matches_normal_quantiles() {
    for (q, u) in [(1.959_963_985, 0.975), (-1.644_853_627, 0.05), (0.0, 0.5)] {
        assert!((normal_cdf(q) - u).abs() < 1e-9, "Phi({q})");
        let (y, p) = mixture_quantile(&[1.0], &[0.7], &[2.0], u);
        assert!((y - (0.7 + 2.0 * q)).abs() < 1e-8, "quantile {y}");
        let phi = (-0.5 * q * q).exp() / (2.0 * std::f64::consts::PI).sqrt();
        assert!((p - phi / 2.0).abs() < 1e-9, "density {p}");
    }
    let (y, _) = mixture_quantile(&[0.5, 0.5], &[-3.0, 3.0], &[0.5, 0.5], 0.5);
    assert!(y.abs() < 1e-8, "median {y}");
}

fn mdn(epochs: usize) -> Mdn {
    Mdn::new(MdnSettings {
        epochs,
        threads: 1,
        ..MdnSettings::default()
    })
}

/// The fitted MDN's conditional mean has slopes 2 (psi) and 1 (x), its
/// spread is 0.5 everywhere, and its log-density at the mode is
/// ln(1 / (0.5 sqrt(2 pi))) (y ~ N(2 psi + x, 0.5)).
#[test]
fn mdn_fits_a_known_conditional_law() {
    lgso::threads::single_threaded_tensor_ops();
    let mut rng = rng_from_seed(5);
    let data = common::linear_gaussian_data(20_000, &mut rng);
    let fitted = mdn(MdnSettings::default().epochs)
        .fit_mdn(&data, &mut rng)
        .unwrap();
    let grid = common::grid_fit(&fitted, &mut rng);
    // as for FFJORD: 5% on the slopes, 0.05 on the spread at every point
    common::assert_fits_the_law(&grid, (0.1, 0.05), 0.05);
    let lp = fitted
        .log_density(&col(vec![1.0]), &col(vec![0.2]), &col(vec![0.4]))
        .unwrap()
        .to_vec1::<f32>()
        .unwrap()[0];
    let expected = -(0.5 * (2.0 * std::f64::consts::PI).sqrt()).ln();
    assert!(
        (f64::from(lp) - expected).abs() < 0.05,
        "log p {lp} vs {expected}"
    );
}

/// y = mixture: with probability w(psi) = (1 + psi) / 2 from N(-2, 0.3^2),
/// else from N(2, 0.3^2), psi ~ U(-0.9, 0.9), x ~ U(0, 1) unused.
fn switching_data(k: usize, rng: &mut lgso::seed::Rng) -> Samples {
    let psi: Vec<f64> = (0..k).map(|_| rng.random_range(-0.9..0.9)).collect();
    let x: Vec<f64> = (0..k).map(|_| rng.random_range(0.0..1.0)).collect();
    let y: Vec<f64> = psi
        .iter()
        .map(|p| {
            let z: f64 = StandardNormal.sample(rng);
            let left = rng.random::<f64>() < 0.5 * (1.0 + p);
            if left {
                -2.0 + 0.3 * z
            } else {
                2.0 + 0.3 * z
            }
        })
        .collect();
    Samples {
        psi: Matrix::from_vec(k, 1, psi).unwrap(),
        x: Matrix::from_vec(k, 1, x).unwrap(),
        y: Matrix::from_vec(k, 1, y).unwrap(),
    }
}

/// E[y](psi) = -2 w + 2 (1 - w) = -2 psi for the switching mixture, so
/// d E[y] / d psi = -2, all of it through the mixture weights (the component
/// means do not move). The pathwise gradient through the MDN's
/// implicit-reparameterized samples must find it; sampling a component and
/// then a Gaussian would give 0.
#[test]
fn gradient_through_mixture_weights_matches_the_closed_form() {
    lgso::threads::single_threaded_tensor_ops();
    let mut rng = rng_from_seed(11);
    let data = switching_data(20_000, &mut rng);
    let fitted = mdn(MdnSettings::default().epochs)
        .fit_mdn(&data, &mut rng)
        .unwrap();
    let k = 20_000;
    for p0 in [-0.3f32, 0.2] {
        let z = lgso::surrogate::mlp::randn(k, 1, &mut rng).unwrap();
        let x: Vec<f32> = (0..k).map(|_| rng.random::<f32>()).collect();
        let psi = Var::from_vec(vec![p0], (1, 1), &Device::Cpu).unwrap();
        let y = fitted
            .sample(&z, &col(x), &psi.as_tensor().broadcast_as((k, 1)).unwrap())
            .unwrap();
        let mean = y.mean_all().unwrap();
        let g = mean.backward().unwrap();
        let g = vec2(g.get(psi.as_tensor()).unwrap())[0][0];
        let m = f64::from(mean.to_scalar::<f32>().unwrap());
        eprintln!(
            "psi {p0}: E[y] {m:.3} (exact {:.3}), gradient {g:.3} (exact -2)",
            -2.0 * p0
        );
        // Tolerances ~3 standard errors of a flexible fit on 20k samples:
        // the local mixture weight from ~6k samples within +-0.3 of psi has
        // a standard error ~0.012 (E[y] error 4x that), its slope ~0.035
        // (gradient error 4x that).
        assert!(
            (m + 2.0 * f64::from(p0)).abs() < 0.15,
            "E[y] {m} at psi {p0}"
        );
        assert!((g + 2.0).abs() < 0.4, "gradient {g} at psi {p0} (exact -2)");
    }
}

/// The implicit-reparameterization derivative of each sample with respect
/// to psi (fixed z) equals central finite differences of the sample.
#[test]
fn sample_derivative_in_psi_matches_finite_differences() {
    lgso::threads::single_threaded_tensor_ops();
    let mut rng = rng_from_seed(12);
    let data = common::linear_gaussian_data(4_000, &mut rng);
    let fitted = mdn(3).fit_mdn(&data, &mut rng).unwrap();
    let k = 16;
    let z = lgso::surrogate::mlp::randn(k, 1, &mut rng).unwrap();
    let x = col((0..k).map(|_| rng.random::<f32>()).collect());
    let p0 = 0.1f32;
    let psi = Var::from_vec(vec![p0; k], (k, 1), &Device::Cpu).unwrap();
    let y = fitted.sample(&z, &x, psi.as_tensor()).unwrap();
    let g = y.sum_all().unwrap().backward().unwrap();
    let g = vec2(g.get(psi.as_tensor()).unwrap());
    let at = |p: f32| vec2(&fitted.sample(&z, &x, &col(vec![p; k])).unwrap());
    let h = 1e-2f32;
    let (yp, ym) = (at(p0 + h), at(p0 - h));
    for i in 0..k {
        let fd = (yp[i][0] - ym[i][0]) / (2.0 * f64::from(h));
        assert!(
            (g[i][0] - fd).abs() < 0.02 * (1.0 + fd.abs()),
            "row {i}: {} vs {fd}",
            g[i][0]
        );
    }
}
