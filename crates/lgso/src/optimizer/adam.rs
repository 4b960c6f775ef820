//! Adam on psi (Kingma & Ba 2015, Algorithm 1), in `f64`, with its state as a
//! plain value so it can be kept across L-GSO iterations and saved, and the
//! one Adam step on psi every optimizer takes ([`adam_step`]).

use serde::{Deserialize, Serialize};

use super::trust_region::{clamp_to_bounds, distance, project_to_ball};
use crate::error::{Error, Result};

/// Adam's settings: learning rate, the two decay rates and the epsilon of
/// the denominator.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct AdamSettings {
    /// Learning rate.
    pub lr: f64,
    /// Decay rates of the first and second moments.
    pub betas: [f64; 2],
    /// Added to the denominator.
    pub eps: f64,
}

impl AdamSettings {
    /// Learning rate `lr` with `betas` and PyTorch's epsilon `1e-8`.
    pub fn new(lr: f64, betas: [f64; 2]) -> Self {
        AdamSettings {
            lr,
            betas,
            eps: 1e-8,
        }
    }

    /// A fresh Adam for `n` parameters.
    pub fn adam(&self, n: usize) -> Adam {
        Adam::new(n, self.lr, self.betas[0], self.betas[1], self.eps)
    }
}

/// Adam's settings and state for a parameter vector of dimension `n`.
///
/// Update (with bias correction, as in PyTorch's `torch.optim.Adam`):
/// `m <- b1 m + (1-b1) g`, `v <- b2 v + (1-b2) g^2`,
/// `psi <- psi - lr * (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Adam {
    /// Learning rate.
    pub lr: f64,
    /// Decay of the first moment.
    pub beta1: f64,
    /// Decay of the second moment.
    pub beta2: f64,
    /// Added to the denominator.
    pub eps: f64,
    /// First moment, `[n]`.
    pub m: Vec<f64>,
    /// Second moment, `[n]`.
    pub v: Vec<f64>,
    /// Steps taken.
    pub t: u64,
}

impl Adam {
    /// A fresh optimizer for `n` parameters.
    pub fn new(n: usize, lr: f64, beta1: f64, beta2: f64, eps: f64) -> Self {
        Adam {
            lr,
            beta1,
            beta2,
            eps,
            m: vec![0.0; n],
            v: vec![0.0; n],
            t: 0,
        }
    }

    /// Forgets the moments (used when `reuse_optimizer = false`).
    pub fn reset(&mut self) {
        self.m.iter_mut().for_each(|x| *x = 0.0);
        self.v.iter_mut().for_each(|x| *x = 0.0);
        self.t = 0;
    }

    /// Takes one step on `psi` (`[n]`) along `-grad` (`[n]`), in place.
    pub fn step(&mut self, psi: &mut [f64], grad: &[f64]) {
        self.t += 1;
        let t = self.t as i32;
        let c1 = 1.0 - self.beta1.powi(t);
        let c2 = 1.0 - self.beta2.powi(t);
        for i in 0..psi.len() {
            let g = grad[i];
            self.m[i] = self.beta1 * self.m[i] + (1.0 - self.beta1) * g;
            self.v[i] = self.beta2 * self.v[i] + (1.0 - self.beta2) * g * g;
            let m_hat = self.m[i] / c1;
            let v_hat = self.v[i] / c2;
            psi[i] -= self.lr * m_hat / (v_hat.sqrt() + self.eps);
        }
    }
}

/// One Adam step on `psi` along `-grad`, optionally projected onto the
/// ball of radius `project` around the previous psi
/// ([`project_to_ball`]), then clamped to the box `bounds` if given: the
/// step of L-GSO (lgso.md, "One iteration", step 7) and of every baseline
/// that steps with Adam. Returns the step length `||psi' - psi||`.
///
/// # Errors
/// [`Error::Diverged`] naming `method` (psi and Adam unchanged) when the
/// gradient or the new psi is not finite.
pub fn adam_step(
    method: &str,
    adam: &mut Adam,
    psi: &mut Vec<f64>,
    grad: &[f64],
    project: Option<f64>,
    bounds: Option<&[(f64, f64)]>,
) -> Result<f64> {
    if let Some(bad) = grad.iter().find(|g| !g.is_finite()) {
        return Err(Error::Diverged {
            method: method.to_string(),
            detail: format!("the gradient estimate holds {bad}"),
        });
    }
    let previous = psi.clone();
    let saved = adam.clone();
    adam.step(psi, grad);
    if let Some(eps) = project {
        project_to_ball(psi, &previous, eps);
    }
    if let Some(b) = bounds {
        clamp_to_bounds(psi, b);
    }
    if let Some(bad) = psi.iter().find(|v| !v.is_finite()) {
        let detail = format!("the step produced a non-finite psi ({bad})");
        *psi = previous;
        *adam = saved;
        return Err(Error::Diverged {
            method: method.to_string(),
            detail,
        });
    }
    Ok(distance(psi, &previous))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_steps_match_hand_computation() {
        // By hand: b1 = 0.9, b2 = 0.999, lr = 0.1, eps = 1e-8, g1 = (2, -0.5).
        // Step 1: m = 0.1 g, v = 0.001 g^2; m_hat = g, v_hat = g^2, so the
        // step is lr * sign(g) * |g| / (|g| + eps) ~= 0.1 per coordinate.
        let mut a = Adam::new(2, 0.1, 0.9, 0.999, 1e-8);
        let mut psi = [1.0, 1.0];
        a.step(&mut psi, &[2.0, -0.5]);
        assert!((psi[0] - (1.0 - 0.1 * 2.0 / (2.0 + 1e-8))).abs() < 1e-15);
        assert!((psi[1] - (1.0 + 0.1 * 0.5 / (0.5 + 1e-8))).abs() < 1e-15);
        // Step 2 with g2 = (1, 0.5):
        // m = 0.9*0.2 + 0.1*1 = 0.28;  v = 0.999*0.004 + 0.001*1 = 0.004996
        // m_hat = 0.28 / 0.19 = 1.473684...; v_hat = 0.004996 / 0.001999
        let m_hat = 0.28 / 0.19;
        let v_hat: f64 = 0.004996 / 0.001999;
        let expected0 = psi[0] - 0.1 * m_hat / (v_hat.sqrt() + 1e-8);
        // coordinate 2: m = 0.9*(-0.05) + 0.1*0.5 = 0.005; v = 0.999*0.00025 + 0.001*0.25
        let m_hat1 = 0.005 / 0.19;
        let v_hat1: f64 = (0.999 * 0.00025 + 0.00025) / 0.001999;
        let expected1 = psi[1] - 0.1 * m_hat1 / (v_hat1.sqrt() + 1e-8);
        a.step(&mut psi, &[1.0, 0.5]);
        assert!(
            (psi[0] - expected0).abs() < 1e-12,
            "{} vs {}",
            psi[0],
            expected0
        );
        assert!(
            (psi[1] - expected1).abs() < 1e-12,
            "{} vs {}",
            psi[1],
            expected1
        );
        // numerically: 1.473684 / sqrt(2.499250) = 0.932180, step 0.0932180
        assert!((expected0 - (1.0 - 0.1 * 2.0 / (2.0 + 1e-8) - 0.0932180)).abs() < 1e-6);
    }
}
