//! Step-by-step muon transport through the shield (muon_shield.md §6):
//! exact rotation in the piecewise-uniform field, mean (or partly
//! discrete) energy loss from the iron table, Highland multiple scattering
//! in its cumulative form, then a straight drift to the sensitive plane.
//!
//! Units: cm, GeV, GeV/c, tesla, radians.

use rand::{Rng, RngCore};
use rand_distr::StandardNormal;

use super::field::{classify, field, Region};
use super::geometry::{
    slab_middle, Section, Shield, ABSORBER_HALF_X, ABSORBER_HALF_Y, TUNNEL_HALF_SIZE,
    Z_ABSORBER_FIELD, Z_ABSORBER_START, Z_WALL_END, Z_WALL_START,
};
use super::materials::{
    highland_f, mean_discrete_fraction, Material, StoppingTable, CONCRETE, C_LIGHT, IRON, MUON_MASS,
};

/// Half-width of the sensitive plane in x, cm (20 m wide [S11][S12]).
pub const PLANE_HALF_X: f64 = 1000.0;
/// Half-height of the sensitive plane in y, cm (18 m high [S11][S12]).
pub const PLANE_HALF_Y: f64 = 900.0;

/// How energy loss is applied (§6.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnergyLoss {
    /// Mean loss only: `dE = rho S(T) ds` (fast mode).
    Mean,
    /// Ionisation and pair production continuous, brems and photonuclear
    /// loss as Poisson-distributed discrete events with the fraction `v`
    /// drawn from `(1/v)(4/3 - 4/3 v + v^2)` on `[0.01, 1]`; same mean.
    Discrete,
    /// No energy loss at all (for tests and studies of the field and the
    /// scattering alone).
    None,
}

/// Settings of the transport (§6.2, §10).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SimConfig {
    /// Largest step in matter or field, cm. Default 10 (5 "accurate", 20
    /// "fast").
    pub step_max_cm: f64,
    /// Energy-loss mode. Default [`EnergyLoss::Discrete`] (the spec's
    /// accurate mode).
    pub energy_loss: EnergyLoss,
    /// Gaussian multiple scattering in matter. Default true.
    pub scattering: bool,
    /// Multiplies every field (0 = field off, 0.9 = 10% weaker). Default 1.
    pub field_scale: f64,
    /// Kinetic energy below which a muon is stopped, GeV. Default 0.1.
    pub kill_t_gev: f64,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            step_max_cm: 10.0,
            energy_loss: EnergyLoss::Discrete,
            scattering: true,
            field_scale: 1.0,
            kill_t_gev: 0.1,
        }
    }
}

/// What happened to a muon (§6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// Hit the sensitive plane (`|X| <= 10 m`, `|Y| <= 9 m`).
    Reached,
    /// Ranged out (`T < kill_t_gev`) or entered the concrete around the
    /// absorber block.
    Stopped,
    /// Left the tunnel (`|x|` or `|y| > 10 m` in the shield) or missed the
    /// sensitive plane.
    LeftTunnel,
    /// Turned backwards (`d_z <= 0`).
    Backward,
}

impl Status {
    /// All statuses, in report order.
    pub const ALL: [Status; 4] = [
        Status::Reached,
        Status::Stopped,
        Status::LeftTunnel,
        Status::Backward,
    ];

    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Status::Reached => "reached",
            Status::Stopped => "stopped",
            Status::LeftTunnel => "left_tunnel",
            Status::Backward => "backward",
        }
    }
}

/// The fate of one muon.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Outcome {
    /// What happened.
    pub status: Status,
    /// Hit `(X, Y)` on the plane, cm (meaningful for `Reached`).
    pub hit: [f64; 2],
    /// Momentum at the plane (or where it ended), GeV/c.
    pub p: f64,
    /// Transport steps taken.
    pub steps: u32,
}

/// A per-muon random stream: xoshiro256++ (Blackman & Vigna 2018) seeded
/// by SplitMix64 from one 64-bit seed (§6.1). Fast to seed, so every muon
/// gets its own stream.
#[derive(Debug, Clone)]
pub struct MuonRng {
    s: [u64; 4],
}

