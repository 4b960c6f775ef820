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

impl Material {
    /// Radiation lengths per cm of path, `density / x0` (a constant
    /// expression for the built-in materials).
    #[inline]
    pub const fn radiation_lengths_per_cm(&self) -> f64 {
        self.density / self.x0
    }
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

/// Sub-intervals per octave of `T` in the lookup table: `2^TABLE_BITS`.
const TABLE_BITS: u32 = 7;
/// Mantissa bits below the table key.
const FRAC_BITS: u32 = 52 - TABLE_BITS;
/// Smallest kinetic energy of the table, GeV (smaller `T` use its value).
const TABLE_T_MIN: f64 = 0.05;
/// Largest kinetic energy of the table, GeV (larger `T` use its value).
const TABLE_T_MAX: f64 = 2000.0;

/// Mantissa bits that index [`fast_ln`]'s table (256 knots per octave).
const LN_BITS: u32 = 8;

/// `(ln m_k, 1 / m_k)` at the knots `m_k = 1 + k / 256` of `[1, 2)`.
fn ln_knots() -> &'static [[f64; 2]] {
    static KNOTS: OnceLock<Vec<[f64; 2]>> = OnceLock::new();
    KNOTS.get_or_init(|| {
        (0..1usize << LN_BITS)
            .map(|k| {
                let m = 1.0 + k as f64 / (1u64 << LN_BITS) as f64;
                [m.ln(), 1.0 / m]
            })
            .collect()
    })
}

/// `ln x` for finite `x > 0` to ~1e-10 absolute, without a library call or
/// a division: `x = m 2^e` with `m` in `[1, 2)`, `m = m_k (1 + delta)` for
/// the knot `m_k = 1 + k/256` below `m` (`0 <= delta < 2^-8`), and
/// `ln x = e ln 2 + ln m_k + ln(1 + delta)`, the last by its series to
/// `delta^3` (truncation `delta^4 / 4 < 6e-11`). Subnormal, zero,
/// negative or non-finite `x`: the library `ln`.
#[inline]
pub fn fast_ln(x: f64) -> f64 {
    const LN2: f64 = std::f64::consts::LN_2;
    let bits = x.to_bits();
    let exp_bits = (bits >> 52) & 0x7ff;
    if x <= 0.0 || exp_bits == 0 || exp_bits == 0x7ff {
        return x.ln();
    }
    let mantissa = bits & 0x000f_ffff_ffff_ffff;
    let k = (mantissa >> (52 - LN_BITS)) as usize;
    let m = f64::from_bits(mantissa | 0x3ff0_0000_0000_0000);
    let [ln_mk, inv_mk] = ln_knots()[k];
    let mk = 1.0 + k as f64 * (1.0 / (1u64 << LN_BITS) as f64);
    let delta = (m - mk) * inv_mk;
    let series = delta * (1.0 - delta * (0.5 - delta * (1.0 / 3.0)));
    (exp_bits as i64 - 1023) as f64 * LN2 + ln_mk + series
}

/// A dense table of the stopping powers, so that a tracking step costs
/// neither `ln` nor `exp` nor a division: knots at `T = 2^e (1 + j/128)`
/// (128 per octave, 0.5-0.8% apart), indexed by the top bits of `T`'s
/// IEEE-754 representation (exponent and first 7 mantissa bits, which
/// grow monotonically with `T > 0`), linear in `T` between knots (the
/// remaining mantissa bits are the fraction). It reproduces the log-log
/// interpolation of the 21 rows to better than 1e-4 relative (tested).
#[derive(Debug)]
pub struct StoppingTable {
    /// Table key of the first knot.
    key_min: u64,
    /// `(total, discrete)` per knot, side by side (one cache line holds
    /// both neighbours).
    rows: Vec<[f64; 2]>,
}

impl StoppingTable {
    /// The shared table (built once).
    pub fn get() -> &'static StoppingTable {
        static TABLE: OnceLock<StoppingTable> = OnceLock::new();
        TABLE.get_or_init(|| {
            let key_min = TABLE_T_MIN.to_bits() >> FRAC_BITS;
            let key_max = (TABLE_T_MAX.to_bits() >> FRAC_BITS) + 1;
            StoppingTable {
                key_min,
                rows: (key_min..=key_max)
                    .map(|k| {
                        let t = f64::from_bits(k << FRAC_BITS);
                        [stopping_power(t), stopping_power_discrete(t)]
                    })
                    .collect(),
            }
        })
    }

    /// `(total, discrete)` stopping power at kinetic energy `t` (GeV),
    /// MeV cm^2/g; `t` is clamped to the table's [0.05, 2000] GeV.
    #[inline]
    pub fn lookup(&self, t: f64) -> (f64, f64) {
        let bits = t.clamp(TABLE_T_MIN, TABLE_T_MAX).to_bits();
        let i = ((bits >> FRAC_BITS) - self.key_min) as usize;
        let f = (bits & ((1u64 << FRAC_BITS) - 1)) as f64 * (1.0 / (1u64 << FRAC_BITS) as f64);
        let (a, b) = (self.rows[i], self.rows[i + 1]);
        (a[0] + f * (b[0] - a[0]), a[1] + f * (b[1] - a[1]))
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
/// (§6.2, design choice; PDG Highland form [S26]). `F(0) = 0`. `ln t` by
/// [`fast_ln`] (this runs once per tracking step in matter).
pub fn highland_f(t: f64) -> f64 {
    if t <= 0.0 {
        return 0.0;
    }
    let l = 1.0 + 0.038 * fast_ln(t);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_ln_matches_the_library_ln() {
        let mut worst = 0.0f64;
        let mut x = 1e-6;
        while x < 1e6 {
            worst = worst.max((fast_ln(x) - x.ln()).abs());
            x *= 1.000_37;
        }
        assert!(worst < 2e-10, "max |fast_ln - ln| = {worst:e}");
        assert_eq!(fast_ln(1.0), 0.0);
        assert!(fast_ln(0.0).is_infinite() && fast_ln(-1.0).is_nan());
    }

    #[test]
    fn lookup_table_reproduces_the_log_log_interpolation() {
        let table = StoppingTable::get();
        let mut worst = 0.0f64;
        let mut t = 0.05;
        while t <= 2000.0 {
            let (total, disc) = table.lookup(t);
            worst = worst.max((total / stopping_power(t) - 1.0).abs());
            let d = stopping_power_discrete(t);
            if d > 1e-3 {
                worst = worst.max((disc / d - 1.0).abs());
            }
            t *= 1.0013;
        }
        assert!(worst < 1e-4, "max relative error {worst:e}");
        // clamped outside the range
        assert_eq!(table.lookup(0.01), table.lookup(0.05));
        assert_eq!(table.lookup(5000.0), table.lookup(2000.0));
    }
}
