//! Moments and closed forms of the built-in problems (problems.md §1-5),
//! checked through the public API against values derived independently in
//! this file: by hand, from the data files read here with `std::fs`, by
//! quadrature, or by finite differences.
//!
//! Monte Carlo tolerances are 4 standard errors of the sample mean, with the
//! standard error estimated from the same draws (a correct implementation
//! fails such a check with probability about 6e-5; the seeds are fixed, so
//! the tests are deterministic).

use candle_core::{DType, Device, Tensor, Var};
use lgso::data::{Matrix, Samples};
use lgso::problem::{
    by_name, draw, estimate_objective, objective_values, Dims, Problem, SubmanifoldHump,
    SubmanifoldRosenbrock, NAMES,
};
use lgso::seed::rng_from_seed;
use lgso::Error;

// ---------------------------------------------------------------------------
// Independent helpers.
// ---------------------------------------------------------------------------

/// Reads `data/<name>` as rows of numbers, skipping a header line if asked.
fn read_csv(name: &str, header: bool) -> Vec<Vec<f64>> {
    let path = format!("{}/data/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap();
    text.lines()
        .skip(usize::from(header))
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.split(',').map(|v| v.trim().parse().unwrap()).collect())
        .collect()
}

fn sigmoid(t: f64) -> f64 {
    1.0 / (1.0 + (-t).exp())
}

/// problems.md §1: R(y) = -(sigmoid(y) - sigmoid(y - 10)).
fn hump_r(y: f64) -> f64 {
    -(sigmoid(y) - sigmoid(y - 10.0))
}

/// Three-hump camel, written out from problems.md §1.
fn camel(p1: f64, p2: f64) -> f64 {
    2.0 * p1.powi(2) - 1.05 * p1.powi(4) + p1.powi(6) / 6.0 + p1 * p2 + p2.powi(2)
}

/// Composite Simpson rule of `f` on `[a, b]` with `n` (even) intervals.
fn simpson(f: impl Fn(f64) -> f64, a: f64, b: f64, n: usize) -> f64 {
    let h = (b - a) / n as f64;
    let mut s = f(a) + f(b);
    for i in 1..n {
        let w = if i % 2 == 1 { 4.0 } else { 2.0 };
        s += w * f(a + i as f64 * h);
    }
    s * h / 3.0
}

/// `E[R]` of the three-hump simulator at mixing parameter `p`, by quadrature.
///
/// Given component j and `x_j`, `loc ~ N(x_j h, 1)` and `y ~ N(loc, 1)`, so
/// `y | x_j ~ N(x_j h, sqrt 2)`. Hence
/// `E[R] = q1 E_{x1 ~ U(-2,2)}[I(x1 h)] + q2 E_{x2 ~ U(0,5)}[I(x2 h)]`
/// with `q_j = |p_j| / (|p1| + |p2|)` and
/// `I(mu) = int R(y) N(y; mu, sqrt 2) dy`, integrated over mu +- 12 sd
/// (the tails beyond hold < 1e-32 of the mass, and |R| < 1). Simpson with
/// these step sizes is accurate to far better than 1e-6 here: the
/// integrands are smooth on a scale of about 1.
fn hump_expectation(p: [f64; 2]) -> f64 {
    let h = camel(p[0], p[1]);
    let sd = 2f64.sqrt();
    let inner = |mu: f64| {
        simpson(
            |y| {
                hump_r(y) * (-(y - mu).powi(2) / (2.0 * sd * sd)).exp()
                    / (sd * (2.0 * std::f64::consts::PI).sqrt())
            },
            mu - 12.0 * sd,
            mu + 12.0 * sd,
            1200,
        )
    };
    let q1 = p[0].abs() / (p[0].abs() + p[1].abs());
    let e1 = simpson(|x| inner(x * h), -2.0, 2.0, 400) / 4.0;
    let e2 = simpson(|x| inner(x * h), 0.0, 5.0, 400) / 5.0;
    q1 * e1 + (1.0 - q1) * e2
}

/// Plain Rosenbrock without the factor 100 (problems.md §2).
fn rosen(p: &[f64]) -> f64 {
    (0..p.len() - 1)
        .map(|i| (p[i + 1] - p[i] * p[i]).powi(2) + (1.0 - p[i]).powi(2))
        .sum()
}