impl MuonRng {
    /// A stream from `seed`.
    pub fn new(seed: u64) -> Self {
        let mut z = seed;
        let mut next = || {
            z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut x = z;
            x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            x ^ (x >> 31)
        };
        MuonRng {
            s: [next(), next(), next(), next()],
        }
    }
}

impl RngCore for MuonRng {
    fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }

    fn next_u64(&mut self) -> u64 {
        let s = &mut self.s;
        let result = s[0].wrapping_add(s[3]).rotate_left(23).wrapping_add(s[0]);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    fn fill_bytes(&mut self, dst: &mut [u8]) {
        for chunk in dst.chunks_mut(8) {
            let v = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }
}

/// The state of a muon in flight.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MuonState {
    /// Position, cm.
    pub r: [f64; 3],
    /// Unit direction.
    pub d: [f64; 3],
    /// Momentum, GeV/c.
    pub p: f64,
    /// Charge, +1 (mu+) or -1 (mu-).
    pub q: f64,
    /// Radiation lengths traversed so far.
    pub t_acc: f64,
    /// `highland_f(t_acc)`, kept so that a step evaluates `F` once; [`step`]
    /// keeps it equal to `highland_f(t_acc)` (build states with
    /// [`MuonState::new`] or [`MuonState::from_x`]).
    pub f_acc: f64,
}

impl MuonState {
    /// The state at the origin of muon `x` (`[px, py, pz, x0, y0, z0,
    /// pdg]`): charge `+1` for pdg -13 (mu+), `-1` for +13 (mu-).
    pub fn from_x(x: &[f64]) -> MuonState {
        let p = (x[0] * x[0] + x[1] * x[1] + x[2] * x[2]).sqrt();
        MuonState::new(
            [x[3], x[4], x[5]],
            [x[0] / p, x[1] / p, x[2] / p],
            p,
            if x[6] < 0.0 { 1.0 } else { -1.0 },
        )
    }

    /// A muon at `r` (cm) moving along the unit vector `d` with momentum
    /// `p` (GeV/c) and charge `q` (+1 mu+, -1 mu-) that has crossed no
    /// matter yet (`t_acc = f_acc = 0`, consistent).
    pub fn new(r: [f64; 3], d: [f64; 3], p: f64, q: f64) -> MuonState {
        MuonState {
            r,
            d,
            p,
            q,
            t_acc: 0.0,
            f_acc: 0.0,
        }
    }

    /// Kinetic energy, GeV.
    pub fn kinetic(&self) -> f64 {
        (self.p * self.p + MUON_MASS * MUON_MASS).sqrt() - MUON_MASS
    }
}

/// What fills the space at a step's midpoint.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Medium {
    /// The material, or `None` for air/vacuum (no loss, no scattering).
    pub material: Option<Material>,
    /// The field, T.
    pub b: [f64; 3],
}

/// `(sin a, cos a)`: a Taylor series for small angles (error < 3e-11 for
/// `|a| < 0.1`), the library function otherwise. The series multiplies by
/// reciprocal constants (a division costs ~5x a multiplication and this
/// runs twice per step).
#[inline]
fn sin_cos(a: f64) -> (f64, f64) {
    const S3: f64 = 1.0 / 6.0;
    const S5: f64 = 1.0 / 20.0;
    const S7: f64 = 1.0 / 42.0;
    const C2: f64 = 0.5;
    const C4: f64 = 1.0 / 12.0;
    const C6: f64 = 1.0 / 30.0;
    if a.abs() < 0.1 {
        let a2 = a * a;
        (
            a * (1.0 - a2 * S3 * (1.0 - a2 * S5 * (1.0 - a2 * S7))),
            1.0 - a2 * C2 * (1.0 - a2 * C4 * (1.0 - a2 * C6)),
        )
    } else {
        a.sin_cos()
    }
}

/// `1 / sqrt(s)` for `s` near 1 (a unit vector's squared norm after a
/// small change): the series `1 - x/2 + 3x^2/8 - 5x^3/16` in `x = s - 1`
/// (error < 3e-13 for `|x| < 1e-3`), the library functions otherwise.
#[inline]
fn inv_sqrt_near_one(s: f64) -> f64 {
    let x = s - 1.0;
    if x.abs() < 1e-3 {
        1.0 - x * (0.5 - x * (0.375 - x * 0.3125))
    } else {
        1.0 / s.sqrt()
    }
}

