//! The trust-region design (paper, Algorithm 1, lines 3-4): Latin hypercube
//! points in the box `[psi - eps, psi + eps]`, plus the centre `psi`.

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

/// The L-GSO design around `psi` (`[n]`): `n_points` Latin-hypercube points
/// scaled to `psi + eps * (2u - 1)`, followed by `psi` itself. Shape
/// `[n_points + 1, n]` (lgso.md, "One iteration", step 2).
pub fn trust_region_design(psi: &[f64], eps: f64, n_points: usize, rng: &mut Rng) -> Matrix {
    let n = psi.len();
    let u = latin_hypercube(n_points, n, rng);
    let mut out = Matrix::zeros(n_points + 1, n);
    for i in 0..n_points {
        for (j, (o, p)) in out.row_mut(i).iter_mut().zip(psi).enumerate() {
            *o = p + eps * (2.0 * u.get(i, j) - 1.0);
        }
    }
    out.row_mut(n_points).copy_from_slice(psi);
    out
}

/// Clips the trust region to box bounds (issue #4, item 5): the first
/// `n_points` rows of a [`trust_region_design`] around `psi` are mapped
/// affinely, per coordinate, from `[psi - eps, psi + eps]` onto
/// `[max(psi - eps, lo), min(psi + eps, hi)]`, so the Latin-hypercube
/// strata stay one per point inside the bounds. The last row (`psi`
/// itself, inside the bounds) is unchanged. `bounds: [n]` pairs `(lo, hi)`.
pub fn clip_design(design: &mut Matrix, psi: &[f64], eps: f64, bounds: &[(f64, f64)]) {
    let rows = design.rows();
    for i in 0..rows.saturating_sub(1) {
        for (j, v) in design.row_mut(i).iter_mut().enumerate() {
            let (lo, hi) = bounds[j];
            let (a, b) = (psi[j] - eps, psi[j] + eps);
            let (ca, cb) = (a.max(lo), b.min(hi));
            *v = ca + (*v - a) / (b - a) * (cb - ca);
        }
    }
}

/// Projects `psi` onto box bounds (coordinate-wise clamp). Returns whether
/// anything moved.
pub fn clamp_to_bounds(psi: &mut [f64], bounds: &[(f64, f64)]) -> bool {
    let mut moved = false;
    for (v, &(lo, hi)) in psi.iter_mut().zip(bounds) {
        let c = v.clamp(lo, hi);
        moved |= c != *v;
        *v = c;
    }
    moved
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seed::rng_from_seed;

    #[test]
    fn clipped_design_stays_in_bounds_and_keeps_one_point_per_stratum() {
        let psi = [0.9, 0.0];
        let eps = 0.5;
        let bounds = [(-1.0, 1.0), (-0.2, 0.1)];
        let mut rng = rng_from_seed(5);
        let mut d = trust_region_design(&psi, eps, 8, &mut rng);
        clip_design(&mut d, &psi, eps, &bounds);
        // coordinate 0: [0.4, 1.4] clipped to [0.4, 1.0]; coordinate 1:
        // [-0.5, 0.5] clipped to [-0.2, 0.1]; strata of width 0.6/8, 0.3/8
        for (j, (lo, hi)) in [(0.4, 1.0), (-0.2, 0.1)].into_iter().enumerate() {
            let mut seen = [0usize; 8];
            for i in 0..8 {
                let v = d.get(i, j);
                assert!(
                    v >= lo - 1e-12 && v <= hi + 1e-12,
                    "{v} outside [{lo}, {hi}]"
                );
                let k = (((v - lo) / (hi - lo)) * 8.0).floor().min(7.0) as usize;
                seen[k] += 1;
            }
            assert_eq!(seen, [1; 8]);
        }
        assert_eq!(d.row(8), &psi);
        let mut p = [1.5, -0.3];
        assert!(clamp_to_bounds(&mut p, &bounds));
        assert_eq!(p, [1.0, -0.2]);
    }

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

    #[test]
    fn design_lies_in_the_box_and_ends_with_the_centre() {
        let mut rng = rng_from_seed(4);
        let psi = [2.0, -1.0, 0.5];
        let d = trust_region_design(&psi, 0.2, 15, &mut rng);
        assert_eq!((d.rows(), d.cols()), (16, 3));
        assert_eq!(d.row(15), &psi);
        for i in 0..15 {
            for (j, p) in psi.iter().enumerate() {
                assert!((d.get(i, j) - p).abs() <= 0.2);
            }
        }
        // stratification survives the affine map: one point per strip of
        // width 2 eps / N on each axis
        for (j, p) in psi.iter().enumerate() {
            let mut seen = [0; 15];
            for i in 0..15 {
                let u = (d.get(i, j) - p + 0.2) / 0.4;
                seen[((u * 15.0) as usize).min(14)] += 1;
            }
            assert!(seen.iter().all(|&c| c == 1));
        }
    }
}
