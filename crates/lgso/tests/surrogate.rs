//! Surrogate tests: the explicit gradient penalty against finite
//! differences, a GAN fit on a known conditional law, and the pathwise
//! gradient through a fitted GAN against the closed-form Rosenbrock gradient.

use candle_core::{DType, Device, Tensor};
use lgso::data::Samples;
use lgso::optimizer::trust_region::trust_region_design;
use lgso::problem::{by_name, draw};
use lgso::seed::{derive_seed, rng_from_seed};
use lgso::surrogate::gan::{cramer_critic_input_gradient, gradient_penalty};
use lgso::surrogate::mlp::{Activation, Init, Mlp};
use lgso::surrogate::GanSettings;
use lgso::surrogate::{pathwise_gradient, CramerGan};
use rand_distr::{Distribution, StandardNormal};

mod common;

fn t64(v: Vec<f64>, r: usize, c: usize) -> Tensor {
    Tensor::from_vec(v, (r, c), &Device::Cpu).unwrap()
}

fn randn64(r: usize, c: usize, scale: f64, rng: &mut lgso::seed::Rng) -> Vec<f64> {
    (0..r * c)
        .map(|_| {
            let z: f64 = StandardNormal.sample(rng);
            scale * z
        })
        .collect()
}

/// A small f64 critic [y (2), cond (3)] -> 8 tanh -> 8 leaky -> 5, with
/// weights scaled up so that most input-gradient norms exceed 1 (otherwise
/// the one-sided penalty is 0 and the check would be vacuous).
fn small_critic(seed: u64) -> Mlp {
    let mut rng = rng_from_seed(seed);
    let acts = [
        Activation::Tanh,
        Activation::LeakyRelu(0.2),
        Activation::Identity,
    ];
    let net = Mlp::new(&[5, 8, 8, 5], &acts, Init::XavierNormal, &mut rng).unwrap();
    let net = net.to_dtype(DType::F64).unwrap();
    for l in &net.layers {
        l.weight
            .set(&l.weight.as_tensor().affine(2.5, 0.0).unwrap())
            .unwrap();
        let b = randn64(1, l.bias.elem_count(), 0.3, &mut rng);
        l.bias
            .set(&Tensor::from_vec(b, l.bias.shape(), &Device::Cpu).unwrap())
            .unwrap();
    }
    net
}

/// f(y) = ||h(y) - h(y')|| - ||h(y)|| per row, evaluated directly in f64.
fn cramer_f(critic: &Mlp, y: &Tensor, cond: &Tensor, hgp: &Tensor) -> Vec<f64> {
    let h = critic
        .forward(&Tensor::cat(&[y, cond], 1).unwrap(), true)
        .unwrap();
    let n1 = (&h - hgp)
        .unwrap()
        .sqr()
        .unwrap()
        .sum(1)
        .unwrap()
        .sqrt()
        .unwrap();
    let n2 = h.sqr().unwrap().sum(1).unwrap().sqrt().unwrap();
    (n1 - n2).unwrap().to_vec1::<f64>().unwrap()
}

#[test]
fn critic_input_gradient_matches_finite_differences() {
    let critic = small_critic(11);
    let mut rng = rng_from_seed(12);
    let (b, m) = (4, 2);
    let y = randn64(b, m, 1.0, &mut rng);
    let cond = t64(randn64(b, 3, 1.0, &mut rng), b, 3);
    let ygp = t64(randn64(b, m, 1.0, &mut rng), b, m);
    let hgp = critic
        .forward(&Tensor::cat(&[&ygp, &cond], 1).unwrap(), true)
        .unwrap();
    let g = cramer_critic_input_gradient(&critic, &t64(y.clone(), b, m), &cond, &hgp)
        .unwrap()
        .to_vec2::<f64>()
        .unwrap();
    // central differences, h = 1e-6: truncation error ~h^2 |f'''| ~ 1e-11
    let h = 1e-6;
    for i in 0..b {
        for j in 0..m {
            let mut yp = y.clone();
            yp[i * m + j] += h;
            let mut ym = y.clone();
            ym[i * m + j] -= h;
            let fp = cramer_f(&critic, &t64(yp, b, m), &cond, &hgp)[i];
            let fm = cramer_f(&critic, &t64(ym, b, m), &cond, &hgp)[i];
            let fd = (fp - fm) / (2.0 * h);
            assert!(
                (g[i][j] - fd).abs() < 1e-7 * (1.0 + fd.abs()),
                "({i},{j}): {} vs {fd}",
                g[i][j]
            );
        }
    }
}