/// `r += a v`.
#[inline]
fn axpy(r: &mut [f64; 3], a: f64, v: &[f64; 3]) {
    for (ri, vi) in r.iter_mut().zip(v) {
        *ri += a * vi;
    }
}

/// Rodrigues' rotation of `v` about the unit vector `k` by the angles `a`
/// and `2 a` at once (they share `k x v` and `k . v`): returns
/// `(R(a) v, R(2 a) v)`.
#[inline]
fn rotate_half_full(v: [f64; 3], k: [f64; 3], a: f64) -> ([f64; 3], [f64; 3]) {
    let kxv = [
        k[1] * v[2] - k[2] * v[1],
        k[2] * v[0] - k[0] * v[2],
        k[0] * v[1] - k[1] * v[0],
    ];
    let kdv = k[0] * v[0] + k[1] * v[1] + k[2] * v[2];
    let rot = |s: f64, c: f64| {
        let kv = kdv * (1.0 - c);
        [
            v[0] * c + kxv[0] * s + k[0] * kv,
            v[1] * c + kxv[1] * s + k[1] * kv,
            v[2] * c + kxv[2] * s + k[2] * kv,
        ]
    };
    let (s, c) = sin_cos(a);
    // double angle: sin 2a = 2 s c, cos 2a = 1 - 2 s^2 (exact identities)
    (rot(s, c), rot(2.0 * s * c, 1.0 - 2.0 * s * s))
}

/// [`rotate_half_full`] for `k` the unit vector of axis `axis` (0: x,
/// 1: y): `R(a) v` and `R(2 a) v` as plane rotations. About x:
/// `(v0, v1 c - v2 s, v2 c + v1 s)`; about y: `(v0 c + v2 s, v1,
/// v2 c - v0 s)` (Rodrigues' formula with `k x v` written out).
#[inline]
fn rotate_axis_half_full(v: [f64; 3], axis: usize, a: f64) -> ([f64; 3], [f64; 3]) {
    let rot = |s: f64, c: f64| {
        if axis == 0 {
            [v[0], v[1] * c - v[2] * s, v[2] * c + v[1] * s]
        } else {
            [v[0] * c + v[2] * s, v[1], v[2] * c - v[0] * s]
        }
    };
    let (s, c) = sin_cos(a);
    (rot(s, c), rot(2.0 * s * c, 1.0 - 2.0 * s * s))
}

