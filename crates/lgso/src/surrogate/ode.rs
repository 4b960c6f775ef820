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

/// An ODE solver and its settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Solver {
    /// Classical RK4 with a fixed number of steps ([`rk4`]).
    Rk4 {
        /// Steps over the interval.
        steps: usize,
    },
    /// Adaptive Dormand-Prince 5(4) ([`dopri5`]).
    Dopri5 {
        /// Relative tolerance of the local error.
        rtol: f64,
        /// Absolute tolerance of the local error.
        atol: f64,
        /// Initial step count (the first step is `(t1 - t0) / initial_steps`).
        initial_steps: usize,
    },
}

impl Solver {
    /// Integrates `ds/dt = f(t, s)` from `t0` to `t1` with this solver.
    ///
    /// # Errors
    /// As [`rk4`] and [`dopri5`].
    pub fn solve<F>(&self, state: Vec<Tensor>, t0: f64, t1: f64, f: F) -> Result<Vec<Tensor>>
    where
        F: FnMut(f64, &[Tensor]) -> Result<Vec<Tensor>>,
    {
        match *self {
            Solver::Rk4 { steps } => rk4(state, t0, t1, steps, f),
            Solver::Dopri5 {
                rtol,
                atol,
                initial_steps,
            } => dopri5(state, t0, t1, rtol, atol, initial_steps, f),
        }
    }
}

/// Most steps (accepted or rejected) [`dopri5`] takes before giving up.
pub const DOPRI5_MAX_STEPS: usize = 10_000;

/// `s + sum_j a_j k_j` for every component (zero coefficients skipped).
fn combine(s: &[Tensor], terms: &[(f64, &[Tensor])]) -> Result<Vec<Tensor>> {
    s.iter()
        .enumerate()
        .map(|(c, sc)| {
            let mut acc = sc.clone();
            for (a, k) in terms {
                if *a != 0.0 {
                    acc = (acc + k[c].affine(*a, 0.0)?)?;
                }
            }
            Ok(acc)
        })
        .collect()
}

