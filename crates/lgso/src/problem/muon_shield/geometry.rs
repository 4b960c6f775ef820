//! The 42 shield parameters, their bounds, the coil-gap rule, the z layout
//! of the absorber, wall and seven magnets, and the shield's mass and length
//! (muon_shield.md §2, §3, §7.3).
//!
//! Frame (§3.1): z along the beam, y up, x horizontal, all lengths in cm;
//! local `z = 0` is FairShip's `zEndOfAbsorb`, the upstream end of the
//! shield assembly.

use crate::error::{Error, Result};

/// Number of shield parameters (§2.1).
pub const N_PSI: usize = 42;

/// Number of optimized magnets (Magn1..Magn6).
pub const N_MAGNETS: usize = 6;

/// The baseline psi (FairShip `muShieldDesign 9`, the start point of the
/// L-GSO run, §2.1 [S3]), cm.
pub const BASELINE: [f64; N_PSI] = [
    208.0, 207.0, 281.0, 248.0, 305.0, 242.0, // dZ_1..dZ_6
    72.0, 51.0, 29.0, 46.0, 10.0, 7.0, // Magn1
    54.0, 38.0, 46.0, 192.0, 14.0, 9.0, // Magn2
    10.0, 31.0, 35.0, 31.0, 51.0, 11.0, // Magn3
    3.0, 32.0, 54.0, 24.0, 8.0, 8.0, // Magn4
    22.0, 32.0, 209.0, 35.0, 8.0, 13.0, // Magn5
    33.0, 77.0, 85.0, 241.0, 9.0, 26.0, // Magn6
];

/// Start of the hadron absorber block, cm (§3.2).
pub const Z_ABSORBER_START: f64 = 10.0;
/// Start of the magnetised part of the absorber (MagnAbsorb2), cm.
pub const Z_ABSORBER_FIELD: f64 = 90.0;
/// End of the absorber block and start of the concrete wall, cm.
pub const Z_WALL_START: f64 = 542.0;
/// End of the 14 cm concrete wall, cm.
pub const Z_WALL_END: f64 = 556.0;
/// Entrance of Magn1 (20 cm after the absorber block), cm.
pub const Z_MAGN1: f64 = 562.0;
/// Half-width of the absorber block in x, cm (§3.2 [S9, L805]).
pub const ABSORBER_HALF_X: f64 = 395.0;
/// Half-height of the absorber block in y, cm.
pub const ABSORBER_HALF_Y: f64 = 340.0;
/// Drift from the shield end to the sensitive plane, cm (§3.2).
pub const DRIFT_TO_PLANE: f64 = 6068.0;
/// Transverse size of the tunnel: muons with `|x|` or `|y|` above it are
/// lost (§3.2, design choice), cm.
pub const TUNNEL_HALF_SIZE: f64 = 1000.0;
/// Field in Magn1..Magn7, T (§3.2 [S9, L44]).
pub const B_MAGNETS: f64 = 1.7;
/// Field in MagnAbsorb2, T.
pub const B_ABSORBER: f64 = 1.6;
/// Iron density used for the mass, g/cm^3 (§4 [S14]).
pub const IRON_DENSITY: f64 = 7.87;

/// The names of the 42 parameters in psi order (§2.1): `dZ_1..dZ_6`, then
/// per magnet `dXIn_k, dXOut_k, dYIn_k, dYOut_k, gapIn_k, gapOut_k`.
pub fn psi_names() -> Vec<String> {
    let mut names: Vec<String> = (1..=N_MAGNETS).map(|k| format!("dZ_{k}")).collect();
    for k in 1..=N_MAGNETS {
        for stem in ["dXIn", "dXOut", "dYIn", "dYOut", "gapIn", "gapOut"] {
            names.push(format!("{stem}_{k}"));
        }
    }
    names
}

/// The box bounds of psi, cm (§2.2, the product default): `dZ` in
/// [175, 305], `dX` in [3, 100], `dY` in [20, 250], `gap` in [2, 70] — the
/// SHiP search box widened just enough to contain the baseline.
pub fn bounds() -> Vec<(f64, f64)> {
    let mut b = vec![(175.0, 305.0); N_MAGNETS];
    for _ in 0..N_MAGNETS {
        b.extend([
            (3.0, 100.0),
            (3.0, 100.0),
            (20.0, 250.0),
            (20.0, 250.0),
            (2.0, 70.0),
            (2.0, 70.0),
        ]);
    }
    b
}

