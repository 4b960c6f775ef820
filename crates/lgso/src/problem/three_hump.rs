//! The probabilistic three-hump problem (paper section 4.1; problems.md §1).
//!
//! `psi` in R^2 parameterizes a mixture of two Gaussians:
//!
//! - `x1 ~ U(-2, 2)`, `x2 ~ U(0, 5)`;
//! - `loc_j ~ N(x_j h(psi), 1)` for `j = 1, 2`, with `h` the three-hump
//!   camel function [`h`];
//! - component `j` is picked with probability `|psi_j| / (|psi_1| + |psi_2|)`
//!   and `y ~ N(loc_j, 1)`;
//! - `R(y) = -(sigmoid(y) - sigmoid(y - 10))`, lowest (about -1) when `y`
//!   falls well inside `[0, 10]`.
//!
//! The simulator core, [`simulate_hump`], takes the 2-D mixing parameter
//! `p` explicitly so that the nonlinear submanifold hump (§4) can run it at
//! `p = tanh(psi W1) W2`.

use std::sync::Arc;

use candle_core::Tensor;
use rand::Rng as _;
use rand_distr::StandardNormal;

use super::{Dims, ExactObjective, Objective, Problem, ProblemDefaults, Simulator};
use crate::data::Matrix;
use crate::error::{check_vector, Error, Result};
use crate::seed::Rng;

/// Registry name of the problem.
const NAME: &str = "three-hump";

/// The three-hump camel function (problems.md §1):
/// `h(p) = 2 p1^2 - 1.05 p1^4 + p1^6 / 6 + p1 p2 + p2^2`.
///
/// `h(0, 0) = 0` (global minimum); `h(2, 0) = 8 - 16.8 + 64/6 = 28/15`.
pub fn h(p: [f64; 2]) -> f64 {
    let [p1, p2] = p;
    let p1_2 = p1 * p1;
    2.0 * p1_2 - 1.05 * p1_2 * p1_2 + p1_2 * p1_2 * p1_2 / 6.0 + p1 * p2 + p2 * p2
}

/// Draws `count` inputs of the three-hump simulator (problems.md §1):
/// `x1 ~ U(-2, 2)`, `x2 ~ U(0, 5)`, shape `[count, 2]`.
pub(crate) fn sample_x_hump(count: usize, rng: &mut Rng) -> Matrix {
    let mut x = Matrix::zeros(count, 2);
    for row in x.as_mut_slice().chunks_exact_mut(2) {
        row[0] = rng.random_range(-2.0..2.0);
        row[1] = rng.random_range(0.0..5.0);
    }
    x
}

/// The three-hump simulator at mixing parameter `p` (problems.md §1): one
/// `y` per row of `x` (`[count, 2]`), shape `[count, 1]`.
///
/// For each row, in this order: `loc_1 = x1 h(p) + z1`,
/// `loc_2 = x2 h(p) + z2`, `u ~ U(0, 1)` picks component 1 when
/// `u < |p1| / (|p1| + |p2|)`, and `y = loc_j + z3`, with `z1, z2, z3`
/// standard normal.
///
/// `problem` and `psi` only label errors; in messages, `symbol` names `p`
/// (`"psi"` for problem 1, `"p"` for problem 4) and `label` introduces it
/// (`"psi"`, `"p = tanh(psi W1) W2"`).
///
/// # Errors
/// [`Error::Simulator`] when `p = (0, 0)` (no valid component
/// probabilities), when `p` is not finite, or when `h(p)` overflows;
/// [`Error::Dimension`] when `x` does not have 2 columns.
pub(crate) fn simulate_hump(
    problem: &str,
    psi: &[f64],
    symbol: &str,
    label: &str,
    p: [f64; 2],
    x: &Matrix,
    rng: &mut Rng,
) -> Result<Matrix> {
    if x.cols() != 2 {
        return Err(Error::Dimension {
            what: format!("x of problem {problem}"),
            expected: 2,
            found: x.cols(),
        });
    }
    let (hp, prob_first) = check_hump(problem, psi, symbol, label, p)?;
    let mut y = Vec::with_capacity(x.rows());
    for i in 0..x.rows() {
        let row = x.row(i);
        let (x1, x2) = (row[0], row[1]);
        let loc1 = x1 * hp + rng.sample::<f64, _>(StandardNormal);
        let loc2 = x2 * hp + rng.sample::<f64, _>(StandardNormal);
        let u: f64 = rng.random();
        let loc = if u < prob_first { loc1 } else { loc2 };
        y.push(loc + rng.sample::<f64, _>(StandardNormal));
    }
    Matrix::from_vec(x.rows(), 1, y)
}

