//! Latin hypercube sampling (McKay, Beckman & Conover 1979): the space-filling
//! design of L-GSO's trust region ([`super::trust_region`]) and
//! of BO's initial points.

use rand::seq::SliceRandom;
use rand::Rng as _;

use crate::data::Matrix;
use crate::seed::Rng;

/// A Latin hypercube sample of `count` points in the unit cube `[0, 1]^dim`:
/// shape `[count, dim]`.
///
/// Each axis is cut into `count` equal strata and every stratum holds exactly
/// one point (McKay, Beckman & Conover 1979); within its stratum the point is
/// uniform, and the strata are matched across axes by independent random
/// permutations.
pub fn latin_hypercube(count: usize, dim: usize, rng: &mut Rng) -> Matrix {
    let mut m = Matrix::zeros(count, dim);
    let mut perm: Vec<usize> = (0..count).collect();
    for j in 0..dim {
        perm.shuffle(rng);
        for (i, &stratum) in perm.iter().enumerate() {
            let u: f64 = rng.random();
            m.row_mut(i)[j] = (stratum as f64 + u) / count as f64;
        }
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seed::rng_from_seed;

    #[test]
    fn every_stratum_holds_exactly_one_point() {
        let mut rng = rng_from_seed(3);
        for &(count, dim) in &[(1, 3), (7, 2), (50, 10)] {
            let m = latin_hypercube(count, dim, &mut rng);
            for j in 0..dim {
                let mut seen = vec![0usize; count];
                for i in 0..count {
                    let v = m.get(i, j);
                    assert!((0.0..=1.0).contains(&v));
                    seen[((v * count as f64) as usize).min(count - 1)] += 1;
                }
                assert!(seen.iter().all(|&c| c == 1), "axis {j}: {seen:?}");
            }
        }
    }
}
