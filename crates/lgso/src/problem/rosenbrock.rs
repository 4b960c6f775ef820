//! The Rosenbrock family (paper section 4.2; problems.md §2 and §3) and the
//! noise model it shares ("YModel", problems.md "Noise model").
//!
//! Given a deterministic value `g(psi)`, one simulator call draws
//! `x ~ U(-10, 10)` (1-D), `l ~ N(x, 1)` and
//! `y ~ N(l + g(psi), 0.1 + 0.5 |l|)`; the objective is `R(y) = y`. Since
//! `E[l] = E[x] = 0`, `E[R] = g(psi)` exactly, so these problems come with a
//! closed-form [`ExactObjective`].
//!
//! - [`Rosenbrock`] (§2): `g = rosenbrock_g(psi)`, psi in R^10.
//! - [`SubmanifoldRosenbrock`] (§3): `g = rosenbrock_g(psi A)` with `A` the
//!   shipped 100x10 matrix with orthonormal columns, psi in R^100.

use std::sync::Arc;

use candle_core::Tensor;
use rand::Rng as _;
use rand_distr::StandardNormal;

use super::three_hump::y_column;
use super::{assets, Dims, ExactObjective, Objective, Problem, ProblemDefaults, Simulator};
use crate::data::Matrix;
use crate::error::{check_vector, Error, Result};
use crate::seed::Rng;

/// The Rosenbrock function without the usual factor 100 (problems.md §2):
/// `g(p) = sum_{i=1}^{n-1} [(p_{i+1} - p_i^2)^2 + (1 - p_i)^2]`, any length
/// `n` (0 for `n < 2`).
///
/// `g(1, ..., 1) = 0` (the minimum); `g(2, ..., 2) = 5 (n - 1)`.
pub fn rosenbrock_g(p: &[f64]) -> f64 {
    p.windows(2)
        .map(|w| {
            let (a, b) = (w[0], w[1]);
            (b - a * a).powi(2) + (1.0 - a).powi(2)
        })
        .sum()
}

/// The gradient of [`rosenbrock_g`], shape `[n]`:
/// `dg/dp_i = -4 p_i (p_{i+1} - p_i^2) - 2 (1 - p_i)` (for `i < n`) plus
/// `2 (p_i - p_{i-1}^2)` (for `i > 1`).
pub fn rosenbrock_gradient(p: &[f64]) -> Vec<f64> {
    let mut grad = vec![0.0; p.len()];
    for i in 1..p.len() {
        let (a, b) = (p[i - 1], p[i]);
        let inner = b - a * a;
        grad[i - 1] += -4.0 * a * inner - 2.0 * (1.0 - a);
        grad[i] += 2.0 * inner;
    }
    grad
}

/// Draws `count` inputs of the YModel noise: `x ~ U(-10, 10)`, `[count, 1]`.
fn ymodel_sample_x(count: usize, rng: &mut Rng) -> Matrix {
    let mut x = Matrix::zeros(count, 1);
    for v in x.as_mut_slice() {
        *v = rng.random_range(-10.0..10.0);
    }
    x
}

/// The YModel noise around `g` (problems.md "Noise model"): one
/// `y = l + g + (0.1 + 0.5 |l|) z2` with `l = x + z1` per row of `x`
/// (`[count, 1]`), shape `[count, 1]`.
///
/// # Errors
/// [`Error::Dimension`] when `x` does not have 1 column;
/// [`Error::Simulator`] when `g` is not finite (overflow at huge psi).
fn ymodel_simulate(
    problem: &str,
    psi: &[f64],
    g: f64,
    x: &Matrix,
    rng: &mut Rng,
) -> Result<Matrix> {
    if x.cols() != 1 {
        return Err(Error::Dimension {
            what: format!("x of problem {problem}"),
            expected: 1,
            found: x.cols(),
        });
    }
    if !g.is_finite() {
        return Err(Error::Simulator {
            problem: problem.to_string(),
            psi: psi.to_vec(),
            reason: format!("the Rosenbrock function overflows ({g}) at this psi"),
        });
    }
    let mut y = Matrix::zeros(x.rows(), 1);
    for (yi, &xi) in y.as_mut_slice().iter_mut().zip(x.as_slice()) {
        let l = xi + rng.sample::<f64, _>(StandardNormal);
        let scale = 0.1 + 0.5 * l.abs();
        *yi = l + g + scale * rng.sample::<f64, _>(StandardNormal);
    }
    Ok(y)
}