/// Central finite-difference gradient of `f` with step `h`.
fn fd_gradient(f: impl Fn(&[f64]) -> f64, p: &[f64], h: f64) -> Vec<f64> {
    (0..p.len())
        .map(|i| {
            let mut up = p.to_vec();
            let mut down = p.to_vec();
            up[i] += h;
            down[i] -= h;
            (f(&up) - f(&down)) / (2.0 * h)
        })
        .collect()
}

/// Asserts `|mean - expected| <= 4 se` and reports the numbers.
fn assert_within_4se(what: &str, mean: f64, se: f64, expected: f64) {
    eprintln!("{what}: MC mean {mean:.5} +- {se:.5} (se), expected {expected:.5}");
    assert!(se > 0.0 && se.is_finite(), "{what}: se = {se}");
    assert!(
        (mean - expected).abs() <= 4.0 * se,
        "{what}: MC mean {mean} differs from {expected} by more than 4 se = {}",
        4.0 * se
    );
}

fn problem(name: &str) -> Problem {
    by_name(name).unwrap()
}

// ---------------------------------------------------------------------------
// Registry.
// ---------------------------------------------------------------------------

#[test]
fn every_problem_builds_with_its_dimensions() {
    // problems.md §1-5: (psi, x, y) dimensions.
    let expected = [
        ("three-hump", Dims { psi: 2, x: 2, y: 1 }),
        (
            "rosenbrock",
            Dims {
                psi: 10,
                x: 1,
                y: 1,
            },
        ),
        (
            "submanifold-rosenbrock",
            Dims {
                psi: 100,
                x: 1,
                y: 1,
            },
        ),
        (
            "submanifold-hump",
            Dims {
                psi: 40,
                x: 2,
                y: 1,
            },
        ),
        (
            "boston-nn",
            Dims {
                psi: 91,
                x: 13,
                y: 1,
            },
        ),
        // muon_shield.md §10
        (
            "muon-shield",
            Dims {
                psi: 42,
                x: 7,
                y: 2,
            },
        ),
    ];
    assert_eq!(NAMES.len(), expected.len());
    for (name, dims) in expected {
        assert!(NAMES.contains(&name), "{name} missing from NAMES");
        let p = problem(name);
        assert_eq!(p.name, name);
        assert_eq!(p.simulator.name(), name);
        assert_eq!(p.dims(), dims, "{name}");
        assert_eq!(p.start.len(), dims.psi, "{name}");
        assert!(p.defaults.n_points > 0 && p.defaults.eps > 0.0, "{name}");
        assert!(p.target.is_finite() && !p.description.is_empty(), "{name}");
        assert_eq!(
            p.exact.is_some(),
            !matches!(name, "boston-nn" | "muon-shield"),
            "{name}: the Rosenbrock family has a closed form, the hump problems a \
             quadrature; Boston's E[R] is a data average we do not ship as exact"
        );
    }
    // Start points of problems.md.
    assert_eq!(problem("three-hump").start, vec![2.0, 0.0]);
    assert_eq!(problem("rosenbrock").start, vec![2.0; 10]);
    assert_eq!(problem("submanifold-rosenbrock").start, vec![0.0; 100]);
    let mut hump_start = vec![0.0; 40];
    hump_start[0] = 2.0;
    assert_eq!(problem("submanifold-hump").start, hump_start);
    let init: Vec<f64> = read_csv("boston_nn_init_psi.csv", false)
        .into_iter()
        .flatten()
        .collect();
    assert_eq!(problem("boston-nn").start, init);
    assert_eq!(init[90], 22.5328);

    assert!(matches!(
        by_name("no-such-problem"),
        Err(Error::UnknownProblem { .. })
    ));
}

// ---------------------------------------------------------------------------
// Rosenbrock (§2).
// ---------------------------------------------------------------------------

#[test]
fn rosenbrock_mean_at_start_is_45() {
    let p = problem("rosenbrock");
    // 9 terms of (2 - 4)^2 + (1 - 2)^2 = 5.
    let expected = 45.0;
    let exact = p.exact.as_ref().unwrap();
    assert_eq!(exact.value(&p.start), expected);
    assert_eq!(rosen(&p.start), expected);
    let (mean, se) = estimate_objective(&p, &p.start, 200_000, 11).unwrap();
    assert_within_4se("rosenbrock at start", mean, se, expected);
}