/// Checks psi: 42 finite values, every one physical (`dZ > 5` cm so that
/// the iron has a length, every width, height and gap `> 0`), and, when
/// `bounds` is given, inside its box.
///
/// # Errors
/// [`Error::Simulator`] naming the parameter (e.g. `dXIn_3`), its value and
/// the violated bound; [`Error::Dimension`] for a wrong length.
pub fn check_psi(problem: &str, psi: &[f64], bounds: Option<&[(f64, f64)]>) -> Result<()> {
    if psi.len() != N_PSI {
        return Err(Error::Dimension {
            what: format!("psi of problem {problem}"),
            expected: N_PSI,
            found: psi.len(),
        });
    }
    let names = psi_names();
    let fail = |reason: String| Error::Simulator {
        problem: problem.to_string(),
        psi: psi.to_vec(),
        reason,
    };
    for (i, &v) in psi.iter().enumerate() {
        let name = &names[i];
        if !v.is_finite() {
            return Err(fail(format!("{name} = {v} is not a finite number (cm)")));
        }
        let min_physical = if i < N_MAGNETS { 5.0 } else { 0.0 };
        if v <= min_physical {
            return Err(fail(format!(
                "{name} = {v} cm is not physical: it must be > {min_physical} cm{}",
                if i < N_MAGNETS {
                    " (the iron is dZ - 5 cm long on each side of the magnet centre)"
                } else {
                    " (a zero or negative width, height or gap)"
                }
            )));
        }
        if let Some(&(lo, hi)) = bounds.and_then(|b| b.get(i)) {
            if v < lo || v > hi {
                return Err(fail(format!(
                    "{name} = {v} cm is outside its bounds [{lo}, {hi}] cm"
                )));
            }
        }
    }
    Ok(())
}

/// The coil-gap rule of Magn1..Magn6 (§3.3 [S9, L244–252]):
/// `g_eff = ceil(max(100 / dY, g))` cm (a coil window of at least ~200
/// cm^2); without `rounding`, `max(100 / dY, g)`.
pub fn effective_gap(gap: f64, dy: f64, rounding: bool) -> f64 {
    let g = gap.max(100.0 / dy);
    if rounding {
        g.ceil()
    } else {
        g
    }
}

/// Cross-section of a magnet at one z: core half-width `dx`, flank
/// half-height `dy` and coil gap `gap`, cm (§3.3).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Section {
    /// Core half-width in x (= return-yoke width), cm.
    pub dx: f64,
    /// Half-height of the core flank and coil window, cm.
    pub dy: f64,
    /// Width of the coil window in x, cm.
    pub gap: f64,
}

impl Section {
    /// Linear interpolation `a + t (b - a)` of every dimension.
    pub fn lerp(a: Section, b: Section, t: f64) -> Section {
        Section {
            dx: a.dx + t * (b.dx - a.dx),
            dy: a.dy + t * (b.dy - a.dy),
            gap: a.gap + t * (b.gap - a.gap),
        }
    }

    /// Iron area of the cross-section, cm^2 (§3.3, derived):
    /// `A = 4 dX (2 dX + 2 dY + g)`.
    pub fn area(&self) -> f64 {
        4.0 * self.dx * (2.0 * self.dx + 2.0 * self.dy + self.gap)
    }
}

impl Section {
    /// `(dA/d dx, dA/d dy, dA/d gap)` of [`Section::area`]:
    /// `(16 dX + 8 dY + 4 g, 8 dX, 4 dX)`, cm.
    pub fn area_gradient(&self) -> [f64; 3] {
        [
            16.0 * self.dx + 8.0 * self.dy + 4.0 * self.gap,
            8.0 * self.dx,
            4.0 * self.dx,
        ]
    }
}