/// The Rosenbrock simulator (problems.md §2): `psi: [n]` (10 in the paper),
/// `x: [1]` (`U(-10, 10)`), `y: [1]` with `E[y] = g(psi)`,
/// `g(p) = sum_{i=1}^{n-1} [(p_{i+1} - p_i^2)^2 + (1 - p_i)^2]` (no factor
/// 100).
///
/// As an [`ExactObjective`], `value` is `g(psi)` and `gradient` its closed
/// form, `dg/dp_i = -4 p_i (p_{i+1} - p_i^2) - 2 (1 - p_i)` (for `i < n`)
/// plus `2 (p_i - p_{i-1}^2)` (for `i > 1`); a `psi` whose length is not `n`
/// gives NaN.
#[derive(Debug, Clone, Copy)]
pub struct Rosenbrock {
    n: usize,
}

impl Rosenbrock {
    /// The Rosenbrock simulator with `psi` in R^n.
    pub fn new(n: usize) -> Self {
        Rosenbrock { n }
    }
}

impl Default for Rosenbrock {
    /// The paper's 10-dimensional instance.
    fn default() -> Self {
        Rosenbrock::new(10)
    }
}

impl Simulator for Rosenbrock {
    fn name(&self) -> &str {
        "rosenbrock"
    }

    fn dims(&self) -> Dims {
        Dims {
            psi: self.n,
            x: 1,
            y: 1,
        }
    }

    fn sample_x(&self, count: usize, rng: &mut Rng) -> Matrix {
        ymodel_sample_x(count, rng)
    }

    fn simulate(&self, psi: &[f64], x: &Matrix, rng: &mut Rng) -> Result<Matrix> {
        check_vector("psi of problem rosenbrock", psi, self.n)?;
        ymodel_simulate(self.name(), psi, rosenbrock_g(psi), x, rng)
    }
}

impl ExactObjective for Rosenbrock {
    fn value(&self, psi: &[f64]) -> f64 {
        if psi.len() != self.n {
            return f64::NAN;
        }
        rosenbrock_g(psi)
    }

    fn gradient(&self, psi: &[f64]) -> Vec<f64> {
        if psi.len() != self.n {
            return vec![f64::NAN; self.n];
        }
        rosenbrock_gradient(psi)
    }
}

/// The submanifold Rosenbrock simulator (problems.md §3): `psi: [n]` (100 in
/// the paper), `x: [1]`, `y: [1]` with `E[y] = g(psi A)` (`g` as for
/// [`Rosenbrock`]) for an `[n, k]` matrix `A` (the shipped `[100, 10]` one
/// has orthonormal columns).
///
/// As an [`ExactObjective`], `value = g(psi A)` and
/// `gradient = A grad_g(psi A)` (chain rule), shape `[n]`; a `psi` whose
/// length is not `n` gives NaN.
#[derive(Debug, Clone)]
pub struct SubmanifoldRosenbrock {
    a: Matrix,
}

impl SubmanifoldRosenbrock {
    /// The problem with embedding `a: [n, k]` (psi in R^n, Rosenbrock in
    /// R^k).
    pub fn new(a: Matrix) -> Self {
        SubmanifoldRosenbrock { a }
    }

    /// The paper's instance: `A` from `data/submanifold_rosenbrock_100x10.csv`
    /// (Q of the QR of a 100x10 standard-normal matrix, numpy seed 1337).
    ///
    /// # Errors
    /// [`Error::Data`] if the shipped file is corrupt.
    pub fn shipped() -> Result<Self> {
        Ok(SubmanifoldRosenbrock::new(
            assets::submanifold_rosenbrock_a()?,
        ))
    }

    /// The embedding `A`, `[n, k]`.
    pub fn matrix(&self) -> &Matrix {
        &self.a
    }

    /// The row vector `psi A`, `[k]` (`psi: [n]`; extra or missing entries
    /// of a wrong-length `psi` are ignored / treated as 0).
    pub fn embed(&self, psi: &[f64]) -> Vec<f64> {
        let mut p = vec![0.0; self.a.cols()];
        for (i, &s) in psi.iter().enumerate().take(self.a.rows()) {
            for (pk, &aik) in p.iter_mut().zip(self.a.row(i)) {
                *pk += s * aik;
            }
        }
        p
    }
}

impl Simulator for SubmanifoldRosenbrock {
    fn name(&self) -> &str {
        "submanifold-rosenbrock"
    }

    fn dims(&self) -> Dims {
        Dims {
            psi: self.a.rows(),
            x: 1,
            y: 1,
        }
    }

    fn sample_x(&self, count: usize, rng: &mut Rng) -> Matrix {
        ymodel_sample_x(count, rng)
    }

    fn simulate(&self, psi: &[f64], x: &Matrix, rng: &mut Rng) -> Result<Matrix> {
        check_vector("psi of problem submanifold-rosenbrock", psi, self.a.rows())?;
        let g = rosenbrock_g(&self.embed(psi));
        ymodel_simulate(self.name(), psi, g, x, rng)
    }
}