#[test]
fn rosenbrock_exact_value_and_gradient() {
    let p = problem("rosenbrock");
    let exact = p.exact.as_ref().unwrap();
    assert_eq!(exact.value(&[1.0; 10]), 0.0);
    assert_eq!(exact.gradient(&[1.0; 10]), vec![0.0; 10]);
    let points: [Vec<f64>; 3] = [
        vec![2.0; 10],
        (0..10).map(|i| 0.3 * i as f64 - 1.2).collect(),
        (0..10).map(|i| (i as f64 * 1.7).sin() * 1.5).collect(),
    ];
    for psi in &points {
        assert!((exact.value(psi) - rosen(psi)).abs() <= 1e-12 * rosen(psi).max(1.0));
        let g = exact.gradient(psi);
        let fd = fd_gradient(|q| exact.value(q), psi, 1e-5);
        // Central differences: truncation h^2/6 |g'''| ~ 1e-10 * 30, rounding
        // ~ 1e-16 * g / h ~ 1e-9; 1e-6 leaves a wide margin.
        for (a, b) in g.iter().zip(&fd) {
            assert!(
                (a - b).abs() < 1e-6,
                "gradient {a} vs finite difference {b} at {psi:?}"
            );
        }
    }
}

// ---------------------------------------------------------------------------
// Submanifold Rosenbrock (§3).
// ---------------------------------------------------------------------------

#[test]
fn submanifold_rosenbrock_matrix_is_the_shipped_orthonormal_one() {
    let file = read_csv("submanifold_rosenbrock_100x10.csv", false);
    assert_eq!(file.len(), 100);
    let a = SubmanifoldRosenbrock::shipped().unwrap();
    let m = a.matrix();
    assert_eq!((m.rows(), m.cols()), (100, 10));
    for (i, row) in file.iter().enumerate() {
        assert_eq!(m.row(i), row.as_slice());
    }
    // A^T A = I: the columns are a Q factor (problems.md §3).
    let mut worst = 0.0f64;
    for j in 0..10 {
        for k in 0..10 {
            let dot: f64 = file.iter().map(|r| r[j] * r[k]).sum();
            let target = if j == k { 1.0 } else { 0.0 };
            worst = worst.max((dot - target).abs());
        }
    }
    eprintln!("max |A^T A - I| = {worst:e}");
    assert!(worst < 1e-10);
}

#[test]
fn submanifold_rosenbrock_mean_at_zero_is_9() {
    let p = problem("submanifold-rosenbrock");
    let exact = p.exact.as_ref().unwrap();
    // psi = 0 gives psi A = 0: 9 terms of (0 - 0)^2 + (1 - 0)^2.
    assert_eq!(exact.value(&[0.0; 100]), 9.0);
    let (mean, se) = estimate_objective(&p, &p.start, 200_000, 12).unwrap();
    assert_within_4se("submanifold rosenbrock at 0", mean, se, 9.0);
}

#[test]
fn submanifold_rosenbrock_exact_value_and_gradient() {
    let a = read_csv("submanifold_rosenbrock_100x10.csv", false);
    let p = problem("submanifold-rosenbrock");
    let exact = p.exact.as_ref().unwrap();
    // psi = A 1 (the sum of the columns) gives psi A = 1^T A^T A = 1: a
    // minimum, value 0 up to the 1e-15 rounding of A^T A = I.
    let on_minimum: Vec<f64> = a.iter().map(|r| r.iter().sum()).collect();
    assert!(exact.value(&on_minimum) < 1e-20);
    assert!(exact.gradient(&on_minimum).iter().all(|g| g.abs() < 1e-12));
    let embed = |psi: &[f64]| -> Vec<f64> {
        (0..10)
            .map(|k| psi.iter().zip(&a).map(|(s, r)| s * r[k]).sum())
            .collect()
    };
    let points: [Vec<f64>; 2] = [
        (0..100).map(|i| (i as f64 * 0.37).cos()).collect(),
        (0..100).map(|i| 0.02 * i as f64 - 1.0).collect(),
    ];
    for psi in &points {
        let v = rosen(&embed(psi));
        assert!((exact.value(psi) - v).abs() <= 1e-12 * v.max(1.0));
        let g = exact.gradient(psi);
        assert_eq!(g.len(), 100);
        let fd = fd_gradient(|q| exact.value(q), psi, 1e-5);
        for (x, y) in g.iter().zip(&fd) {
            assert!(
                (x - y).abs() < 1e-6,
                "gradient {x} vs finite difference {y}"
            );
        }
    }
}