/// Checks the mixing parameter `p` of the three-hump simulator without
/// simulating (labels as [`simulate_hump`]); returns `h(p)` and the
/// probability of component 1, `|p1| / (|p1| + |p2|)`.
///
/// # Errors
/// [`Error::Simulator`] when `p = (0, 0)` (no valid component
/// probabilities), when `p` is not finite, or when `h(p)` overflows.
pub(crate) fn check_hump(
    problem: &str,
    psi: &[f64],
    symbol: &str,
    label: &str,
    p: [f64; 2],
) -> Result<(f64, f64)> {
    let fail = |reason: String| Error::Simulator {
        problem: problem.to_string(),
        psi: psi.to_vec(),
        reason,
    };
    let [p1, p2] = p;
    if !(p1.is_finite() && p2.is_finite()) {
        return Err(fail(format!("{label} = ({p1:?}, {p2:?}) is not finite")));
    }
    let total = p1.abs() + p2.abs();
    if total == 0.0 {
        return Err(fail(format!(
            "{label} = (0, 0): the mixture probabilities |{symbol}_j| / (|{symbol}_1| + \
             |{symbol}_2|) are undefined; at least one component of {symbol} must be non-zero"
        )));
    }
    let hp = h(p);
    if !hp.is_finite() {
        return Err(fail(format!(
            "the three-hump function h({symbol}) overflows at {label} = ({p1:?}, {p2:?})"
        )));
    }
    Ok((hp, p1.abs() / total))
}

/// `softplus(t) = ln(1 + e^t)`, without overflow for large `|t|`.
fn softplus(t: f64) -> f64 {
    t.max(0.0) + (-t.abs()).exp().ln_1p()
}

/// An antiderivative of `R(y) = -(sigmoid(y) - sigmoid(y - 10))`:
/// `G(t) = softplus(t - 10) - softplus(t)` (since `softplus' = sigmoid`).
fn objective_antiderivative(t: f64) -> f64 {
    softplus(t - 10.0) - softplus(t)
}

/// `R(y) = -(sigmoid(y) - sigmoid(y - 10))` in `f64`, in the overflow-free
/// form `0.5 (tanh((y - 10) / 2) - tanh(y / 2))`.
fn objective_scalar(y: f64) -> f64 {
    0.5 * ((0.5 * y - 5.0).tanh() - (0.5 * y).tanh())
}

/// `E_z[f(sqrt(2) z)]` for `z ~ N(0, 1)`: composite Simpson over
/// `z in [-10, 10]` with 800 panels (the Gaussian tail beyond holds
/// `< 2e-23` of the mass; the integrands used here are bounded by
/// `10 + |t|` and smooth on a scale of 1, so the rule is accurate to about
/// `1e-12`).
fn gaussian_expectation(f: impl Fn(f64) -> f64) -> f64 {
    const PANELS: usize = 800;
    const HALF_WIDTH: f64 = 10.0;
    let step = 2.0 * HALF_WIDTH / PANELS as f64;
    let sd = std::f64::consts::SQRT_2;
    let norm = 1.0 / (2.0 * std::f64::consts::PI).sqrt();
    let mut sum = 0.0;
    for i in 0..=PANELS {
        let z = -HALF_WIDTH + i as f64 * step;
        let weight = if i == 0 || i == PANELS {
            1.0
        } else if i % 2 == 1 {
            4.0
        } else {
            2.0
        };
        sum += weight * f(sd * z) * norm * (-0.5 * z * z).exp();
    }
    sum * step / 3.0
}

/// `E[R]` of one mixture component: `E_{x ~ U(a, b)} E[R(y)]` with
/// `y | x ~ N(x h, sqrt 2)` (`loc ~ N(x h, 1)`, `y ~ N(loc, 1)`).
///
/// Writing `y = x h + sqrt(2) z` and integrating over `x` first with the
/// antiderivative `G` of `R`:
/// `E = E_z[G(b h + sqrt(2) z) - G(a h + sqrt(2) z)] / (h (b - a))`.
/// When `|h (b - a)| < 1e-4` the difference quotient loses precision and
/// `E = E_z[R(h (a + b) / 2 + sqrt(2) z)]` is used instead (the error of
/// that midpoint value is below `1e-9` there: `|R''| < 1`).
fn component_expectation(hp: f64, a: f64, b: f64) -> f64 {
    let width = hp * (b - a);
    if width.abs() < 1e-4 {
        let mid = 0.5 * hp * (a + b);
        return gaussian_expectation(|s| objective_scalar(mid + s));
    }
    gaussian_expectation(|s| {
        objective_antiderivative(b * hp + s) - objective_antiderivative(a * hp + s)
    }) / width
}

