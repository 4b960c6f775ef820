//! Materials, the muon stopping-power table of iron, the CSDA range and the
//! Highland multiple-scattering width (muon_shield.md §4, §6.2).

use std::sync::OnceLock;

/// Muon mass, GeV/c^2 (§4 [S24]).
pub const MUON_MASS: f64 = 0.105_658_39;

/// `c` in GeV/c per (T m) per unit charge: `p = c B R` (§4 [S32]).
pub const C_LIGHT: f64 = 0.299_792_458;

/// A material a muon loses energy and scatters in.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Material {
    /// Name used in messages.
    pub name: &'static str,
    /// Density, g/cm^3.
    pub density: f64,
    /// Radiation length, g/cm^2.
    pub x0: f64,
}

/// Iron as FairShip builds the magnets: 7.87 g/cm^3 [S14], X0 = 13.84 g/cm^2
/// [S25] (1.759 cm).
pub const IRON: Material = Material {
    name: "iron",
    density: 7.87,
    x0: 13.84,
};

/// Shielding concrete: 2.3 g/cm^3 [S14], X0 = 26.57 g/cm^2 [S25b]. Its
/// stopping power is taken as iron's per g/cm^2 (§6.2: "the 14 cm concrete
/// wall scaled by density").
pub const CONCRETE: Material = Material {
    name: "concrete",
    density: 2.3,
    x0: 26.57,
};

/// The PUMAS table of mean muon stopping power in iron [S24] (§4): kinetic
/// energy T [GeV], then ionisation, brems, pair, photonuclear, total
/// [MeV cm^2/g] and the CSDA range [g/cm^2].
pub const IRON_TABLE: [[f64; 7]; 21] = [
    [0.1, 1.616, 5.4e-5, 0.0, 0.0, 1.616, 43.77],
    [0.2, 1.463, 1.0e-4, 0.0, 0.0, 1.463, 109.8],
    [0.3, 1.452, 1.6e-4, 1.7e-6, 0.0, 1.453, 178.5],
    [0.5, 1.487, 3.0e-4, 3.1e-5, 0.0, 1.488, 314.8],
    [1.0, 1.581, 7.2e-4, 2.3e-4, 0.0, 1.582, 640.1],
    [2.0, 1.694, 1.79e-3, 9.9e-4, 2.1e-4, 1.697, 1248.0],
    [3.0, 1.760, 3.02e-3, 2.10e-3, 5.3e-4, 1.766, 1826.0],
    [5.0, 1.841, 5.84e-3, 5.04e-3, 1.25e-3, 1.853, 2929.0],
    [7.0, 1.891, 8.95e-3, 8.65e-3, 2.01e-3, 1.911, 3991.0],
    [10.0, 1.942, 0.01401, 0.01490, 0.00311, 1.974, 5535.0],
    [20.0, 2.032, 0.03296, 0.04016, 0.00676, 2.112, 10420.0],
    [30.0, 2.080, 0.05383, 0.06942, 0.01025, 2.214, 15040.0],
    [50.0, 2.136, 0.09887, 0.1344, 0.01710, 2.387, 23730.0],
    [70.0, 2.171, 0.1467, 0.2047, 0.02384, 2.546, 31840.0],
    [100.0, 2.207, 0.2218, 0.3158, 0.03384, 2.778, 43120.0],
    [140.0, 2.239, 0.3262, 0.4706, 0.04722, 3.083, 56790.0],
    [200.0, 2.273, 0.4885, 0.7114, 0.06734, 3.541, 74950.0],
    [300.0, 2.312, 0.7690, 1.126, 0.1012, 4.308, 100600.0],
    [400.0, 2.339, 1.057, 1.550, 0.1356, 5.082, 121900.0],
    [500.0, 2.361, 1.351, 1.980, 0.1704, 5.862, 140300.0],
    [1000.0, 2.428, 2.863, 4.174, 0.3481, 9.813, 205600.0],
];

/// Log-log interpolation of a table column at `t` (GeV), extrapolating the
/// end segments; `col` picks the value (summed columns allowed).
fn log_log(t: f64, value: impl Fn(&[f64; 7]) -> f64) -> f64 {
    let rows = &IRON_TABLE;
    let i = rows
        .windows(2)
        .position(|w| t < w[1][0])
        .unwrap_or(rows.len() - 2);
    let (a, b) = (&rows[i], &rows[i + 1]);
    let (va, vb) = (value(a), value(b));
    let f = (t.ln() - a[0].ln()) / (b[0].ln() - a[0].ln());
    (va.ln() + f * (vb.ln() - va.ln())).exp()
}

/// Mean total stopping power of iron at kinetic energy `t` (GeV), MeV cm^2/g:
/// the table's `total` column interpolated log-log in T (§4).
pub fn stopping_power(t: f64) -> f64 {
    log_log(t, |r| r[5])
}

