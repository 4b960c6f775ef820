//! The nonlinear submanifold hump problem (paper section 4.3; problems.md
//! §4): the probabilistic three-hump simulator (§1) run at the 2-D point
//! `p = tanh(psi W1) W2` of a 40-D parameter `psi`.
//!
//! `W1: [40, 16]` and `W2: [16, 2]` (orthonormal columns) are the shipped
//! matrices `data/submanifold_hump_w1_40x16.csv` and
//! `data/submanifold_hump_w2_16x2.csv`. `x`, `y` and `R` are those of §1.

use std::sync::Arc;

use super::three_hump::{
    central_gradient, check_hump, hump_expectation, sample_x_hump, simulate_hump,
    ThreeHumpObjective,
};
use super::{assets, Dims, ExactObjective, Problem, ProblemDefaults, Simulator};
use crate::data::Matrix;
use crate::error::{check_vector, Error, Result};
use crate::seed::Rng;

/// Registry name of the problem.
const NAME: &str = "submanifold-hump";

/// The nonlinear submanifold hump simulator (problems.md §4): `psi: [n]`
/// (40 in the paper), `x: [2]`, `y: [1]`; the three-hump simulator at
/// `p = tanh(psi W1) W2` with `W1: [n, k]`, `W2: [k, 2]`.
///
/// A `psi` with `p = (0, 0)` (e.g. `psi = 0`) is rejected with
/// [`Error::Simulator`].
///
/// As an [`ExactObjective`], `value` is the three-hump quadrature
/// [`hump_expectation`] at `p = tanh(psi W1) W2` and `gradient` its central
/// difference in `psi` (`2 n` quadratures, accurate to about `1e-6`); a
/// `psi` of the wrong length gives NaN.
#[derive(Debug, Clone)]
pub struct SubmanifoldHump {
    w1: Matrix,
    w2: Matrix,
}

impl SubmanifoldHump {
    /// The problem with embeddings `w1: [n, k]` and `w2: [k, 2]`.
    ///
    /// # Errors
    /// [`Error::Dimension`] when `w2` does not have 2 columns or its row
    /// count differs from the column count of `w1`.
    pub fn new(w1: Matrix, w2: Matrix) -> Result<Self> {
        if w2.cols() != 2 {
            return Err(Error::Dimension {
                what: "columns of W2 of the submanifold hump".into(),
                expected: 2,
                found: w2.cols(),
            });
        }
        if w2.rows() != w1.cols() {
            return Err(Error::Dimension {
                what: "rows of W2 of the submanifold hump (columns of W1)".into(),
                expected: w1.cols(),
                found: w2.rows(),
            });
        }
        Ok(SubmanifoldHump { w1, w2 })
    }

    /// The paper's instance with the shipped `W1: [40, 16]` and
    /// `W2: [16, 2]` (problems.md §4).
    ///
    /// # Errors
    /// [`Error::Data`] if a shipped file is corrupt.
    pub fn shipped() -> Result<Self> {
        SubmanifoldHump::new(
            assets::submanifold_hump_w1()?,
            assets::submanifold_hump_w2()?,
        )
    }

    /// `W1`, `[n, k]`.
    pub fn w1(&self) -> &Matrix {
        &self.w1
    }

    /// `W2`, `[k, 2]`.
    pub fn w2(&self) -> &Matrix {
        &self.w2
    }

    /// The mixing parameter `p = tanh(psi W1) W2` of the three-hump
    /// simulator (problems.md §4); `psi: [n]` (extra or missing entries of a
    /// wrong-length `psi` are ignored / treated as 0).
    pub fn embed(&self, psi: &[f64]) -> [f64; 2] {
        let mut hidden = vec![0.0; self.w1.cols()];
        for (i, &s) in psi.iter().enumerate().take(self.w1.rows()) {
            for (hk, &w) in hidden.iter_mut().zip(self.w1.row(i)) {
                *hk += s * w;
            }
        }
        let mut p = [0.0; 2];
        for (k, hk) in hidden.iter().enumerate() {
            let t = hk.tanh();
            let row = self.w2.row(k);
            p[0] += t * row[0];
            p[1] += t * row[1];
        }
        p
    }
}