/// One transport step of path length `ds` (cm) in `medium` (§6.2): the
/// field rotation (position along the half-angle chord, direction by the
/// full angle), then energy loss and multiple scattering. Returns false
/// when the muon stopped (`T < kill_t_gev`).
pub fn step(
    st: &mut MuonState,
    ds: f64,
    medium: &Medium,
    cfg: &SimConfig,
    rng: &mut impl RngCore,
) -> bool {
    let b = medium.b;
    let inv_p = 1.0 / st.p;
    // alpha = -c q |B| (ds / 100 m) / p (§6.2 step 1); for a field along
    // +-y or +-x (every field of the shield) the signed angle about that
    // axis is -c q B_axis (ds / 100 m) / p and Rodrigues' formula reduces
    // to a plane rotation.
    let kick = -C_LIGHT * st.q * cfg.field_scale * (ds * 0.01) * inv_p;
    let bmag = if b[2] == 0.0 && (b[0] == 0.0 || b[1] == 0.0) {
        0.0 // axis-aligned or zero: handled below without |B|
    } else {
        (b[0] * b[0] + b[1] * b[1] + b[2] * b[2]).sqrt()
    };
    let turn = if bmag > 0.0 {
        let s = 1.0 / bmag;
        let k = [b[0] * s, b[1] * s, b[2] * s];
        Some(rotate_half_full(st.d, k, 0.5 * kick * bmag))
    } else {
        let (axis, b_axis) = if b[1] != 0.0 { (1, b[1]) } else { (0, b[0]) };
        let alpha = kick * b_axis;
        (alpha != 0.0).then(|| rotate_axis_half_full(st.d, axis, 0.5 * alpha))
    };
    match turn {
        Some((chord, d)) => {
            axpy(&mut st.r, ds, &chord);
            st.d = d;
        }
        None => {
            let d = st.d;
            axpy(&mut st.r, ds, &d);
        }
    }
    let Some(mat) = medium.material else {
        return true;
    };
    let mass_thickness = mat.density * ds; // g/cm^2
    let p0 = st.p;
    let e0 = (p0 * p0 + MUON_MASS * MUON_MASS).sqrt();
    let inv_e0 = 1.0 / e0;
    let t0 = e0 - MUON_MASS;
    let (s_total, s_disc) = StoppingTable::get().lookup(t0);
    let mut e = match cfg.energy_loss {
        EnergyLoss::None => e0,
        EnergyLoss::Mean => e0 - mass_thickness * s_total * 1e-3,
        EnergyLoss::Discrete => {
            let mut e = e0 - mass_thickness * (s_total - s_disc) * 1e-3;
            let lambda = mass_thickness * s_disc * (1e-3 * *INV_MEAN_V) * inv_e0;
            // Poisson(lambda) events by inversion (lambda << 1 in practice).
            let u: f64 = rng.random();
            let mut k = 0u32;
            // exp(-lambda) >= 1 - lambda: below that no event, without exp
            let (mut k_prob, mut cum) = if u <= 1.0 - lambda {
                (0.0, 1.0)
            } else {
                let p0 = (-lambda).exp();
                (p0, p0)
            };
            while u > cum && k < 50 {
                k += 1;
                k_prob *= lambda / k as f64;
                cum += k_prob;
            }
            for _ in 0..k {
                e -= sample_v(rng) * e;
            }
            e
        }
    };
    if e - MUON_MASS < cfg.kill_t_gev {
        st.p = (e.max(MUON_MASS).powi(2) - MUON_MASS * MUON_MASS).sqrt();
        return false;
    }
    if !e.is_finite() {
        e = MUON_MASS;
    }
    st.p = (e * e - MUON_MASS * MUON_MASS).sqrt();
    if cfg.scattering {
        let dt = ds * mat.radiation_lengths_per_cm();
        st.t_acc += dt;
        let f_new = highland_f(st.t_acc);
        let var = f_new - st.f_acc;
        st.f_acc = f_new;
        // 13.6 MeV / (beta c p) with beta = p / E
        let theta = 0.0136 * e0 * inv_p * inv_p * var.max(0.0).sqrt();
        let d = st.d;
        let inv_norm_u = inv_sqrt_near_one(d[0] * d[0] + d[2] * d[2]);
        let u = [d[2] * inv_norm_u, 0.0, -d[0] * inv_norm_u];
        let v = [
            d[1] * u[2] - d[2] * u[1],
            d[2] * u[0] - d[0] * u[2],
            d[0] * u[1] - d[1] * u[0],
        ];
        let z1u: f64 = rng.sample(StandardNormal);
        let z2u: f64 = rng.sample(StandardNormal);
        let z1v: f64 = rng.sample(StandardNormal);
        let z2v: f64 = rng.sample(StandardNormal);
        const INV_SQRT12: f64 = 0.288_675_134_594_812_9;
        let shift_u = ds * theta * (z1u * INV_SQRT12 + 0.5 * z2u);
        let shift_v = ds * theta * (z1v * INV_SQRT12 + 0.5 * z2v);
        let (au, av) = (theta * z2u, theta * z2v);
        axpy(&mut st.r, shift_u, &u);
        axpy(&mut st.r, shift_v, &v);
        let mut nd = d;
        axpy(&mut nd, au, &u);
        axpy(&mut nd, av, &v);
        let inv_n = inv_sqrt_near_one(nd[0] * nd[0] + nd[1] * nd[1] + nd[2] * nd[2]);
        st.d = [nd[0] * inv_n, nd[1] * inv_n, nd[2] * inv_n];
    }
    true
}

/// `1 / <v>` of the discrete-loss fraction density (`<v>` = 0.1855, §6.2).
static INV_MEAN_V: std::sync::LazyLock<f64> =
    std::sync::LazyLock::new(|| 1.0 / mean_discrete_fraction());