// ---------------------------------------------------------------------------
// Three hump (§1).
// ---------------------------------------------------------------------------

#[test]
fn three_hump_mean_at_start_matches_quadrature() {
    let p = problem("three-hump");
    // psi = (2, 0): component 2 has probability 0, h = 28/15.
    let expected = hump_expectation([2.0, 0.0]);
    // problems.md: "about -0.50" at the start.
    assert!((expected + 0.5).abs() < 0.05, "{expected}");
    let (mean, se) = estimate_objective(&p, &p.start, 200_000, 13).unwrap();
    assert_within_4se("three-hump at (2, 0)", mean, se, expected);
    // A point mixing both components: psi = (0.5, -1).
    let psi = [0.5, -1.0];
    let expected = hump_expectation(psi);
    let (mean, se) = estimate_objective(&p, &psi, 200_000, 14).unwrap();
    assert_within_4se("three-hump at (0.5, -1)", mean, se, expected);
}

#[test]
fn three_hump_exact_objective_matches_double_quadrature() {
    let p = problem("three-hump");
    let exact = p.exact.as_ref().expect("three hump has a quadrature E[R]");
    // The start, a mixed point, the optimum of problems.md (-0.858 at
    // (0, 1.23)), a point in the psi2 < 0 valley, a tiny-h point and a
    // large-h point; this file integrates over x and y directly, the
    // library through an antiderivative of R.
    for psi in [
        [2.0, 0.0],
        [0.5, -1.0],
        [0.0, 1.23],
        [1.56, -1.86],
        [1e-5, -2e-5],
        [3.0, 1.0],
    ] {
        let expected = hump_expectation(psi);
        let value = exact.value(&psi);
        assert!(
            (value - expected).abs() < 1e-6,
            "E[R]{psi:?}: {value} vs {expected}"
        );
        assert!(
            (lgso::problem::hump_expectation(psi) - value).abs() == 0.0,
            "the exported function is the exact objective"
        );
    }
    assert!((exact.value(&[0.0, 1.23]) + 0.858).abs() < 5e-4);
    for psi in [[0.5, -1.0], [1.5, -1.8], [2.0, 0.3]] {
        let grad = exact.gradient(&psi);
        let fd = fd_gradient(|q| hump_expectation([q[0], q[1]]), &psi, 1e-4);
        for j in 0..2 {
            assert!(
                (grad[j] - fd[j]).abs() < 1e-4,
                "grad E[R]{psi:?}[{j}]: {} vs {}",
                grad[j],
                fd[j]
            );
        }
    }
    // Undefined mixture and wrong lengths: NaN, never a panic.
    assert!(exact.value(&[0.0, 0.0]).is_nan());
    assert!(exact.value(&[1.0]).is_nan());
    assert!(exact.gradient(&[1.0, 2.0, 3.0]).iter().all(|g| g.is_nan()));
}

#[test]
fn three_hump_rejects_psi_zero() {
    let p = problem("three-hump");
    let e = draw(p.simulator.as_ref(), &[0.0, 0.0], 10, 1).unwrap_err();
    assert!(matches!(e, Error::Simulator { .. }), "{e}");
    let msg = e.to_string();
    assert!(msg.contains("psi"), "{msg}");
    eprintln!("psi = (0, 0): {msg}");
}