/// `(d g_eff / d gap, d g_eff / d dY)` of [`effective_gap`]: with
/// rounding 0 almost everywhere (the `ceil` is piecewise constant);
/// without, `(1, 0)` where `gap >= 100 / dY`, else `(0, -100 / dY^2)`.
pub fn effective_gap_gradient(gap: f64, dy: f64, rounding: bool) -> [f64; 2] {
    if rounding {
        [0.0, 0.0]
    } else if gap >= 100.0 / dy {
        [1.0, 0.0]
    } else {
        [0.0, -100.0 / (dy * dy)]
    }
}

/// The magnetised-iron mass `W(psi)` (kg, as [`Shield::mass_kg`]) and its
/// gradient `dW/dpsi` (kg/cm, `[42]`), from §7.3: `W = 7.87 g/cm^3 (sum_k
/// Vol_k + Vol_Magn7 + Vol_MagnAbsorb2)`, `Vol_k = (L_k / 6) (A_in + 4
/// A_mid + A_out)` with `L_k = 2 (dZ_k - 5)`, `A = 4 dX (2 dX + 2 dY + g)`
/// on gap-rule-corrected faces, `A_mid` on the averaged face (in
/// `step_geo` mode the sum over slabs of `L_k / n_k A(slab middle)`), and
/// `Vol_Magn7 = 20 A(dXOut_6, dYOut_6, gapOut_6)`. The derivatives are the
/// chain rule through these formulas (`dVol_k/d dZ_k = 2 Vol_k / L_k`, the
/// slab count held fixed; a face at interpolation `t` moves with weight
/// `1 - t` for the entrance dimensions and `t` for the exit ones); gap
/// derivatives follow [`effective_gap_gradient`] (0 with FairShip's
/// rounding).
///
/// # Errors
/// As [`Shield::from_psi`] (a non-physical psi).
pub fn mass_and_gradient(psi: &[f64], options: GeometryOptions) -> Result<(f64, Vec<f64>)> {
    let shield = Shield::from_psi(psi, options)?;
    let kg_per_cm3 = IRON_DENSITY / 1000.0;
    let mut grad = vec![0.0; N_PSI];
    for k in 0..N_MAGNETS {
        let m = &shield.magnets[k + 1];
        let len = m.z_end - m.z_start;
        grad[k] = kg_per_cm3 * 2.0 * m.volume() / len;
        let c = N_MAGNETS + 6 * k; // dXIn, dXOut, dYIn, dYOut, gapIn, gapOut
                                   // dVol / d(face dim) = L sum_i w_i (1 - t_i or t_i) dA/d(dim) at t_i
        let mut d = [[0.0; 3]; 2]; // [entrance, exit][dx, dy, gap]
        for (t, w) in m.quadrature() {
            let ga = Section::lerp(m.entrance, m.exit, t).area_gradient();
            for j in 0..3 {
                d[0][j] += len * w * (1.0 - t) * ga[j];
                d[1][j] += len * w * t * ga[j];
            }
        }
        for (side, ds) in d.iter().enumerate() {
            let raw_gap = psi[c + 4 + side];
            let dy = psi[c + 2 + side];
            let [dg_dgap, dg_ddy] = effective_gap_gradient(raw_gap, dy, options.gap_rounding);
            grad[c + side] = kg_per_cm3 * ds[0];
            grad[c + 2 + side] = kg_per_cm3 * (ds[1] + ds[2] * dg_ddy);
            grad[c + 4 + side] = kg_per_cm3 * ds[2] * dg_dgap;
        }
    }
    // Magn7: 20 cm of Magn6's exit face with the raw gap
    let m7 = &shield.magnets[N_MAGNETS + 1];
    let g7 = m7.entrance.area_gradient();
    let len7 = m7.z_end - m7.z_start;
    let c6 = N_MAGNETS + 30;
    grad[c6 + 1] += kg_per_cm3 * len7 * g7[0];
    grad[c6 + 3] += kg_per_cm3 * len7 * g7[1];
    grad[c6 + 5] += kg_per_cm3 * len7 * g7[2];
    Ok((shield.mass_kg(), grad))
}

