//! The objectives (muon_shield.md §7): the L-GSO hits loss (§7.1) as a
//! per-sample [`Objective`] of `y = (X, Y)` and the muon's PDG code, and
//! the SHiP collaboration's mass-penalised FCN (§7.2) on f64 values.
//!
//! Muons that never reach the plane carry the sentinel
//! `y = (0, NOT_REACHED_Y_CM)` (see [`super`]); its `|Y| = 20 m` lies far
//! outside the acceptance `|Y| < 5 m`, so the loss is exactly 0 there and
//! flat around it.

use candle_core::Tensor;

use crate::problem::Objective;

/// Half-height of the acceptance, m (§7.1).
const ACCEPT_Y_M: f64 = 5.0;
/// Lower edge of the charge-folded acceptance `x' >= -3 m` (§7.1).
const ACCEPT_X_LO_M: f64 = -3.0;
/// Upper edge `x' <= 2.9 m` (§7.1).
const ACCEPT_X_HI_M: f64 = 2.9;

/// The hits-loss weight of one muon (§7.1 [S1, `PhysicsModel.loss`]):
/// with `x' = X` for mu- (pdg +13) and `x' = -X` for mu+ (pdg -13), in
/// metres, `w = 1[-3 <= x' <= 2.9, |Y| < 5] sqrt(1e-5 + (2.9 - x') / 5.9)`.
/// `hit` is `(X, Y)` in cm. 0 outside the acceptance.
pub fn hit_weight(hit: [f64; 2], pdg: f64) -> f64 {
    let xf = hit[0] * 0.01 * pdg.signum();
    let y = hit[1] * 0.01;
    if (ACCEPT_X_LO_M..=ACCEPT_X_HI_M).contains(&xf) && y.abs() < ACCEPT_Y_M {
        (1e-5 + ((ACCEPT_X_HI_M - xf) / 5.9).abs()).sqrt()
    } else {
        0.0
    }
}

/// The SHiP collaboration's per-muon weight (§7.2 [S15][S16]): as
/// [`hit_weight`] with 2.6 and 5.6 instead of 2.9 and 5.9, strict bounds
/// `-3 < x' < 2.6`, no 1e-5 floor, and only hits with momentum above
/// 1 GeV/c at the plane.
pub fn ship_weight(hit: [f64; 2], pdg: f64, p_plane: f64) -> f64 {
    let xf = hit[0] * 0.01 * pdg.signum();
    let y = hit[1] * 0.01;
    if p_plane > 1.0 && xf > -3.0 && xf < 2.6 && y.abs() < ACCEPT_Y_M {
        ((2.6 - xf) / 5.6).sqrt()
    } else {
        0.0
    }
}

/// SHiP's reference mass `W*`, kg (§7.2 [S15]).
pub const SHIP_W_STAR: f64 = 1_915_820.0;

/// The SHiP FCN (§7.2 [S15]): `(1 + exp(10 (W - W*) / W*)) (1 + sum_w)` for
/// a shield mass `W <= 3e6` kg, else `1e8`; `sum_w` is the sum of
/// [`ship_weight`] over one call's muons.
pub fn ship_fcn(sum_w: f64, mass_kg: f64) -> f64 {
    if mass_kg > 3e6 {
        1e8
    } else {
        (1.0 + (10.0 * (mass_kg - SHIP_W_STAR) / SHIP_W_STAR).exp()) * (1.0 + sum_w)
    }
}

/// The hits loss of §7.1 as a per-sample objective `R(y, x) = scale * w`:
/// `y = (X, Y)` in cm, the PDG code in the last column of `x`. With
/// `scale = 1` (the default) `E[R]` is the loss per muon; `scale = N`
/// reproduces the paper's sum over `N` muons per call.
///
/// Differentiable in `y` almost everywhere: the acceptance is a detached
/// 0/1 mask (gradient 0 outside, and across the edges), the weight a
/// square root bounded away from 0 (`>= sqrt(1e-5)`), so no NaN or
/// infinity appears at the edges or anywhere else.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HitsObjective {
    /// Factor on every muon's weight (1 = per muon, N = the paper's sum).
    pub scale: f64,
}

impl Default for HitsObjective {
    fn default() -> Self {
        HitsObjective { scale: 1.0 }
    }
}

impl Objective for HitsObjective {
    fn per_sample(&self, y: &Tensor, x: &Tensor, _psi: &Tensor) -> candle_core::Result<Tensor> {
        let dt = y.dtype();
        let d = x.dim(1)?;
        let hx = y.narrow(1, 0, 1)?.squeeze(1)?.affine(0.01, 0.0)?;
        let hy = y.narrow(1, 1, 1)?.squeeze(1)?.affine(0.01, 0.0)?;
        // sign of the pdg code: +1 for mu- (13), -1 for mu+ (-13)
        let sign = x
            .narrow(1, d - 1, 1)?
            .squeeze(1)?
            .ge(0.0)?
            .to_dtype(dt)?
            .affine(2.0, -1.0)?;
        let xf = (hx * sign)?;
        let mask = (xf.ge(ACCEPT_X_LO_M)?.to_dtype(dt)?
            * xf.le(ACCEPT_X_HI_M)?.to_dtype(dt)?
            * hy.abs()?.lt(ACCEPT_Y_M)?.to_dtype(dt)?)?;
        // sqrt(1e-5 + |(2.9 - x') / 5.9|); inside the window 2.9 - x' >= 0
        let w = xf
            .affine(-1.0 / 5.9, ACCEPT_X_HI_M / 5.9)?
            .abs()?
            .affine(1.0, 1e-5)?
            .sqrt()?;
        let r = (mask.detach() * w)?;
        if self.scale == 1.0 {
            Ok(r)
        } else {
            r.affine(self.scale, 0.0)
        }
    }
}