#[test]
fn three_hump_objective_tensor_matches_scalar_formula() {
    let p = problem("three-hump");
    let dev = Device::Cpu;
    let ys = [-200.0, -30.0, -1.0, 0.0, 0.5, 5.0, 9.9, 12.0, 40.0, 200.0];
    let b = ys.len();
    for (dtype, tol) in [(DType::F64, 1e-15), (DType::F32, 2e-7)] {
        let y = Tensor::from_slice(&ys, (b, 1), &dev)
            .unwrap()
            .to_dtype(dtype)
            .unwrap();
        let x = Tensor::zeros((b, 2), dtype, &dev).unwrap();
        let psi = Tensor::zeros((b, 2), dtype, &dev).unwrap();
        let r = p.objective.per_sample(&y, &x, &psi).unwrap();
        assert_eq!(r.dims(), &[b]);
        assert_eq!(r.dtype(), dtype);
        let r: Vec<f64> = r.to_dtype(DType::F64).unwrap().to_vec1().unwrap();
        for (yi, ri) in ys.iter().zip(&r) {
            // Tolerances: a few ulps of values of size <= 1 in each dtype.
            assert!(
                (ri - hump_r(*yi)).abs() <= tol * 4.0,
                "{dtype:?}: R({yi}) = {ri} vs {}",
                hump_r(*yi)
            );
        }
    }
    // The gradient is finite and equals R'(y) = s(y-10)(1-s(y-10)) - s(y)(1-s(y)),
    // also for |y| = 200 where exp(-y) would overflow.
    let y = Var::from_tensor(&Tensor::from_slice(&ys, (b, 1), &dev).unwrap()).unwrap();
    let x = Tensor::zeros((b, 2), DType::F64, &dev).unwrap();
    let r = p.objective.per_sample(y.as_tensor(), &x, &x).unwrap();
    let grads = r.sum_all().unwrap().backward().unwrap();
    let g: Vec<f64> = grads
        .get(y.as_tensor())
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap();
    for (yi, gi) in ys.iter().zip(&g) {
        let d = |t: f64| sigmoid(t) * (1.0 - sigmoid(t));
        let expected = d(yi - 10.0) - d(*yi);
        assert!(
            gi.is_finite() && (gi - expected).abs() < 1e-15,
            "R'({yi}) = {gi} vs {expected}"
        );
    }
}

// ---------------------------------------------------------------------------
// Submanifold hump (§4).
// ---------------------------------------------------------------------------

#[test]
fn submanifold_hump_mean_matches_quadrature_at_embedded_p() {
    let w1 = read_csv("submanifold_hump_w1_40x16.csv", false);
    let w2 = read_csv("submanifold_hump_w2_16x2.csv", false);
    let p = problem("submanifold-hump");
    // p = tanh(psi W1) W2 at psi = (2, 0, ..., 0): tanh(2 W1[0, :]) W2.
    let hidden: Vec<f64> = (0..16)
        .map(|k| {
            p.start
                .iter()
                .zip(&w1)
                .map(|(s, r)| s * r[k])
                .sum::<f64>()
                .tanh()
        })
        .collect();
    let embedded = [0, 1].map(|j| hidden.iter().zip(&w2).map(|(h, r)| h * r[j]).sum::<f64>());
    let sim = SubmanifoldHump::shipped().unwrap();
    let mine = sim.embed(&p.start);
    eprintln!("p at the submanifold-hump start: {embedded:?}");
    for j in 0..2 {
        assert!((mine[j] - embedded[j]).abs() < 1e-14);
    }
    let expected = hump_expectation(embedded);
    let (mean, se) = estimate_objective(&p, &p.start, 200_000, 15).unwrap();
    assert_within_4se("submanifold hump at start", mean, se, expected);
    let exact = p
        .exact
        .as_ref()
        .expect("submanifold hump has a quadrature E[R]");
    let value = exact.value(&p.start);
    assert!((value - expected).abs() < 1e-6, "{value} vs {expected}");
    // Its gradient against central differences of this file's quadrature
    // through this file's embedding, in 3 of the 40 directions.
    let embed = |psi: &[f64]| {
        let hidden: Vec<f64> = (0..16)
            .map(|k| {
                psi.iter()
                    .zip(&w1)
                    .map(|(s, r)| s * r[k])
                    .sum::<f64>()
                    .tanh()
            })
            .collect();
        [0, 1].map(|j| hidden.iter().zip(&w2).map(|(h, r)| h * r[j]).sum::<f64>())
    };
    let mut psi = p.start.clone();
    psi[3] = -0.4;
    psi[17] = 0.7;
    let grad = exact.gradient(&psi);
    assert_eq!(grad.len(), 40);
    for i in [0, 3, 17] {
        let mut up = psi.clone();
        let mut down = psi.clone();
        up[i] += 1e-4;
        down[i] -= 1e-4;
        let fd = (hump_expectation(embed(&up)) - hump_expectation(embed(&down))) / 2e-4;
        assert!(
            (grad[i] - fd).abs() < 1e-4,
            "d/dpsi_{i}: {} vs {fd}",
            grad[i]
        );
    }

    // psi = 0 gives p = 0: an error, never NaN.
    let e = draw(p.simulator.as_ref(), &[0.0; 40], 5, 1).unwrap_err();
    assert!(matches!(e, Error::Simulator { .. }), "{e}");
}