#[test]
fn gradient_penalty_weight_gradients_match_finite_differences() {
    let critic = small_critic(21);
    let mut rng = rng_from_seed(22);
    let (b, m) = (6, 2);
    let y = t64(randn64(b, m, 1.0, &mut rng), b, m);
    let cond = t64(randn64(b, 3, 1.0, &mut rng), b, 3);
    let ygp = t64(randn64(b, m, 1.0, &mut rng), b, m);
    let penalty = |critic: &Mlp| -> Tensor {
        // h(y_g') is tracked, as in training
        let hgp = critic
            .forward(&Tensor::cat(&[&ygp, &cond], 1).unwrap(), false)
            .unwrap();
        gradient_penalty(critic, &y, &cond, &hgp).unwrap()
    };
    let p = penalty(&critic);
    let p0 = p.to_scalar::<f64>().unwrap();
    assert!(p0 > 1e-3, "penalty {p0} is ~0: the check would be vacuous");
    let checked = common::check_weight_gradients(&critic, &penalty);
    assert_eq!(checked, 18);
}

/// y ~ N(2 psi + x, 0.5) with psi, x ~ U(-1, 1): the fitted generator's
/// conditional mean must have slopes 2 (psi) and 1 (x) and its spread 0.5.
#[test]
fn gan_fits_a_known_conditional_law() {
    lgso::threads::single_threaded_tensor_ops();
    let mut rng = rng_from_seed(5);
    let data = common::linear_gaussian_data(20_000, &mut rng);
    let gan = CramerGan::new(GanSettings {
        epochs: 10,
        ..GanSettings::default()
    });
    let fitted = gan.fit_gan(&data, &mut rng).unwrap();
    // Mean and std of 4000 generated y per (psi, x) of a grid.
    let grid = common::grid_fit(&fitted, &mut rng);
    let (slope_psi, slope_x) = (grid.slope_psi, grid.slope_x);
    let spread = grid.stds.iter().sum::<f64>() / grid.stds.len() as f64;
    eprintln!("slope psi {slope_psi:.3}, slope x {slope_x:.3}, spread {spread:.3}");
    // Tolerances: a GAN fitted on 20k samples for 10 epochs is not exact
    // (seen: slopes within 2% and 10%); 15% on the slopes and 20% on the
    // spread still separate the right law from e.g. ignoring x (slope 0) or
    // collapsing the noise (spread 0).
    assert!((slope_psi - 2.0).abs() < 0.3, "slope in psi {slope_psi}");
    assert!((slope_x - 1.0).abs() < 0.15, "slope in x {slope_x}");
    assert!((spread - 0.5).abs() < 0.1, "spread {spread}");
}

/// The pathwise gradient through a GAN fitted as in one L-GSO iteration
/// points along the true gradient of E[R] = g(psi) on Rosenbrock-10.
#[test]
fn surrogate_gradient_on_rosenbrock_matches_closed_form() {
    lgso::threads::single_threaded_tensor_ops();
    let problem = by_name("rosenbrock").unwrap();
    let exact = problem.exact.clone().unwrap();
    let points: [Vec<f64>; 3] = [
        vec![2.0; 10],
        vec![1.5, 1.2, 0.8, 1.8, 1.1, 0.6, 1.4, 1.9, 1.3, 0.9],
        vec![0.5, 2.2, 1.0, 0.2, 1.6, 1.2, 0.7, 1.5, 2.0, 1.1],
    ];
    let gan = CramerGan::new(GanSettings {
        epochs: 10,
        ..GanSettings::default()
    });
    for (pi, psi) in points.iter().enumerate() {
        let mut rng = rng_from_seed(derive_seed(9, &[pi as u64]));
        let design = trust_region_design(psi, 0.2, 15, &mut rng);
        let mut data = Samples::empty(10, 1, 1);
        for i in 0..design.rows() {
            let s = draw(
                problem.simulator.as_ref(),
                design.row(i),
                1500,
                derive_seed(9, &[pi as u64, i as u64]),
            )
            .unwrap();
            data.append(&s).unwrap();
        }
        let fitted = gan.fit_gan(&data, &mut rng).unwrap();
        let x = problem.simulator.sample_x(10_000, &mut rng);
        let (_, g) =
            pathwise_gradient(&fitted, problem.objective.as_ref(), psi, &x, &mut rng).unwrap();
        let t = exact.gradient(psi);
        let dot: f64 = g.iter().zip(&t).map(|(a, b)| a * b).sum();
        let cos = dot
            / (g.iter().map(|v| v * v).sum::<f64>().sqrt()
                * t.iter().map(|v| v * v).sum::<f64>().sqrt());
        eprintln!("point {pi}: cosine {cos:.3}\n  surrogate {g:?}\n  exact     {t:?}");
        assert!(cos > 0.9, "point {pi}: cosine similarity {cos}");
    }
}