impl ExactObjective for SubmanifoldHump {
    fn value(&self, psi: &[f64]) -> f64 {
        if psi.len() != self.w1.rows() {
            return f64::NAN;
        }
        hump_expectation(self.embed(psi))
    }

    fn gradient(&self, psi: &[f64]) -> Vec<f64> {
        if psi.len() != self.w1.rows() {
            return vec![f64::NAN; psi.len()];
        }
        central_gradient(|p| self.value(p), psi)
    }
}

impl Simulator for SubmanifoldHump {
    fn name(&self) -> &str {
        NAME
    }

    fn dims(&self) -> Dims {
        Dims {
            psi: self.w1.rows(),
            x: 2,
            y: 1,
        }
    }

    fn sample_x(&self, count: usize, rng: &mut Rng) -> Matrix {
        sample_x_hump(count, rng)
    }

    fn simulate(&self, psi: &[f64], x: &Matrix, rng: &mut Rng) -> Result<Matrix> {
        check_vector(&format!("psi of problem {NAME}"), psi, self.w1.rows())?;
        let p = self.embed(psi);
        simulate_hump(NAME, psi, "p", "p = tanh(psi W1) W2", p, x, rng)
    }

    fn check_psi(&self, psi: &[f64]) -> Result<()> {
        check_vector(&format!("psi of problem {NAME}"), psi, self.w1.rows())?;
        check_hump(NAME, psi, "p", "p = tanh(psi W1) W2", self.embed(psi)).map(|_| ())
    }
}

/// The nonlinear submanifold hump problem (problems.md §4): psi in R^40,
/// start `(2, 0, ..., 0)`, `N = 5` (the paper tried 3, 5, 10, 20),
/// `eps = 0.2`, target `E[R] = -0.80`, objective [`ThreeHumpObjective`];
/// `E[R]` by quadrature as the exact objective.
///
/// # Errors
/// [`Error::Data`] if a shipped matrix file is corrupt.
pub fn problem() -> Result<Problem> {
    let sim = Arc::new(SubmanifoldHump::shipped()?);
    let mut start = vec![0.0; sim.w1.rows()];
    if let Some(first) = start.first_mut() {
        *first = 2.0;
    }
    Ok(Problem {
        name: NAME,
        description:
            "three-hump mixture at p = tanh(psi W1) W2, a nonlinear 2-D submanifold of psi in R^40",
        simulator: sim.clone(),
        objective: Arc::new(ThreeHumpObjective),
        start,
        defaults: ProblemDefaults {
            n_points: 5,
            eps: 0.2,
            samples_per_point: 3000,
            lr: 0.1,
        },
        target: -0.80,
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
    fn embed_by_hand_and_zero_p_is_an_error() {
        // W1 = [[1, 0], [0, 1], [1, 1]], W2 = I.
        let w1 = Matrix::from_vec(3, 2, vec![1.0, 0.0, 0.0, 1.0, 1.0, 1.0]).unwrap();
        let w2 = Matrix::from_vec(2, 2, vec![1.0, 0.0, 0.0, 1.0]).unwrap();
        let s = SubmanifoldHump::new(w1, w2).unwrap();
        let p = s.embed(&[0.5, -1.0, 0.25]);
        assert!((p[0] - 0.75f64.tanh()).abs() < 1e-15);
        assert!((p[1] - (-0.75f64).tanh()).abs() < 1e-15);

        let mut rng = rng_from_seed(4);
        let x = s.sample_x(2, &mut rng);
        let e = s.simulate(&[0.0; 3], &x, &mut rng).unwrap_err();
        assert!(matches!(e, Error::Simulator { .. }), "{e}");
        assert!(e.to_string().contains("tanh(psi W1) W2"), "{e}");

        let bad = SubmanifoldHump::new(Matrix::zeros(3, 2), Matrix::zeros(3, 2));
        assert!(matches!(bad, Err(Error::Dimension { .. })));
    }
}