/// `E[R](p)` of the three-hump simulator at mixing parameter `p`
/// (problems.md §1), by one-dimensional quadrature: with
/// `q1 = |p1| / (|p1| + |p2|)`,
/// `E[R] = q1 E_{x1 ~ U(-2, 2)}[I(x1 h(p))] + (1 - q1) E_{x2 ~ U(0, 5)}[I(x2 h(p))]`,
/// `I(mu) = E[R(y)]` for `y ~ N(mu, sqrt 2)` (see the private
/// `component_expectation` for the rule). Accurate to about `1e-10`.
///
/// `p = (0, 0)` (no mixture probabilities) and non-finite `p` give NaN.
/// Examples: `E[R](2, 0)` is about -0.499 (the start); the optimum is
/// -0.858 at `(0, +-1.23)`.
pub fn hump_expectation(p: [f64; 2]) -> f64 {
    let [p1, p2] = p;
    let total = p1.abs() + p2.abs();
    let hp = h(p);
    if total == 0.0 || !total.is_finite() || !hp.is_finite() {
        return f64::NAN;
    }
    let q1 = p1.abs() / total;
    let mut value = 0.0;
    if q1 > 0.0 {
        value += q1 * component_expectation(hp, -2.0, 2.0);
    }
    if q1 < 1.0 {
        value += (1.0 - q1) * component_expectation(hp, 0.0, 5.0);
    }
    value
}

/// Central-difference gradient of `f` at `psi` with relative step
/// `1e-6 * max(1, |psi_i|)`: accurate to about `1e-6` for the quadrature
/// values above (error `1e-10 / 1e-6` plus `O(step^2)` curvature terms).
/// At a kink of `f` (a zero coordinate of `p`, where `|p_j|` enters the
/// mixture weights) it returns the mean of the one-sided slopes.
pub(crate) fn central_gradient(f: impl Fn(&[f64]) -> f64, psi: &[f64]) -> Vec<f64> {
    let mut point = psi.to_vec();
    (0..psi.len())
        .map(|i| {
            let step = 1e-6 * psi[i].abs().max(1.0);
            point[i] = psi[i] + step;
            let up = f(&point);
            point[i] = psi[i] - step;
            let down = f(&point);
            point[i] = psi[i];
            (up - down) / (2.0 * step)
        })
        .collect()
}

/// Checks that `y` is `[b, 1]` and returns it as `[b]`.
///
/// # Errors
/// A tensor error naming the shape when `y` is not `[b, 1]`.
pub(super) fn y_column(y: &Tensor) -> candle_core::Result<Tensor> {
    match y.dims() {
        &[b, 1] => y.reshape(b),
        dims => Err(candle_core::Error::Msg(format!(
            "objective expects y of shape [b, 1], found {dims:?}"
        ))),
    }
}

/// The probabilistic three-hump simulator (problems.md §1): `psi: [2]`,
/// `x: [2]` (`x1 ~ U(-2, 2)`, `x2 ~ U(0, 5)`), `y: [1]`.
///
/// `psi = (0, 0)` is rejected with [`Error::Simulator`].
///
/// As an [`ExactObjective`], `value` is [`hump_expectation`] (quadrature,
/// about `1e-10`) and `gradient` its central difference (about `1e-6`); a
/// `psi` that is not 2-D or is `(0, 0)` gives NaN.
#[derive(Debug, Clone, Copy, Default)]
pub struct ThreeHump;

impl Simulator for ThreeHump {
    fn name(&self) -> &str {
        NAME
    }

    fn dims(&self) -> Dims {
        Dims { psi: 2, x: 2, y: 1 }
    }

    fn sample_x(&self, count: usize, rng: &mut Rng) -> Matrix {
        sample_x_hump(count, rng)
    }

    fn simulate(&self, psi: &[f64], x: &Matrix, rng: &mut Rng) -> Result<Matrix> {
        check_vector(&format!("psi of problem {NAME}"), psi, 2)?;
        simulate_hump(NAME, psi, "psi", "psi", [psi[0], psi[1]], x, rng)
    }

    fn check_psi(&self, psi: &[f64]) -> Result<()> {
        check_vector(&format!("psi of problem {NAME}"), psi, 2)?;
        check_hump(NAME, psi, "psi", "psi", [psi[0], psi[1]]).map(|_| ())
    }
}

impl ExactObjective for ThreeHump {
    fn value(&self, psi: &[f64]) -> f64 {
        match psi {
            &[p1, p2] => hump_expectation([p1, p2]),
            _ => f64::NAN,
        }
    }