/// Draws `v` from `f(v) ∝ (1/v)(4/3 - 4/3 v + v^2)` on `[0.01, 1]`:
/// log-uniform proposal, accepted with probability
/// `(4/3 - 4/3 v + v^2) / (4/3)` (§6.2).
fn sample_v(rng: &mut impl RngCore) -> f64 {
    loop {
        let v = (0.01f64.ln() * (1.0 - rng.random::<f64>())).exp();
        let accept = (4.0 / 3.0 - 4.0 / 3.0 * v + v * v) * 0.75;
        if rng.random::<f64>() < accept {
            return v;
        }
    }
}

/// What one z interval of the shield holds (§3.2).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Zone {
    /// Field-free iron of the absorber block (concrete around it).
    AbsorberIron,
    /// The absorber block with MagnAbsorb2 (magnet index 0) inside.
    AbsorberField(usize),
    /// The concrete wall.
    Wall,
    /// Air.
    Air,
    /// A magnet (index into `Shield::magnets`), air outside its iron.
    Magnet(usize),
}

/// The shield prepared for tracking: sorted z boundaries and what lies
/// between them.
#[derive(Debug, Clone)]
pub struct Tracker<'a> {
    shield: &'a Shield,
    bounds: Vec<f64>,
    zones: Vec<Zone>,
    /// Per magnet: `(z_start, 1 / (z_end - z_start), slabs)`, so that a
    /// cross-section costs no division.
    spans: Vec<(f64, f64, usize)>,
}

impl<'a> Tracker<'a> {
    /// Precomputes the zones of `shield`.
    pub fn new(shield: &'a Shield) -> Self {
        let bounds = shield.boundaries();
        let zones = bounds
            .windows(2)
            .map(|w| {
                let z = 0.5 * (w[0] + w[1]);
                if z < Z_ABSORBER_FIELD {
                    Zone::AbsorberIron
                } else if z < Z_WALL_START {
                    Zone::AbsorberField(0)
                } else if z < Z_WALL_END {
                    Zone::Wall
                } else if let Some(i) = shield
                    .magnets
                    .iter()
                    .position(|m| m.z_start <= z && z < m.z_end)
                    .filter(|&i| i > 0)
                {
                    Zone::Magnet(i)
                } else {
                    Zone::Air
                }
            })
            .collect();
        let spans = shield
            .magnets
            .iter()
            .map(|m| (m.z_start, 1.0 / (m.z_end - m.z_start), m.slabs))
            .collect();
        Tracker {
            shield,
            bounds,
            zones,
            spans,
        }
    }

    /// The cross-section of magnet `i` at `z` (as
    /// [`super::geometry::Magnet::section_at`], without its division).
    #[inline]
    fn section(&self, i: usize, z: f64) -> Section {
        let m = &self.shield.magnets[i];
        let (z0, inv_len, slabs) = self.spans[i];
        let t = slab_middle(((z - z0) * inv_len).clamp(0.0, 1.0), slabs);
        Section::lerp(m.entrance, m.exit, t)
    }

    /// Tracks muon `x` (`[px, py, pz, x0, y0, z0, pdg]`) from its origin to
    /// the sensitive plane (§6.2): free flight to the absorber, steps of at
    /// most `step_max_cm` through the shield (never across a zone
    /// boundary), a straight drift to `z_D`.
    pub fn track(&self, x: &[f64], cfg: &SimConfig, rng: &mut impl RngCore) -> Outcome {
        self.track_path(x, cfg, rng, None)
    }