/// The radiative part that accurate mode treats as discrete events
/// (brems + photonuclear, §6.2), MeV cm^2/g, interpolated log-log.
pub fn stopping_power_discrete(t: f64) -> f64 {
    log_log(t, |r| r[2] + r[4].max(1e-12))
}

/// Points of the dense lookup grid in `ln T`.
const GRID: usize = 1024;
/// Grid range in `ln T`: `T` from 0.05 to 2000 GeV.
const LN_T_MIN: f64 = -2.995_732_273_553_991; // ln 0.05
const LN_T_MAX: f64 = 7.600_902_459_542_082; // ln 2000

/// A dense table of the stopping powers on a uniform grid in `ln T`
/// (linear interpolation there), so that a tracking step costs one `ln`
/// and no `exp`. It reproduces the log-log interpolation of the 21 rows
/// to better than 1e-4 relative.
#[derive(Debug)]
pub struct StoppingTable {
    total: Vec<f64>,
    discrete: Vec<f64>,
}

impl StoppingTable {
    /// The shared table (built once).
    pub fn get() -> &'static StoppingTable {
        static TABLE: OnceLock<StoppingTable> = OnceLock::new();
        TABLE.get_or_init(|| {
            let at =
                |i: usize| (LN_T_MIN + (LN_T_MAX - LN_T_MIN) * i as f64 / (GRID - 1) as f64).exp();
            StoppingTable {
                total: (0..GRID).map(|i| stopping_power(at(i))).collect(),
                discrete: (0..GRID).map(|i| stopping_power_discrete(at(i))).collect(),
            }
        })
    }

    /// `(total, discrete)` stopping power at kinetic energy `t` (GeV),
    /// MeV cm^2/g.
    pub fn lookup(&self, t: f64) -> (f64, f64) {
        let u = (t.max(0.05).ln() - LN_T_MIN) / (LN_T_MAX - LN_T_MIN) * (GRID - 1) as f64;
        let i = (u as usize).min(GRID - 2);
        let f = (u - i as f64).min(1.0);
        (
            self.total[i] + f * (self.total[i + 1] - self.total[i]),
            self.discrete[i] + f * (self.discrete[i + 1] - self.discrete[i]),
        )
    }
}

/// CSDA range in iron of a muon of kinetic energy `t` (GeV), g/cm^2:
/// the table's range at 0.1 GeV plus `∫_{0.1}^{t} dT / S(T)` with `S` the
/// interpolated total (trapezoid rule in `ln T`, 4000 panels).
pub fn csda_range(t: f64) -> f64 {
    let (a, b) = (0.1f64.ln(), t.ln());
    let n = 4000;
    let h = (b - a) / n as f64;
    let integrand = |u: f64| {
        let tt = u.exp();
        tt / (stopping_power(tt) * 1e-3) // dT = T du; S in GeV cm^2/g
    };
    let mut s = 0.5 * (integrand(a) + integrand(b));
    for i in 1..n {
        s += integrand(a + i as f64 * h);
    }
    IRON_TABLE[0][6] + s * h
}

/// `F(t) = t (1 + 0.038 ln t)^2`, the cumulative Highland variance in
/// units of `(13.6 MeV / (beta c p))^2` after `t` radiation lengths
/// (§6.2, design choice; PDG Highland form [S26]). `F(0) = 0`.
pub fn highland_f(t: f64) -> f64 {
    if t <= 0.0 {
        return 0.0;
    }
    let l = 1.0 + 0.038 * t.ln();
    t * l * l
}

/// The Highland width (PDG [S26]) of the projected scattering angle after
/// `t` radiation lengths for momentum `p` (GeV/c) and velocity `beta`:
/// `theta0 = 0.0136 / (beta p) sqrt(t) (1 + 0.038 ln t)` rad.
pub fn highland_theta0(p: f64, beta: f64, t: f64) -> f64 {
    0.0136 / (beta * p) * t.sqrt() * (1.0 + 0.038 * t.ln())
}

/// Mean fraction `<v>` of the energy lost in one discrete radiative event
/// for `f(v) ∝ (1/v)(4/3 - 4/3 v + v^2)` on `[0.01, 1]` (§6.2): the ratio of
/// its first to zeroth moments, 0.1855.
pub fn mean_discrete_fraction() -> f64 {
    let (a, b) = (0.01f64, 1.0f64);
    let m1 = 4.0 / 3.0 * (b - a) - 2.0 / 3.0 * (b * b - a * a) + (b.powi(3) - a.powi(3)) / 3.0;
    let m0 = 4.0 / 3.0 * (b / a).ln() - 4.0 / 3.0 * (b - a) + (b * b - a * a) / 2.0;
    m1 / m0
}
