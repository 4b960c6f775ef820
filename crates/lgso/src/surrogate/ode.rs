//! A fixed-step ODE solver on tensor states, differentiable by ordinary
//! backpropagation through its steps ("discretize, then optimize").
//!
//! [`rk4`] is the classical fourth-order Runge-Kutta method (Hairer,
//! Norsett & Wanner, "Solving Ordinary Differential Equations I", 2nd ed.,
//! section II.1, the classical tableau): with step `h`,
//! `k1 = f(t, s)`, `k2 = f(t + h/2, s + h/2 k1)`, `k3 = f(t + h/2, s + h/2 k2)`,
//! `k4 = f(t + h, s + h k3)`, `s <- s + h/6 (k1 + 2 k2 + 2 k3 + k4)`; its
//! global error is `O(h^4)`. Every operation is a tracked tensor operation,
//! so one `backward` of a loss on the final state differentiates through all
//! steps (FFJORD's training and the L-GSO psi gradient through sampling).

use candle_core::Tensor;

use crate::error::{Error, Result};

/// `s + a * k` for every component of a state.
fn axpy(s: &[Tensor], a: f64, k: &[Tensor]) -> Result<Vec<Tensor>> {
    s.iter()
        .zip(k)
        .map(|(s, k)| Ok((s + k.affine(a, 0.0)?)?))
        .collect()
}

/// Integrates `ds/dt = f(t, s)` from `t0` to `t1` (either direction) with
/// `steps` classical RK4 steps of size `h = (t1 - t0) / steps`.
///
/// The state is a list of tensors (e.g. `[y: [b, m], logp: [b, 1]]`); `f`
/// returns the derivative of each, with the same shapes.
///
/// # Errors
/// [`Error::Surrogate`] if `steps` is 0 or `f` returns a different number of
/// components; errors of `f`.
pub fn rk4<F>(state: Vec<Tensor>, t0: f64, t1: f64, steps: usize, mut f: F) -> Result<Vec<Tensor>>
where
    F: FnMut(f64, &[Tensor]) -> Result<Vec<Tensor>>,
{
    if steps == 0 {
        return Err(Error::Surrogate(
            "the ODE solver needs at least 1 step".into(),
        ));
    }
    let h = (t1 - t0) / steps as f64;
    let mut s = state;
    let mut eval = |t: f64, s: &[Tensor]| -> Result<Vec<Tensor>> {
        let d = f(t, s)?;
        if d.len() != s.len() {
            return Err(Error::Surrogate(format!(
                "the ODE dynamics returned {} components for a state of {}",
                d.len(),
                s.len()
            )));
        }
        Ok(d)
    };
    for i in 0..steps {
        let t = t0 + i as f64 * h;
        let k1 = eval(t, &s)?;
        let k2 = eval(t + 0.5 * h, &axpy(&s, 0.5 * h, &k1)?)?;
        let k3 = eval(t + 0.5 * h, &axpy(&s, 0.5 * h, &k2)?)?;
        let k4 = eval(t + h, &axpy(&s, h, &k3)?)?;
        s = s
            .iter()
            .enumerate()
            .map(|(j, sj)| {
                let sum = ((&k1[j] + &k4[j])? + (&k2[j] + &k3[j])?.affine(2.0, 0.0)?)?;
                Ok((sj + sum.affine(h / 6.0, 0.0)?)?)
            })
            .collect::<Result<Vec<_>>>()?;
    }
    Ok(s)
}