/// Integrates `ds/dt = f(t, s)` from `t0` to `t1` (either direction) by the
/// adaptive Dormand-Prince 5(4) pair (Dormand & Prince 1980; Hairer, Norsett
/// & Wanner, "Solving ODEs I", section II.5, table 5.2), advancing with the
/// fifth-order solution. The step size is controlled on the detached values
/// (the choice of steps is not differentiated; the accepted steps are): a
/// step is accepted when the RMS over all entries of
/// `err / (atol + rtol max(|s|, |s_new|))` is at most 1, and the next step is
/// `h * clamp(0.9 err^(-1/5), 0.2, 5)` (Hairer et al., eq. 4.12-4.13). The
/// first step is `(t1 - t0) / initial_steps`.
///
/// # Errors
/// [`Error::Surrogate`] for non-positive tolerances, `initial_steps = 0`,
/// a non-finite error estimate or more than [`DOPRI5_MAX_STEPS`] steps;
/// errors of `f`.
pub fn dopri5<F>(
    state: Vec<Tensor>,
    t0: f64,
    t1: f64,
    rtol: f64,
    atol: f64,
    initial_steps: usize,
    mut f: F,
) -> Result<Vec<Tensor>>
where
    F: FnMut(f64, &[Tensor]) -> Result<Vec<Tensor>>,
{
    if !(rtol > 0.0 && atol > 0.0) || initial_steps == 0 {
        return Err(Error::Surrogate(format!(
            "Dormand-Prince needs rtol > 0, atol > 0 and initial_steps >= 1 (got {rtol}, {atol}, {initial_steps})"
        )));
    }
    const C: [f64; 6] = [0.2, 0.3, 0.8, 8.0 / 9.0, 1.0, 1.0];
    const A2: [f64; 1] = [0.2];
    const A3: [f64; 2] = [3.0 / 40.0, 9.0 / 40.0];
    const A4: [f64; 3] = [44.0 / 45.0, -56.0 / 15.0, 32.0 / 9.0];
    const A5: [f64; 4] = [
        19372.0 / 6561.0,
        -25360.0 / 2187.0,
        64448.0 / 6561.0,
        -212.0 / 729.0,
    ];
    const A6: [f64; 5] = [
        9017.0 / 3168.0,
        -355.0 / 33.0,
        46732.0 / 5247.0,
        49.0 / 176.0,
        -5103.0 / 18656.0,
    ];
    // fifth-order weights (also the 7th stage's row: first same as last)
    const B: [f64; 6] = [
        35.0 / 384.0,
        0.0,
        500.0 / 1113.0,
        125.0 / 192.0,
        -2187.0 / 6784.0,
        11.0 / 84.0,
    ];
    // fifth- minus fourth-order weights, stages 1-7
    const E: [f64; 7] = [
        35.0 / 384.0 - 5179.0 / 57600.0,
        0.0,
        500.0 / 1113.0 - 7571.0 / 16695.0,
        125.0 / 192.0 - 393.0 / 640.0,
        -2187.0 / 6784.0 + 92097.0 / 339200.0,
        11.0 / 84.0 - 187.0 / 2100.0,
        -1.0 / 40.0,
    ];
    let span = t1 - t0;
    if span == 0.0 {
        return Ok(state);
    }
    let dir = span.signum();
    let mut h = span / initial_steps as f64;
    let mut t = t0;
    let mut s = state;
    let mut k1 = f(t, &s)?;
    for _ in 0..DOPRI5_MAX_STEPS {
        if (t1 - t) * dir <= 1e-12 * span.abs() {
            return Ok(s);
        }
        if (t + h - t1) * dir > 0.0 {
            h = t1 - t;
        }
        let k2 = f(t + C[0] * h, &combine(&s, &[(h * A2[0], &k1)])?)?;
        let k3 = f(
            t + C[1] * h,
            &combine(&s, &[(h * A3[0], &k1), (h * A3[1], &k2)])?,
        )?;
        let k4 = f(
            t + C[2] * h,
            &combine(&s, &[(h * A4[0], &k1), (h * A4[1], &k2), (h * A4[2], &k3)])?,
        )?;
        let k5 = f(
            t + C[3] * h,
            &combine(
                &s,
                &[
                    (h * A5[0], &k1),
                    (h * A5[1], &k2),
                    (h * A5[2], &k3),
                    (h * A5[3], &k4),
                ],
            )?,
        )?;
        let k6 = f(
            t + C[4] * h,
            &combine(
                &s,
                &[
                    (h * A6[0], &k1),
                    (h * A6[1], &k2),
                    (h * A6[2], &k3),
                    (h * A6[3], &k4),
                    (h * A6[4], &k5),
                ],
            )?,
        )?;
        let ks = [&k1, &k2, &k3, &k4, &k5, &k6];
        let terms: Vec<(f64, &[Tensor])> = B
            .iter()
            .zip(ks)
            .map(|(b, k)| (h * b, k.as_slice()))
            .collect();
        let s_new = combine(&s, &terms)?;
        let k7 = f(t + C[5] * h, &s_new)?;
        // the error estimate on detached values, in f64
        let ks7 = [&k1, &k2, &k3, &k4, &k5, &k6, &k7];
        let mut sum = 0.0;
        let mut count = 0usize;
        for c in 0..s.len() {
            let mut e: Option<Tensor> = None;
            for (w, k) in E.iter().zip(ks7) {
                if *w != 0.0 {
                    let term = k[c].detach().affine(h * w, 0.0)?;
                    e = Some(match e {
                        None => term,
                        Some(acc) => (acc + term)?,
                    });
                }
            }
            let flat = |x: &Tensor| -> Result<Vec<f64>> {
                Ok(x.flatten_all()?
                    .to_dtype(candle_core::DType::F64)?
                    .to_vec1::<f64>()?)
            };
            let (ev, a, b) = match e {
                Some(e) => (flat(&e)?, flat(&s[c])?, flat(&s_new[c])?),
                None => continue,
            };
            for ((ei, ai), bi) in ev.iter().zip(&a).zip(&b) {
                let scale = atol + rtol * ai.abs().max(bi.abs());
                sum += (ei / scale).powi(2);
                count += 1;
            }
        }
        let err = (sum / count.max(1) as f64).sqrt();
        if !err.is_finite() {
            return Err(Error::Surrogate(format!(
                "the ODE error estimate is not finite at t = {t}"
            )));
        }
        let factor = if err == 0.0 {
            5.0
        } else {
            (0.9 * err.powf(-0.2)).clamp(0.2, 5.0)
        };
        if err <= 1.0 {
            t += h;
            s = s_new;
            k1 = k7; // first same as last
        }
        h *= factor;
    }
    Err(Error::Surrogate(format!(
        "the adaptive ODE solver did not reach t = {t1} in {DOPRI5_MAX_STEPS} steps (at t = {t}); \
         loosen ffjord.rtol/atol or use solver = \"rk4\""
    )))
}
