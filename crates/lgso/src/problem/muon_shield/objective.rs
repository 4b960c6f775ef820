//! The objectives (muon_shield.md §7): the L-GSO hits loss (§7.1) as a
//! per-sample [`Objective`] of `y = (X, Y)` and the muon's PDG code, and
//! the SHiP collaboration's mass-penalised FCN (§7.2), both on f64 values
//! ([`ship_fcn`]) and as a per-sample [`Objective`] of `y`, `x` and psi
//! ([`ShipFcnObjective`]).
//!
//! Muons that never reach the plane carry the sentinel
//! `y = (0, NOT_REACHED_Y_CM)` (see [`super`]); its `|Y| = 20 m` lies far
//! outside the acceptance `|Y| < 5 m`, so the loss is exactly 0 there and
//! flat around it.

use candle_core::{DType, Tensor};

use super::geometry::{mass_and_gradient, GeometryOptions};
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

/// Above this mass, kg, SHiP's FCN is the constant [`SHIP_FCN_HEAVY`]
/// (§7.2 [S15]).
pub const SHIP_W_MAX: f64 = 3e6;

/// The FCN of a shield heavier than [`SHIP_W_MAX`] (§7.2 [S15]).
pub const SHIP_FCN_HEAVY: f64 = 1e8;

/// The default number of muons `N` whose weights the SHiP FCN sums: the
/// L-GSO paper's muons per call [S3].
pub const SHIP_DEFAULT_MUONS: usize = 50_000;

/// The momentum a hit needs at the plane to count in the SHiP FCN, GeV/c
/// (§7.2 [S15][S16]).
pub const SHIP_MIN_HIT_MOMENTUM: f64 = 1.0;

/// The SHiP FCN (§7.2 [S15]): `(1 + exp(10 (W - W*) / W*)) (1 + sum_w)` for
/// a shield mass `W <= 3e6` kg, else `1e8`; `sum_w` is the sum of
/// [`ship_weight`] over one call's muons.
pub fn ship_fcn(sum_w: f64, mass_kg: f64) -> f64 {
    if mass_kg > SHIP_W_MAX {
        SHIP_FCN_HEAVY
    } else {
        (1.0 + (10.0 * (mass_kg - SHIP_W_STAR) / SHIP_W_STAR).exp()) * (1.0 + sum_w)
    }
}

/// The charge-folded hit coordinate `x' = X sgn(pdg)` and `Y`, both in m
/// (`[b]` each), from `y = (X, Y)` in cm (`[b, 2]`) and the PDG code in
/// the last column of `x` (`[b, d]`): `x' = X` for mu- (pdg +13), `-X` for
/// mu+ (-13) (§7.1).
fn folded_hits(y: &Tensor, x: &Tensor) -> candle_core::Result<(Tensor, Tensor)> {
    let d = x.dim(1)?;
    let hx = y.narrow(1, 0, 1)?.squeeze(1)?.affine(0.01, 0.0)?;
    let hy = y.narrow(1, 1, 1)?.squeeze(1)?.affine(0.01, 0.0)?;
    let sign = x
        .narrow(1, d - 1, 1)?
        .squeeze(1)?
        .ge(0.0)?
        .to_dtype(y.dtype())?
        .affine(2.0, -1.0)?;
    Ok(((hx * sign)?, hy))
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
        let (xf, hy) = folded_hits(y, x)?;
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

/// The SHiP FCN of §7.2 as a per-sample objective of `y = (X, Y)` (cm),
/// the PDG code (last column of `x`) and psi (cm):
///
/// `R_i = (1 + exp(10 (W(psi) - W*) / W*)) (1 + N w_i)`,
///
/// `w_i` the SHiP weight of muon `i` ([`ship_weight`]; strict window
/// `-3 < x' < 2.6 m`, `|Y| < 5 m`), `W(psi)` the magnetised-iron mass
/// ([`mass_and_gradient`], §7.3), `W* = 1 915 820 kg`. Its mean over the
/// muons of one call is `E[R] = (1 + exp(...)) (1 + N E[w])`, SHiP's FCN
/// for a call of `N` muons (§7.2 sums the weights of one call's muons).
///
/// - The 1 GeV/c cut on the momentum at the plane is applied by the
///   simulator (`ShieldSimulator::min_hit_momentum`; `objective =
///   "ship_fcn"` sets it): a slower muon gets the not-reached sentinel,
///   where `w = 0` as the FCN requires.
/// - Heavier than `3e6 kg`: every `R_i` is `1e8` (SHiP did not simulate
///   such shields). Its gradient is that of the smooth formula above
///   (a straight-through estimate), so a gradient method that strays there
///   is pushed back toward lighter shields instead of seeing a flat 0.
/// - Differentiable in `y` almost everywhere: the window is a detached 0/1
///   mask and the square root has a `1e-12` floor (`w` changes by < 1e-6
///   only within 6e-12 m of the edge), so no NaN appears at the edges.
/// - Differentiable in psi through the mass (the mass is the closed form
///   of §7.3, its gradient exact; gap parameters have derivative 0 under
///   FairShip's gap rounding).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ShipFcnObjective {
    /// `N`, the muons whose weights the FCN sums (default 50 000).
    pub muons: f64,
    /// Geometry switches used for the mass (gap rounding).
    pub geometry: GeometryOptions,
}