impl ExactObjective for SubmanifoldRosenbrock {
    fn value(&self, psi: &[f64]) -> f64 {
        if psi.len() != self.a.rows() {
            return f64::NAN;
        }
        rosenbrock_g(&self.embed(psi))
    }

    fn gradient(&self, psi: &[f64]) -> Vec<f64> {
        let n = self.a.rows();
        if psi.len() != n {
            return vec![f64::NAN; n];
        }
        let inner = rosenbrock_gradient(&self.embed(psi));
        (0..n)
            .map(|i| self.a.row(i).iter().zip(&inner).map(|(a, g)| a * g).sum())
            .collect()
    }
}

/// The objective of the Rosenbrock family (problems.md "Noise model"):
/// `R(y) = y`; `y: [b, 1]` to `R: [b]`, same dtype. `x` and `psi` are
/// unused.
#[derive(Debug, Clone, Copy, Default)]
pub struct RosenbrockObjective;

impl Objective for RosenbrockObjective {
    fn per_sample(&self, y: &Tensor, _x: &Tensor, _psi: &Tensor) -> candle_core::Result<Tensor> {
        y_column(y)
    }
}

/// The Rosenbrock problem (problems.md §2): psi in R^10, start all 2
/// (`E[R] = 45`), `N = 15`, `eps = 0.2`, target `E[R] = 1`; exact `E[R]`
/// and gradient.
pub fn problem() -> Problem {
    let sim = Arc::new(Rosenbrock::new(10));
    Problem {
        name: "rosenbrock",
        description:
            "10-D Rosenbrock (no factor 100) observed through heteroscedastic Gaussian noise",
        simulator: sim.clone(),
        objective: Arc::new(RosenbrockObjective),
        start: vec![2.0; 10],
        defaults: ProblemDefaults {
            n_points: 15,
            eps: 0.2,
            samples_per_point: 3000,
            lr: 0.1,
        },
        target: 1.0,
        exact: Some(sim),
        bounds: None,
        psi_names: None,
    }
}

/// The submanifold Rosenbrock problem (problems.md §3): psi in R^100, start
/// all 0 (`E[R] = 9`), `N = 20`, `eps = 0.2`, target `E[R] = 1`; exact
/// `E[R]` and gradient.
///
/// # Errors
/// [`Error::Data`] if the shipped matrix file is corrupt.
pub fn submanifold_problem() -> Result<Problem> {
    let sim = Arc::new(SubmanifoldRosenbrock::shipped()?);
    Ok(Problem {
        name: "submanifold-rosenbrock",
        description:
            "10-D Rosenbrock of psi A, a 10-D linear submanifold of psi in R^100, with noise",
        simulator: sim.clone(),
        objective: Arc::new(RosenbrockObjective),
        start: vec![0.0; 100],
        defaults: ProblemDefaults {
            n_points: 20,
            eps: 0.2,
            samples_per_point: 3000,
            lr: 0.1,
        },
        target: 1.0,
        exact: Some(sim),
        bounds: None,
        psi_names: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seed::rng_from_seed;

    #[test]
    fn g_by_hand() {
        assert_eq!(rosenbrock_g(&[1.0; 10]), 0.0);
        // Each of the 9 terms: (2 - 4)^2 + (1 - 2)^2 = 5.
        assert_eq!(rosenbrock_g(&[2.0; 10]), 45.0);
        // (1 - 0)^2 + (2 - 0)^2 ... one term: (b - a^2)^2 + (1 - a)^2 at a=0, b=2.
        assert_eq!(rosenbrock_g(&[0.0, 2.0]), 5.0);
        assert_eq!(rosenbrock_g(&[3.0]), 0.0);
        assert_eq!(rosenbrock_gradient(&[1.0; 4]), vec![0.0; 4]);
        // n = 2 at (0, 2): d/da = -4*0*2 - 2*1 = -2, d/db = 2*2 = 4.
        assert_eq!(rosenbrock_gradient(&[0.0, 2.0]), vec![-2.0, 4.0]);
    }

    #[test]
    fn bad_shapes_are_errors_or_nan() {
        let r = Rosenbrock::default();
        let mut rng = rng_from_seed(3);
        let x = r.sample_x(4, &mut rng);
        assert!(matches!(
            r.simulate(&[1.0; 9], &x, &mut rng),
            Err(Error::Dimension { .. })
        ));
        assert!(matches!(
            r.simulate(&[1.0; 10], &Matrix::zeros(4, 2), &mut rng),
            Err(Error::Dimension { .. })
        ));
        assert!(matches!(
            r.simulate(&[1e200; 10], &x, &mut rng),
            Err(Error::Simulator { .. })
        ));
        assert!(r.value(&[1.0; 3]).is_nan());
        assert_eq!(r.gradient(&[1.0; 3]).len(), 10);
    }
}