    /// As [`Tracker::track`], also appending the position after every step
    /// (and at the origin, the absorber face and the plane) to `path` when
    /// given (for drawings).
    pub fn track_path(
        &self,
        x: &[f64],
        cfg: &SimConfig,
        rng: &mut impl RngCore,
        mut path: Option<&mut Vec<[f64; 3]>>,
    ) -> Outcome {
        let mut st = MuonState::from_x(x);
        let mut record = |r: [f64; 3]| {
            if let Some(p) = path.as_deref_mut() {
                p.push(r);
            }
        };
        record(st.r);
        let mut steps = 0u32;
        let end = |status: Status, st: &MuonState, steps: u32| Outcome {
            status,
            hit: [st.r[0], st.r[1]],
            p: st.p,
            steps,
        };
        if st.d[2] <= 0.0 {
            return end(Status::Backward, &st, steps);
        }
        // Free flight to the absorber face.
        if st.r[2] < Z_ABSORBER_START {
            let t = (Z_ABSORBER_START - st.r[2]) / st.d[2];
            let d = st.d;
            axpy(&mut st.r, t, &d);
            record(st.r);
        }
        let z_end = self.shield.z_end;
        let mut zi = self
            .bounds
            .partition_point(|&b| b <= st.r[2])
            .saturating_sub(1);
        while st.r[2] < z_end && zi < self.zones.len() {
            if st.r[0].abs() > TUNNEL_HALF_SIZE || st.r[1].abs() > TUNNEL_HALF_SIZE {
                return end(Status::LeftTunnel, &st, steps);
            }
            let z_hi = self.bounds[zi + 1];
            let dist = (z_hi - st.r[2]) / st.d[2] + 1e-6;
            let zone = self.zones[zi];
            let ds = match zone {
                Zone::Air => dist,
                Zone::Magnet(i) if self.clear_of_iron(i, &st, dist) => dist,
                _ => dist.min(cfg.step_max_cm),
            };
            let mid = [
                st.r[0] + 0.5 * ds * st.d[0],
                st.r[1] + 0.5 * ds * st.d[1],
                st.r[2] + 0.5 * ds * st.d[2],
            ];
            let medium = match zone {
                Zone::AbsorberIron | Zone::AbsorberField(_) => {
                    if mid[0].abs() > ABSORBER_HALF_X || mid[1].abs() > ABSORBER_HALF_Y {
                        return end(Status::Stopped, &st, steps);
                    }
                    let b = match zone {
                        Zone::AbsorberField(i) => self.magnet_field(i, mid),
                        _ => [0.0; 3],
                    };
                    Medium {
                        material: Some(IRON),
                        b,
                    }
                }
                Zone::Wall => Medium {
                    material: Some(CONCRETE),
                    b: [0.0; 3],
                },
                Zone::Air => Medium {
                    material: None,
                    b: [0.0; 3],
                },
                Zone::Magnet(i) => {
                    let m = &self.shield.magnets[i];
                    let region = classify(&self.section(i, mid[2]), mid[0], mid[1]);
                    if region.is_iron() {
                        Medium {
                            material: Some(IRON),
                            b: field(region, mid[0], mid[1], m.polarity, m.b0),
                        }
                    } else {
                        Medium {
                            material: None,
                            b: [0.0; 3],
                        }
                    }
                }
            };
            steps += 1;
            let alive = step(&mut st, ds, &medium, cfg, rng);
            record(st.r);
            if !alive {
                return end(Status::Stopped, &st, steps);
            }
            if st.d[2] <= 0.0 {
                return end(Status::Backward, &st, steps);
            }
            while zi < self.zones.len() && st.r[2] >= self.bounds[zi + 1] {
                zi += 1;
            }
        }
        if st.r[0].abs() > TUNNEL_HALF_SIZE || st.r[1].abs() > TUNNEL_HALF_SIZE {
            return end(Status::LeftTunnel, &st, steps);
        }
        // Straight drift to the plane.
        let t = (self.shield.z_plane - st.r[2]) / st.d[2];
        let d = st.d;
        axpy(&mut st.r, t, &d);
        record(st.r);
        if st.r[0].abs() > PLANE_HALF_X || st.r[1].abs() > PLANE_HALF_Y {
            return end(Status::LeftTunnel, &st, steps);
        }
        end(Status::Reached, &st, steps)
    }