impl Default for ShipFcnObjective {
    fn default() -> Self {
        ShipFcnObjective {
            muons: SHIP_DEFAULT_MUONS as f64,
            geometry: GeometryOptions::default(),
        }
    }
}

impl ShipFcnObjective {
    /// The mass `W` of every row of `psi` (`[b, 42]`, kg, `[b]`) and its
    /// gradient `dW/dpsi` as a tensor `[b, 42]` of `psi`'s dtype. When
    /// every row is the same psi (L-GSO's pathwise gradient, a monitor
    /// estimate) the mass is computed once and the gradient broadcast;
    /// otherwise once per run of equal rows. A row that is not a physical
    /// shield gets `W = NaN`, which makes its `R` NaN (never reached: the
    /// simulator refuses such psi first).
    fn masses(&self, psi: &Tensor) -> candle_core::Result<(Vec<f64>, Tensor)> {
        let (b, n) = psi.dims2()?;
        let rows = psi.to_dtype(DType::F64)?.to_vec2::<f64>()?;
        let of = |row: &[f64]| {
            mass_and_gradient(row, self.geometry).unwrap_or_else(|_| (f64::NAN, vec![0.0; n]))
        };
        let to_tensor = |g: Vec<f64>, shape: (usize, usize)| {
            Tensor::from_vec(g, shape, psi.device())?.to_dtype(psi.dtype())
        };
        if rows.windows(2).all(|w| w[0] == w[1]) {
            let (w, g) = rows.first().map_or((f64::NAN, vec![0.0; n]), |r| of(r));
            return Ok((vec![w; b], to_tensor(g, (1, n))?.broadcast_as((b, n))?));
        }
        let (mut w, mut g) = (Vec::with_capacity(b), Vec::with_capacity(b * n));
        let mut last: Option<(&Vec<f64>, f64, Vec<f64>)> = None;
        for row in &rows {
            if !matches!(&last, Some((prev, ..)) if *prev == row) {
                let (m, grad) = of(row);
                last = Some((row, m, grad));
            }
            let (_, m, grad) = last.as_ref().expect("set above");
            w.push(*m);
            g.extend_from_slice(grad);
        }
        Ok((w, to_tensor(g, (b, n))?))
    }
}

impl Objective for ShipFcnObjective {
    fn per_sample(&self, y: &Tensor, x: &Tensor, psi: &Tensor) -> candle_core::Result<Tensor> {
        let dt = y.dtype();
        let dev = y.device();
        let b = psi.dim(0)?;
        // the SHiP weight of every muon
        let (xf, hy) = folded_hits(y, x)?;
        let mask = (xf.gt(-3.0)?.to_dtype(dt)?
            * xf.lt(2.6)?.to_dtype(dt)?
            * hy.abs()?.lt(ACCEPT_Y_M)?.to_dtype(dt)?)?;
        let w = xf
            .affine(-1.0 / 5.6, 2.6 / 5.6)?
            .relu()?
            .affine(1.0, 1e-12)?
            .sqrt()?;
        let hits = (mask.detach() * w)?.affine(self.muons, 1.0)?;
        // the mass, exact in value and gradient: W0 + (psi - psi0) . dW/dpsi
        let (w0, grad) = self.masses(psi)?;
        let heavy: Vec<f64> = w0
            .iter()
            .map(|&w| if w > SHIP_W_MAX { 1.0 } else { 0.0 })
            .collect();
        let w0 = Tensor::from_vec(w0, b, dev)?.to_dtype(dt)?;
        let moved = (psi - psi.detach())?;
        let mass = ((moved * grad)?.sum(1)? + w0)?;
        let penalty = mass
            .affine(10.0 / SHIP_W_STAR, -10.0)?
            .exp()?
            .affine(1.0, 1.0)?;
        let r = (penalty * hits)?;
        if heavy.iter().all(|&h| h == 0.0) {
            return Ok(r);
        }
        let heavy = Tensor::from_vec(heavy, b, dev)?.to_dtype(dt)?;
        // value 1e8 where heavy, gradient of the smooth formula
        let jump = (r.affine(-1.0, SHIP_FCN_HEAVY)? * heavy)?.detach();
        r + jump
    }
}