// ---------------------------------------------------------------------------
// Boston NN weights (§5).
// ---------------------------------------------------------------------------

/// y = w2 . tanh(W1 x + b1) + b2 with psi = [W1 (6x13 row-major), b1, w2, b2].
fn net_by_hand(psi: &[f64], x: &[f64]) -> f64 {
    let mut y = psi[90];
    for i in 0..6 {
        let mut pre = psi[78 + i];
        for j in 0..13 {
            pre += psi[i * 13 + j] * x[j];
        }
        y += psi[84 + i] * pre.tanh();
    }
    y
}

#[test]
fn boston_first_row_at_start() {
    let data = read_csv("boston_housing.csv", true);
    assert_eq!(data.len(), 506);
    let p = problem("boston-nn");
    let row0 = &data[0][..13];
    let medv0 = data[0][13];
    assert_eq!(medv0, 24.0);
    let expected_y = net_by_hand(&p.start, row0);
    let x = Matrix::from_vec(1, 13, row0.to_vec()).unwrap();
    let y = p
        .simulator
        .simulate(&p.start, &x, &mut rng_from_seed(0))
        .unwrap();
    eprintln!("boston row 1 at start: y = {}", y.as_slice()[0]);
    assert!((y.as_slice()[0] - expected_y).abs() < 1e-12);
    let samples = Samples {
        psi: Matrix::repeat_row(&p.start, 1),
        x,
        y,
    };
    let r = objective_values(p.objective.as_ref(), &samples).unwrap();
    assert!((r[0] - (expected_y - 24.0).powi(2)).abs() < 1e-10);

    // The rows are distinct, so MEDV(x) is well defined.
    let mut keys: Vec<Vec<u64>> = data
        .iter()
        .map(|r| r[..13].iter().map(|v| v.to_bits()).collect())
        .collect();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), 506);
}

#[test]
fn boston_mean_matches_average_over_the_data() {
    let data = read_csv("boston_housing.csv", true);
    let p = problem("boston-nn");
    // Rows are drawn uniformly, so E[R] is the mean over the 506 rows.
    let expected = data
        .iter()
        .map(|r| (net_by_hand(&p.start, &r[..13]) - r[13]).powi(2))
        .sum::<f64>()
        / data.len() as f64;
    let (mean, se) = estimate_objective(&p, &p.start, 200_000, 16).unwrap();
    assert_within_4se("boston-nn at start", mean, se, expected);
    // At other weights too: psi with small varied weights.
    let psi: Vec<f64> = (0..91).map(|i| 0.01 * ((i as f64) * 0.7).sin()).collect();
    let expected = data
        .iter()
        .map(|r| (net_by_hand(&psi, &r[..13]) - r[13]).powi(2))
        .sum::<f64>()
        / data.len() as f64;
    let (mean, se) = estimate_objective(&p, &psi, 200_000, 17).unwrap();
    assert_within_4se("boston-nn at varied weights", mean, se, expected);
}

// ---------------------------------------------------------------------------
// Determinism.
// ---------------------------------------------------------------------------

#[test]
fn draw_is_a_function_of_the_seed() {
    for name in NAMES {
        let p = problem(name);
        let a = draw(p.simulator.as_ref(), &p.start, 50, 7).unwrap();
        let b = draw(p.simulator.as_ref(), &p.start, 50, 7).unwrap();
        let c = draw(p.simulator.as_ref(), &p.start, 50, 8).unwrap();
        assert_eq!(a, b, "{name}: same seed, different samples");
        if *name == "muon-shield" {
            // common random numbers by design (muon_shield module docs):
            // every request tracks the same muons with the same streams
            assert_eq!(a, c, "{name}: CRN, yet the seed changed the samples");
        } else {
            assert_ne!(a.x, c.x, "{name}: different seeds, same x");
            assert_ne!(a.y, c.y, "{name}: different seeds, same y");
        }
        assert_eq!(a.len(), 50);
        assert!(a
            .psi
            .as_slice()
            .chunks(p.start.len())
            .all(|r| r == p.start.as_slice()));
        let r = objective_values(p.objective.as_ref(), &a).unwrap();
        assert_eq!(r.len(), 50);
        assert!(r.iter().all(|v| v.is_finite()), "{name}");
    }
}