/// One magnetised iron piece along z: MagnAbsorb2, Magn1..Magn7.
#[derive(Debug, Clone, PartialEq)]
pub struct Magnet {
    /// FairShip name, e.g. `Magn1`.
    pub name: &'static str,
    /// Entrance face, local z in cm.
    pub z_start: f64,
    /// Exit face, local z in cm.
    pub z_end: f64,
    /// Cross-section at the entrance (gap rule applied where it applies).
    pub entrance: Section,
    /// Cross-section at the exit.
    pub exit: Section,
    /// Core field direction: +1 (core By up) or -1 (down) (§3.2).
    pub polarity: f64,
    /// Field magnitude, T.
    pub b0: f64,
    /// 0 for a tapered magnet; in `step_geo` mode the number of slabs of
    /// constant cross-section, `ceil(L / 50 cm)` (§3.3).
    pub slabs: usize,
}

/// Slab length of FairShip's `stepGeo` mode, cm (§3.3 [S9, L168-235]).
pub const STEP_GEO_SLAB_CM: f64 = 50.0;

impl Magnet {
    /// Where `z` lies along the magnet, `t` in `[0, 1]`; in `step_geo`
    /// mode the middle of the slab holding `z`.
    pub fn t_at(&self, z: f64) -> f64 {
        let t = ((z - self.z_start) / (self.z_end - self.z_start)).clamp(0.0, 1.0);
        slab_middle(t, self.slabs)
    }

    /// The cross-section at `z` (§3.3): linear between the faces, or in
    /// `step_geo` mode constant per slab at the slab's middle.
    pub fn section_at(&self, z: f64) -> Section {
        Section::lerp(self.entrance, self.exit, self.t_at(z))
    }

    /// Quadrature nodes `(t, weight)` on `[0, 1]` that give the volume
    /// `L sum_i weight_i A(t_i)` exactly: Simpson's `(0, 1/6), (1/2, 4/6),
    /// (1, 1/6)` for a tapered magnet (the area is quadratic in `t`), the
    /// slab middles `((j + 1/2) / n, 1/n)` in `step_geo` mode.
    pub fn quadrature(&self) -> Vec<(f64, f64)> {
        if self.slabs == 0 {
            vec![(0.0, 1.0 / 6.0), (0.5, 4.0 / 6.0), (1.0, 1.0 / 6.0)]
        } else {
            let n = self.slabs as f64;
            (0..self.slabs)
                .map(|j| ((j as f64 + 0.5) / n, 1.0 / n))
                .collect()
        }
    }

    /// Iron volume, cm^3 (§7.3): `L sum_i w_i A(t_i)` over
    /// [`Magnet::quadrature`] (Simpson's rule for a tapered magnet).
    pub fn volume(&self) -> f64 {
        (self.z_end - self.z_start)
            * self
                .quadrature()
                .into_iter()
                .map(|(t, w)| w * Section::lerp(self.entrance, self.exit, t).area())
                .sum::<f64>()
    }
}

/// `t` itself for a tapered magnet (`slabs = 0`), else the middle
/// `(j + 1/2) / slabs` of the slab `j` holding `t`.
#[inline]
pub fn slab_middle(t: f64, slabs: usize) -> f64 {
    if slabs == 0 {
        t
    } else {
        let n = slabs as f64;
        ((t * n).floor().min(n - 1.0) + 0.5) / n
    }
}

/// Geometry switches (§3.3).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GeometryOptions {
    /// Apply the `ceil` of the coil-gap rule (FairShip does). Default true.
    pub gap_rounding: bool,
    /// FairShip's `stepGeo` mode (§3.3 [S9, L168-235]; the L-GSO service
    /// of 2020 ran with it [S21]): each of Magn1..Magn6 is
    /// `ceil(2 h / 50 cm)` slabs of constant cross-section taken at each
    /// slab's middle instead of a linear taper. Default false.
    pub step_geo: bool,
}

impl Default for GeometryOptions {
    fn default() -> Self {
        GeometryOptions {
            gap_rounding: true,
            step_geo: false,
        }
    }
}

/// The shield built from psi: the magnets in z order and the z layout
/// (§3.2).
#[derive(Debug, Clone, PartialEq)]
pub struct Shield {
    /// MagnAbsorb2 then Magn1..Magn7.
    pub magnets: Vec<Magnet>,
    /// End of the shield (end of Magn7), `z_S = 572 + 2 sum dZ_k`, cm.
    pub z_end: f64,
    /// The sensitive plane, `z_D = z_S + 6068`, cm.
    pub z_plane: f64,
}

