//! The trust-region projection of L-GSO (lgso.md, "One iteration", step 7).

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
}
