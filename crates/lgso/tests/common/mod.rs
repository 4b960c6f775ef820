//! Shared by the surrogate tests: the known conditional law
//! `y ~ N(2 psi + x, 0.5^2)` and the moments of a fitted surrogate on a grid.

#![allow(dead_code)]

use candle_core::{Device, Tensor};
use lgso::data::{Matrix, Samples};
use lgso::surrogate::FittedSurrogate;
use rand::Rng;
use rand_distr::{Distribution, StandardNormal};

/// Draws `k` samples of `y ~ N(2 psi + x, 0.5^2)`, `psi, x ~ U(-1, 1)` (all
/// psi first, then all x, then the noise).
pub fn linear_gaussian_data(k: usize, rng: &mut lgso::seed::Rng) -> Samples {
    let psi: Vec<f64> = (0..k).map(|_| rng.random_range(-1.0..1.0)).collect();
    let x: Vec<f64> = (0..k).map(|_| rng.random_range(-1.0..1.0)).collect();
    let y: Vec<f64> = (0..k)
        .map(|i| {
            let z: f64 = StandardNormal.sample(rng);
            2.0 * psi[i] + x[i] + 0.5 * z
        })
        .collect();
    Samples {
        psi: Matrix::from_vec(k, 1, psi).unwrap(),
        x: Matrix::from_vec(k, 1, x).unwrap(),
        y: Matrix::from_vec(k, 1, y).unwrap(),
    }
}

/// What a surrogate's samples look like on the grid psi in {-0.8, -0.4, 0,
/// 0.4, 0.8} x x in {-0.6, 0, 0.6}, 4000 draws per point.
pub struct GridFit {
    /// Least-squares slope of the mean in psi (the law's: 2).
    pub slope_psi: f64,
    /// Least-squares slope of the mean in x (the law's: 1).
    pub slope_x: f64,
    /// Standard deviation at each grid point (the law's: 0.5).
    pub stds: Vec<f64>,
}

/// Samples `fitted` on the grid (noise from `rng`) and fits the slopes; the
/// grid is balanced, so each least-squares slope is `cov(mean, v) / var(v)`.
pub fn grid_fit(fitted: &dyn FittedSurrogate, rng: &mut lgso::seed::Rng) -> GridFit {
    let per = 4000;
    let (mut rows, mut means, mut stds) = (Vec::new(), Vec::new(), Vec::new());
    for p in [-0.8, -0.4, 0.0, 0.4, 0.8] {
        for xv in [-0.6, 0.0, 0.6] {
            let z = lgso::surrogate::mlp::randn(per, fitted.noise_dim(), rng).unwrap();
            let pt = Tensor::from_vec(vec![p as f32; per], (per, 1), &Device::Cpu).unwrap();
            let xt = Tensor::from_vec(vec![xv as f32; per], (per, 1), &Device::Cpu).unwrap();
            let ys: Vec<f64> = fitted
                .sample(&z, &xt, &pt)
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1::<f32>()
                .unwrap()
                .into_iter()
                .map(f64::from)
                .collect();
            let (mean, se) = lgso::problem::mean_and_stderr(&ys);
            rows.push((p, xv));
            means.push(mean);
            stds.push(se * (per as f64).sqrt());
        }
    }
    let slope = |f: &dyn Fn(&(f64, f64)) -> f64| {
        let n = rows.len() as f64;
        let vbar = rows.iter().map(f).sum::<f64>() / n;
        let mbar = means.iter().sum::<f64>() / n;
        let cov: f64 = rows
            .iter()
            .zip(&means)
            .map(|(r, m)| (f(r) - vbar) * (m - mbar))
            .sum();
        let var: f64 = rows.iter().map(|r| (f(r) - vbar).powi(2)).sum();
        cov / var
    };
    GridFit {
        slope_psi: slope(&|r| r.0),
        slope_x: slope(&|r| r.1),
        stds,
    }
}

/// Asserts that a fit on [`linear_gaussian_data`] has the law's slopes
/// (2 in psi, 1 in x) within `slope_tol` (absolute, psi and x) and spread
/// 0.5 within `spread_tol` at every grid point.
pub fn assert_fits_the_law(grid: &GridFit, slope_tol: (f64, f64), spread_tol: f64) {
    let (sp, sx) = (grid.slope_psi, grid.slope_x);
    let worst_spread = grid
        .stds
        .iter()
        .map(|s| (s - 0.5).abs())
        .fold(0.0f64, f64::max);
    eprintln!("slope psi {sp:.3}, slope x {sx:.3}, worst spread error {worst_spread:.3}");
    assert!((sp - 2.0).abs() < slope_tol.0, "slope in psi {sp}");
    assert!((sx - 1.0).abs() < slope_tol.1, "slope in x {sx}");
    assert!(worst_spread < spread_tol, "spread off by {worst_spread}");
}

/// Checks the backward gradient of the f64 scalar `loss(net)` with respect
/// to three weights of every variable of `net` (first, middle, last)
/// against central finite differences (step 1e-6, tolerance
/// `1e-6 (1 + |fd|)`). Returns how many weights were checked.
pub fn check_weight_gradients(
    net: &lgso::surrogate::mlp::Mlp,
    loss: &dyn Fn(&lgso::surrogate::mlp::Mlp) -> Tensor,
) -> usize {
    let grads = loss(net).backward().unwrap();
    let h = 1e-6;
    let mut checked = 0;
    for var in net.vars() {
        let g = grads
            .get(var.as_tensor())
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f64>()
            .unwrap();
        let base = var
            .as_tensor()
            .flatten_all()
            .unwrap()
            .to_vec1::<f64>()
            .unwrap();
        for idx in [0, base.len() / 2, base.len() - 1] {
            let eval = |delta: f64| {
                let mut v = base.clone();
                v[idx] += delta;
                var.set(&Tensor::from_vec(v, var.shape(), &Device::Cpu).unwrap())
                    .unwrap();
                let r = loss(net).to_scalar::<f64>().unwrap();
                var.set(&Tensor::from_vec(base.clone(), var.shape(), &Device::Cpu).unwrap())
                    .unwrap();
                r
            };
            let fd = (eval(h) - eval(-h)) / (2.0 * h);
            assert!(
                (g[idx] - fd).abs() < 1e-6 * (1.0 + fd.abs()),
                "weight {idx} of a {:?} tensor: backward {} vs finite difference {fd}",
                var.shape(),
                g[idx]
            );
            checked += 1;
        }
    }
    checked
}
