//! The trust region of L-GSO and all of its geometry (lgso.md, "One
//! iteration"): the Latin-hypercube design in the box `[psi - eps, psi +
//! eps]` plus its centre (step 2), the box clipped to the problem's bounds,
//! psi clamped into the bounds, and the projection of a step onto the
//! Euclidean ball of radius eps around the previous psi (step 7).

use super::design::latin_hypercube;
use crate::data::Matrix;
use crate::seed::Rng;

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

/// Projects `psi` (`[n]`) onto the closed Euclidean ball of radius `eps`
/// around `center` (`[n]`), in place: if `||psi - center||_2 > eps`, psi is
/// moved to `center + eps (psi - center) / ||psi - center||_2`.
/// Returns the length of the final step `||psi - center||_2`.
pub fn project_to_ball(psi: &mut [f64], center: &[f64], eps: f64) -> f64 {
    let norm = distance(psi, center);
    if norm > eps {
        // scale by the largest component first so that huge steps (e.g. a
        // learning rate of 1e300) do not overflow the norm
        let big = psi
            .iter()
            .zip(center)
            .map(|(p, c)| (p - c).abs())
            .fold(0.0f64, f64::max);
        let unit_norm = distance_scaled(psi, center, big);
        for (p, c) in psi.iter_mut().zip(center) {
            *p = c + eps * ((*p - c) / big) / unit_norm;
        }
        distance(psi, center)
    } else {
        norm
    }
}

/// Euclidean distance `||a - b||_2`, without overflow for large components.
pub fn distance(a: &[f64], b: &[f64]) -> f64 {
    let big = a
        .iter()
        .zip(b)
        .map(|(p, c)| (p - c).abs())
        .fold(0.0f64, f64::max);
    if big == 0.0 || !big.is_finite() {
        return big;
    }
    big * distance_scaled(a, b, big)
}

fn distance_scaled(a: &[f64], b: &[f64], scale: f64) -> f64 {
    a.iter()
        .zip(b)
        .map(|(p, c)| ((p - c) / scale).powi(2))
        .sum::<f64>()
        .sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seed::rng_from_seed;

    #[test]
    fn projection_keeps_inside_points_and_scales_outside_ones() {
        // inside: unchanged
        let mut p = [1.1, 2.0];
        assert!((project_to_ball(&mut p, &[1.0, 2.0], 0.5) - 0.1).abs() < 1e-12);
        assert_eq!(p, [1.1, 2.0]);
        // outside: a 3-4-5 triangle, radius 1 -> (0.6, 0.8) from the centre
        let mut q = [3.0, 4.0];
        assert_eq!(project_to_ball(&mut q, &[0.0, 0.0], 1.0), 1.0);
        assert!((q[0] - 0.6).abs() < 1e-15 && (q[1] - 0.8).abs() < 1e-15);
        // offset centre
        let mut r = [1.0, 1.0, 1.0];
        project_to_ball(&mut r, &[1.0, 1.0, -1.0], 0.5);
        assert_eq!(r, [1.0, 1.0, -0.5]);
        // a step too large to square: still lands on the sphere, direction kept
        let mut s = [1e300, -1e300];
        let len = project_to_ball(&mut s, &[0.0, 0.0], 1.0);
        let h = std::f64::consts::FRAC_1_SQRT_2;
        assert!(
            (s[0] - h).abs() < 1e-15 && (s[1] + h).abs() < 1e-15,
            "{s:?}"
        );
        assert!((len - 1.0).abs() < 1e-15);
        assert!((distance(&[3e200, 4e200], &[0.0, 0.0]) / 5e200 - 1.0).abs() < 1e-15);
    }

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