impl Shield {
    /// Builds the shield from psi (no bounds check; use [`check_psi`]
    /// first for user input).
    ///
    /// # Errors
    /// [`Error::Simulator`] (via [`check_psi`] without bounds) for a
    /// non-physical psi.
    pub fn from_psi(psi: &[f64], options: GeometryOptions) -> Result<Shield> {
        check_psi("muon-shield", psi, None)?;
        let absorber = Section {
            dx: 50.0,
            dy: 130.0,
            gap: 2.0,
        };
        let mut magnets = vec![Magnet {
            name: "MagnAbsorb2",
            z_start: Z_ABSORBER_FIELD,
            z_end: Z_WALL_START,
            entrance: absorber,
            exit: absorber,
            polarity: 1.0,
            b0: B_ABSORBER,
            slabs: 0,
        }];
        const NAMES: [&str; N_MAGNETS] = ["Magn1", "Magn2", "Magn3", "Magn4", "Magn5", "Magn6"];
        let mut z = Z_MAGN1;
        for k in 0..N_MAGNETS {
            let h = psi[k] - 5.0;
            let c = &psi[N_MAGNETS + 6 * k..N_MAGNETS + 6 * k + 6];
            let face = |dx: f64, dy: f64, g: f64| Section {
                dx,
                dy,
                gap: effective_gap(g, dy, options.gap_rounding),
            };
            magnets.push(Magnet {
                name: NAMES[k],
                z_start: z,
                z_end: z + 2.0 * h,
                entrance: face(c[0], c[2], c[4]),
                exit: face(c[1], c[3], c[5]),
                polarity: if k < 3 { 1.0 } else { -1.0 },
                b0: B_MAGNETS,
                slabs: if options.step_geo {
                    (2.0 * h / STEP_GEO_SLAB_CM).ceil().max(1.0) as usize
                } else {
                    0
                },
            });
            z += 2.0 * h;
            if k + 1 < N_MAGNETS {
                z += 10.0;
            }
        }
        // Magn7: 20 cm, Magn6's exit cross-section with the raw gap, down.
        let last = &psi[N_MAGNETS + 30..N_MAGNETS + 36];
        let s7 = Section {
            dx: last[1],
            dy: last[3],
            gap: last[5],
        };
        magnets.push(Magnet {
            name: "Magn7",
            z_start: z,
            z_end: z + 20.0,
            entrance: s7,
            exit: s7,
            polarity: -1.0,
            b0: B_MAGNETS,
            slabs: 0,
        });
        let z_end = z + 20.0;
        Ok(Shield {
            magnets,
            z_end,
            z_plane: z_end + DRIFT_TO_PLANE,
        })
    }

    /// Mass of the magnetised iron (MagnAbsorb2 and Magn1..Magn7), kg
    /// (§7.3): `7.87 g/cm^3` times the summed volumes.
    pub fn mass_kg(&self) -> f64 {
        IRON_DENSITY * self.magnets.iter().map(Magnet::volume).sum::<f64>() / 1000.0
    }

    /// Length of the shield, `L = z_S - 10 = 562 + 2 sum dZ_k` cm (§7.3).
    pub fn length_cm(&self) -> f64 {
        self.z_end - Z_ABSORBER_START
    }

    /// Local z of the sensitive plane, cm.
    pub fn z_plane_cm(&self) -> f64 {
        self.z_plane
    }

    /// Every z boundary between zones of different content, sorted, from
    /// the absorber start to the shield end (§6.2).
    pub fn boundaries(&self) -> Vec<f64> {
        let mut b = vec![Z_ABSORBER_START, Z_ABSORBER_FIELD, Z_WALL_START, Z_WALL_END];
        for m in &self.magnets[1..] {
            b.push(m.z_start);
            b.push(m.z_end);
            // step_geo: slab faces, so that a tracking zone has one section
            for j in 1..m.slabs {
                b.push(m.z_start + (m.z_end - m.z_start) * j as f64 / m.slabs as f64);
            }
        }
        b.sort_by(f64::total_cmp);
        b.dedup();
        b
    }
}