    fn gradient(&self, psi: &[f64]) -> Vec<f64> {
        if psi.len() != 2 {
            return vec![f64::NAN; psi.len()];
        }
        central_gradient(|p| self.value(p), psi)
    }
}

/// The three-hump objective (problems.md §1):
/// `R(y) = -(sigmoid(y) - sigmoid(y - 10))`, in `(-1, 0)`; `y: [b, 1]` to
/// `R: [b]`, in the dtype of `y` (f32 or f64). `x` and `psi` are unused.
///
/// Computed as `0.5 (tanh((y - 10) / 2) - tanh(y / 2))`, which equals the
/// formula above (`sigmoid(t) = (1 + tanh(t / 2)) / 2`) and, unlike
/// `1 / (1 + exp(-t))`, neither overflows nor gives NaN gradients for large
/// `|y|`.
#[derive(Debug, Clone, Copy, Default)]
pub struct ThreeHumpObjective;

impl Objective for ThreeHumpObjective {
    fn per_sample(&self, y: &Tensor, _x: &Tensor, _psi: &Tensor) -> candle_core::Result<Tensor> {
        let y = y_column(y)?;
        let low = y.affine(0.5, 0.0)?.tanh()?;
        let high = y.affine(0.5, -5.0)?.tanh()?;
        (high - low)?.affine(0.5, 0.0)
    }
}

/// The probabilistic three-hump problem (problems.md §1): start `(2, 0)`
/// (`E[R]` about -0.50 there), `N = 4`, `eps = 0.5`, target `E[R] = -0.80`;
/// `E[R]` by quadrature ([`hump_expectation`]) as the exact objective.
pub fn problem() -> Problem {
    Problem {
        name: NAME,
        description: "probabilistic three-hump camel: a 2-component Gaussian mixture in psi (R^2)",
        simulator: Arc::new(ThreeHump),
        objective: Arc::new(ThreeHumpObjective),
        start: vec![2.0, 0.0],
        defaults: ProblemDefaults {
            n_points: 4,
            eps: 0.5,
            samples_per_point: 1000,
            lr: 0.3,
        },
        target: -0.80,
        exact: Some(Arc::new(ThreeHump)),
        bounds: None,
        psi_names: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seed::rng_from_seed;

    #[test]
    fn hump_values_by_hand() {
        assert_eq!(h([0.0, 0.0]), 0.0);
        // 2 - 1.05 + 1/6
        assert!((h([1.0, 0.0]) - (2.0 - 1.05 + 1.0 / 6.0)).abs() < 1e-15);
        // 8 - 16.8 + 64/6 = 28/15
        assert!((h([2.0, 0.0]) - 28.0 / 15.0).abs() < 1e-14);
        // 2 - 1.05 + 1/6 + 1 + 1
        assert!((h([1.0, 1.0]) - (4.0 - 1.05 + 1.0 / 6.0)).abs() < 1e-14);
        // p2 only: p2^2
        assert_eq!(h([0.0, -3.0]), 9.0);
    }

    #[test]
    fn zero_psi_and_bad_x_are_errors() {
        let mut rng = rng_from_seed(1);
        let x = ThreeHump.sample_x(3, &mut rng);
        let e = ThreeHump.simulate(&[0.0, 0.0], &x, &mut rng).unwrap_err();
        assert!(matches!(e, Error::Simulator { .. }), "{e}");
        assert!(e.to_string().contains("psi"), "{e}");
        let bad_x = Matrix::zeros(3, 1);
        let e = ThreeHump
            .simulate(&[1.0, 0.0], &bad_x, &mut rng)
            .unwrap_err();
        assert!(matches!(e, Error::Dimension { .. }), "{e}");
        let e = ThreeHump.simulate(&[1e300, 0.0], &x, &mut rng).unwrap_err();
        assert!(matches!(e, Error::Simulator { .. }), "{e}");
    }

    #[test]
    fn x_ranges_and_component_choice() {
        let mut rng = rng_from_seed(2);
        let x = ThreeHump.sample_x(2000, &mut rng);
        for i in 0..x.rows() {
            let r = x.row(i);
            assert!((-2.0..2.0).contains(&r[0]) && (0.0..5.0).contains(&r[1]));
        }
        // psi = (0, 1): component 2 only, h = 1, so y = x2 + N(0, sqrt 2) and
        // E[y] = E[x2] = 2.5 with sd sqrt(25/12 + 2) = 2.02; 4 standard
        // errors over 2000 draws = 0.18.
        let y = ThreeHump.simulate(&[0.0, 1.0], &x, &mut rng).unwrap();
        let mean = y.as_slice().iter().sum::<f64>() / 2000.0;
        assert!((mean - 2.5).abs() < 0.18, "{mean}");
    }
}