    /// Whether the straight segment from the muon's position over path
    /// length `ds` stays outside the outer box of magnet `i`'s iron
    /// (`|x| > 2 dX + g` or `|y| > dY + dX`) on one side. Within one
    /// tracking zone the box edges are linear in z (constant in a
    /// `step_geo` slab, whose faces are zone boundaries) and so is the
    /// coordinate (no sign change), so being outside at both ends means
    /// outside all along: the whole segment is air and is crossed in one
    /// step.
    fn clear_of_iron(&self, i: usize, st: &MuonState, ds: f64) -> bool {
        let a = self.section(i, st.r[2]);
        let (half_x, half_y) = (2.0 * a.dx + a.gap, a.dy + a.dx);
        // Inside the outer box at the start: not clear (the common case in
        // iron, decided without the end point).
        if st.r[0].abs() <= half_x && st.r[1].abs() <= half_y {
            return false;
        }
        let end = [
            st.r[0] + ds * st.d[0],
            st.r[1] + ds * st.d[1],
            st.r[2] + ds * st.d[2],
        ];
        let b = self.section(i, end[2]);
        let outside = |axis: usize, half_a: f64, half_b: f64| {
            st.r[axis] * end[axis] > 0.0 && st.r[axis].abs() > half_a && end[axis].abs() > half_b
        };
        outside(0, half_x, 2.0 * b.dx + b.gap) || outside(1, half_y, b.dy + b.dx)
    }

    /// The field of magnet `i` at `mid` (zero outside its iron pieces).
    fn magnet_field(&self, i: usize, mid: [f64; 3]) -> [f64; 3] {
        let m = &self.shield.magnets[i];
        let region: Region = classify(&self.section(i, mid[2]), mid[0], mid[1]);
        field(region, mid[0], mid[1], m.polarity, m.b0)
    }
}

/// Transports a muon through a uniform slab of `length` cm along z (no
/// boundaries inside) in `medium`, with the same steps as the shield
/// tracker; returns false if it stopped. Used by the sanity tests (bending,
/// range, Highland width, §8.1).
pub fn transport_slab(
    st: &mut MuonState,
    medium: &Medium,
    length: f64,
    cfg: &SimConfig,
    rng: &mut impl RngCore,
) -> bool {
    let z_end = st.r[2] + length;
    while st.r[2] < z_end - 1e-9 {
        if st.d[2] <= 0.0 {
            return false;
        }
        let ds = ((z_end - st.r[2]) / st.d[2]).min(cfg.step_max_cm);
        if !step(st, ds, medium, cfg, rng) {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The plane rotations of the shield's axis-aligned fields agree with
    /// Rodrigues' formula about the same axis, and the double-angle
    /// direction with a rotation by the full angle.
    #[test]
    fn axis_rotations_match_rodrigues() {
        let v = [0.03, -0.02, (1.0f64 - 0.03 * 0.03 - 0.02 * 0.02).sqrt()];
        for a in [-0.4, -0.05, 1e-4, 0.07, 0.3] {
            for (axis, k) in [(0, [1.0, 0.0, 0.0]), (1, [0.0, 1.0, 0.0])] {
                let (half, full) = rotate_axis_half_full(v, axis, a);
                let (rh, rf) = rotate_half_full(v, k, a);
                let (_, rf_direct) = rotate_half_full(v, k, a);
                let (twice, _) = rotate_half_full(v, k, 2.0 * a);
                for i in 0..3 {
                    assert!((half[i] - rh[i]).abs() < 1e-14, "axis {axis}, a {a}");
                    assert!((full[i] - rf[i]).abs() < 1e-14, "axis {axis}, a {a}");
                    assert!(
                        (rf_direct[i] - twice[i]).abs() < 1e-12,
                        "axis {axis}, a {a}"
                    );
                }
            }
        }
        // about y by a: x picks up +sin(a) of z
        let (_, full) = rotate_axis_half_full([0.0, 0.0, 1.0], 1, 0.05);
        assert!((full[0] - 0.1f64.sin()).abs() < 1e-15 && (full[2] - 0.1f64.cos()).abs() < 1e-15);
    }

    #[test]
    fn small_angle_series_and_inverse_sqrt() {
        for a in [-0.099, -1e-3, 0.0, 0.05, 0.0999] {
            let (s, c) = sin_cos(a);
            assert!((s - a.sin()).abs() < 3e-11 && (c - a.cos()).abs() < 3e-11);
        }
        for s in [0.9995, 1.0, 1.0009, 0.5, 4.0] {
            assert!((inv_sqrt_near_one(s) - 1.0 / s.sqrt()).abs() < 1e-12);
        }
    }
}
