//! The toy "quadratic" simulator: the model of `lgso-toy-sim --model
//! quadratic` and of `lgso bench-protocol`, run both as an external
//! simulator and in-process (the tests compare the two sample for sample).

use rand::Rng as _;
use rand_distr::StandardNormal;

use super::{Dims, Simulator};
use crate::data::Matrix;
use crate::error::{check_vector, Result};
use crate::seed::Rng;

/// A trivial stochastic simulator, the "quadratic" model of `lgso-toy-sim`:
/// `psi: [n]`, `x ~ U(0, 1)` (`d = 1`, unused by y),
/// `y = sum_j (psi_j - 1)^2 + 0.1 z`, `z ~ N(0, 1)` (`m = 1`). With
/// `R(y) = y`, `E[R] = ||psi - 1||^2` and `sd(y) = 0.1`.
///
/// Draw order per request (what makes an external and an in-process run
/// identical): all x first ([`Simulator::sample_x`]), then one normal per
/// sample.
#[derive(Debug, Clone, Copy)]
pub struct Quadratic {
    /// `n`, the dimension of psi.
    pub dim: usize,
}

impl Simulator for Quadratic {
    fn name(&self) -> &str {
        "quadratic"
    }

    fn dims(&self) -> Dims {
        Dims {
            psi: self.dim,
            x: 1,
            y: 1,
        }
    }

    fn sample_x(&self, count: usize, rng: &mut Rng) -> Matrix {
        let data = (0..count).map(|_| rng.random::<f64>()).collect();
        Matrix::from_vec(count, 1, data).unwrap_or_else(|_| Matrix::zeros(count, 1))
    }

    fn simulate(&self, psi: &[f64], x: &Matrix, rng: &mut Rng) -> Result<Matrix> {
        check_vector("psi of the quadratic simulator", psi, self.dim)?;
        let mean: f64 = psi.iter().map(|p| (p - 1.0) * (p - 1.0)).sum();
        let y = (0..x.rows())
            .map(|_| mean + 0.1 * rng.sample::<f64, _>(StandardNormal))
            .collect();
        Matrix::from_vec(x.rows(), 1, y)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quadratic_moments() {
        // y = ||psi - 1||^2 + 0.1 z: at psi = (3, 0), mean 5, sd 0.1; 4
        // standard errors over 4000 draws = 0.0063.
        let s = crate::problem::draw(&Quadratic { dim: 2 }, &[3.0, 0.0], 4000, 9).unwrap();
        let mean = s.y.as_slice().iter().sum::<f64>() / 4000.0;
        assert!((mean - 5.0).abs() < 0.0063, "{mean}");
        assert!(s.x.as_slice().iter().all(|v| (0.0..1.0).contains(v)));
    }
}
