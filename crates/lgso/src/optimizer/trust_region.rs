//! The trust-region projection of L-GSO (lgso.md, "One iteration", step 7).

/// Projects `psi` (`[n]`) onto the closed Euclidean ball of radius `eps`
/// around `center` (`[n]`), in place: if `||psi - center||_2 > eps`, psi is
/// moved to `center + eps (psi - center) / ||psi - center||_2`.
/// Returns the length of the final step `||psi - center||_2`.
pub fn project_to_ball(psi: &mut [f64], center: &[f64], eps: f64) -> f64 {
    let norm = psi
        .iter()
        .zip(center)
        .map(|(p, c)| (p - c) * (p - c))
        .sum::<f64>()
        .sqrt();
    if norm > eps {
        let scale = eps / norm;
        for (p, c) in psi.iter_mut().zip(center) {
            *p = c + (*p - c) * scale;
        }
        eps
    } else {
        norm
    }
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
    }
}
