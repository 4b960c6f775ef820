//! Input muons `x ~ q(x)` (muon_shield.md §5): the two built-in spectra
//! (`enhanced`, `physical`), FairShip's beam smearing and readers for a
//! user's CSV or NumPy `.npy` file.
//!
//! One muon is the 7-column row of L-GSO's `x` [S1][S5]:
//! `(px, py, pz [GeV/c], x0, y0, z0 [cm, local frame], pdg)` with
//! `pdg = +13` for mu- and `-13` for mu+.

use std::path::Path;

use rand::{Rng, RngCore};
use rand_distr::StandardNormal;

use crate::error::{Error, Result};

/// Columns of one muon.
pub const X_DIM: usize = 7;
/// Column names, in order.
pub const COLUMNS: [&str; X_DIM] = ["px", "py", "pz", "x0", "y0", "z0", "pdg"];
/// Local z of the target front, cm (§3.2, `targetOpt = 18`).
pub const Z_TARGET_FRONT: f64 = -144.5;

/// Where the input muons come from (§5).
#[derive(Debug, Clone, PartialEq)]
pub enum Spectrum {
    /// The flattened sample that over-weights high-p, high-pT muons, as
    /// the SHiP and L-GSO runs used (§5.2, design choice). Default.
    Enhanced,
    /// An approximation of the 2018 production sample (§5.2).
    Physical,
    /// Muons read from a file ([`read_muon_file`]); rows are taken in
    /// order (cycled), so call `i` always sees muon `i mod n`.
    File(Vec<[f64; X_DIM]>),
}

impl Spectrum {
    /// Parses `enhanced`, `physical` or a path to a CSV or `.npy` file.
    ///
    /// # Errors
    /// As [`read_muon_file`].
    pub fn parse(s: &str) -> Result<Spectrum> {
        match s {
            "enhanced" => Ok(Spectrum::Enhanced),
            "physical" => Ok(Spectrum::Physical),
            path if !Path::new(path).is_file() => Err(Error::config(
                "--spectrum",
                "enhanced, physical or the path of a muon CSV or .npy file \
                 (px,py,pz,x0,y0,z0,pdg)",
                format!("{path:?}, which is not a file"),
            )),
            path => Ok(Spectrum::File(read_muon_file(Path::new(path))?)),
        }
    }

    /// Short name for messages.
    pub fn label(&self) -> String {
        match self {
            Spectrum::Enhanced => "enhanced".into(),
            Spectrum::Physical => "physical".into(),
            Spectrum::File(rows) => format!("file ({} muons)", rows.len()),
        }
    }

    /// Draws muon number `index` (used by file sources) from `rng`, with
    /// beam smearing when `smear` is set.
    pub fn sample(&self, index: usize, smear: bool, rng: &mut impl RngCore) -> [f64; X_DIM] {
        let mut m = match self {
            Spectrum::Enhanced => enhanced(rng),
            Spectrum::Physical => physical(rng),
            Spectrum::File(rows) => rows[index % rows.len().max(1)],
        };
        if smear {
            smear_beam(&mut m, rng);
        }
        m
    }
}

/// Depth of the muon's origin in the target: `Exp(mean 26 cm)` truncated
/// at 140 cm (§5.2), as `z0 = -144.5 + depth`.
fn vertex_z(rng: &mut impl RngCore) -> f64 {
    loop {
        let d = -26.0 * (1.0 - rng.random::<f64>()).ln();
        if d <= 140.0 {
            return Z_TARGET_FRONT + d;
        }
    }
}

/// FairShip's beam smearing (§5.1 [S6][S13]): add `(r cos phi, r sin phi)`
/// to `(x0, y0)` with `r = 3 cm + 0.8 cm N(0, 1)`, `phi ~ U[0, 2 pi)`.
pub fn smear_beam(m: &mut [f64; X_DIM], rng: &mut impl RngCore) {
    let z: f64 = rng.sample(StandardNormal);
    let r = 3.0 + 0.8 * z;
    let phi = std::f64::consts::TAU * rng.random::<f64>();
    m[3] += r * phi.cos();
    m[4] += r * phi.sin();
}

/// The `enhanced` spectrum (§5.2): charge 50/50; `p ~ U[10, 350]` GeV;
/// `pT ~ U[0, pTmax(p)]` with `pTmax = 4` GeV for `p <= 100`, else
/// `4 - 3.5 (p - 100) / 250`; azimuth uniform, along +x or along -x with
/// probability 1/3 each; vertex on the beam axis at depth
/// `Exp(26 cm) <= 140 cm`.
pub fn enhanced(rng: &mut impl RngCore) -> [f64; X_DIM] {
    let pdg = if rng.random::<f64>() < 0.5 {
        -13.0
    } else {
        13.0
    };
    let p = 10.0 + 340.0 * rng.random::<f64>();
    let pt_max = if p <= 100.0 {
        4.0
    } else {
        4.0 - 3.5 * (p - 100.0) / 250.0
    };
    let pt = pt_max * rng.random::<f64>();
    let u = rng.random::<f64>();
    let phi = if u < 1.0 / 3.0 {
        std::f64::consts::TAU * rng.random::<f64>()
    } else if u < 2.0 / 3.0 {
        0.0
    } else {
        std::f64::consts::PI
    };
    let (px, py) = if u < 1.0 / 3.0 {
        (pt * phi.cos(), pt * phi.sin())
    } else {
        (pt * phi.cos(), 0.0)
    };
    let pz = (p * p - pt * pt).sqrt();
    [px, py, pz, 0.0, 0.0, vertex_z(rng), pdg]
}

/// The `physical` spectrum (§5.2): mu+ with probability 0.498; `p = 10 +
/// Exp(15)` GeV with probability 0.8, else `10 + Exp(42)`, redrawn above
/// 400 GeV; `px, py ~ Laplace(0, 0.33 GeV)`, redrawn while `pT >= p / 2`;
/// vertex as in `enhanced`.
pub fn physical(rng: &mut impl RngCore) -> [f64; X_DIM] {
    let pdg = if rng.random::<f64>() < 0.498 {
        -13.0
    } else {
        13.0
    };
    let p = loop {
        let mean = if rng.random::<f64>() < 0.8 {
            15.0
        } else {
            42.0
        };
        let p = 10.0 - mean * (1.0 - rng.random::<f64>()).ln();
        if p <= 400.0 {
            break p;
        }
    };
    let laplace = |rng: &mut dyn RngCore| {
        let e = -0.33 * (1.0 - rng.random::<f64>()).ln();
        if rng.random::<f64>() < 0.5 {
            -e
        } else {
            e
        }
    };
    let (px, py) = loop {
        let (px, py) = (laplace(rng), laplace(rng));
        if px.hypot(py) < 0.5 * p {
            break (px, py);
        }
    };
    let pz = (p * p - px * px - py * py).sqrt();
    [px, py, pz, 0.0, 0.0, vertex_z(rng), pdg]
}

/// Reads a muon file: a NumPy array ([`read_muon_npy`]) when the name
/// ends in `.npy`, else CSV ([`read_muon_csv`]).
///
/// # Errors
/// As the reader used.
pub fn read_muon_file(path: &Path) -> Result<Vec<[f64; X_DIM]>> {
    let npy = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("npy"));
    if npy {
        read_muon_npy(path)
    } else {
        read_muon_csv(path)
    }
}

/// Checks one muon: finite values, PDG code +-13, `pz > 0`; the reason
/// otherwise.
fn check_muon(m: &[f64; X_DIM]) -> std::result::Result<(), String> {
    if let Some(j) = m.iter().position(|v| !v.is_finite()) {
        return Err(format!(
            "column `{}`: {} is not a finite number",
            COLUMNS[j], m[j]
        ));
    }
    if m[6] != 13.0 && m[6] != -13.0 {
        return Err(format!(
            "unknown PDG code {} in column `pdg`: expected 13 (mu-) or -13 (mu+)",
            m[6]
        ));
    }
    if m[2] <= 0.0 {
        return Err(format!(
            "pz = {} GeV/c: a muon must move downstream (pz > 0)",
            m[2]
        ));
    }
    Ok(())
}

/// Reads a NumPy `.npy` muon file (spec §5.1): a 2-D array of `float64` or
/// `float32` (either byte order, C or Fortran layout) with 7 columns
/// `px, py, pz, x0, y0, z0, pdg` or 8 (a weight last, ignored), read with
/// the `npyz` crate. Units and checks as [`read_muon_csv`].
///
/// # Errors
/// [`Error::Io`] when the file cannot be opened; [`Error::DataRow`] (row
/// 0 for the file as a whole) for a file that is not NPY, an array of
/// another shape or type, or a row with a non-finite value, an unknown PDG
/// code or `pz <= 0` (row numbers 1-based).
pub fn read_muon_npy(path: &Path) -> Result<Vec<[f64; X_DIM]>> {
    let name = path.display().to_string();
    let err = |row: usize, reason: String| Error::DataRow {
        file: name.clone(),
        row,
        reason,
    };
    let file = std::fs::File::open(path).map_err(|source| Error::Io {
        path: name.clone(),
        source,
    })?;
    let npy = npyz::NpyFile::new(std::io::BufReader::new(file))
        .map_err(|e| err(0, format!("not a NumPy .npy file ({e})")))?;
    let expected = "a 2-D float64 or float32 array of shape (n, 7) (px, py, pz, x0, y0, z0, \
                    pdg) or (n, 8) (and a weight)";
    let shape = npy.shape().to_vec();
    let (rows, cols) = match shape[..] {
        [r, c] if (c == 7 || c == 8) && r > 0 => (r as usize, c as usize),
        _ => {
            return Err(err(
                0,
                format!("expected {expected}, found shape {shape:?}"),
            ))
        }
    };
    let fortran = npy.order() == npyz::Order::Fortran;
    let dtype = npy.dtype().descr();
    let values: Vec<f64> = match npy.try_data::<f64>() {
        Ok(reader) => reader
            .collect::<std::io::Result<Vec<f64>>>()
            .map_err(|e| err(0, format!("cannot read the data ({e})")))?,
        Err(npy) => match npy.try_data::<f32>() {
            Ok(reader) => reader
                .map(|v| v.map(f64::from))
                .collect::<std::io::Result<Vec<f64>>>()
                .map_err(|e| err(0, format!("cannot read the data ({e})")))?,
            Err(_) => return Err(err(0, format!("expected {expected}, found dtype {dtype}"))),
        },
    };
    let at = |i: usize, j: usize| {
        if fortran {
            values[j * rows + i]
        } else {
            values[i * cols + j]
        }
    };
    (0..rows)
        .map(|i| {
            let m: [f64; X_DIM] = std::array::from_fn(|j| at(i, j));
            check_muon(&m)
                .map(|()| m)
                .map_err(|reason| err(i + 1, reason))
        })
        .collect()
}

/// Reads a muon file: CSV, one muon a line, the 7 columns
/// `px, py, pz, x0, y0, z0, pdg` (GeV/c, cm in the local frame of §3.1,
/// PDG code +13 or -13) and an optional 8th weight column (ignored, as the
/// L-GSO loss ignores it [S5]). An optional header line names the columns
/// in this order; empty lines and lines starting with `#` are skipped.
///
/// # Errors
/// [`Error::Io`] when the file cannot be read; [`Error::Data`] with the
/// 1-based line number for a missing column, a value that is not a finite
/// number, an unknown PDG code, `pz <= 0` (the muon must move downstream),
/// or a file without muons.
pub fn read_muon_csv(path: &Path) -> Result<Vec<[f64; X_DIM]>> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.display().to_string(),
        source,
    })?;
    parse_muon_csv(&path.display().to_string(), &text)
}

/// Parses the text of a muon file (see [`read_muon_csv`]); `file` names it
/// in errors.
///
/// # Errors
/// As [`read_muon_csv`].
pub fn parse_muon_csv(file: &str, text: &str) -> Result<Vec<[f64; X_DIM]>> {
    let err = |line: usize, reason: String| Error::Data {
        file: file.to_string(),
        line,
        reason,
    };
    let expected = "7 columns px, py, pz, x0, y0, z0, pdg (and an optional weight)";
    let mut rows = Vec::new();
    let mut first = true;
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let s = raw.trim();
        if s.is_empty() || s.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = s.split(',').map(str::trim).collect();
        if first {
            first = false;
            if fields[0].parse::<f64>().is_err() {
                let names: Vec<String> = fields.iter().map(|f| f.to_ascii_lowercase()).collect();
                if names.len() < X_DIM || names[..X_DIM] != COLUMNS {
                    return Err(err(
                        line,
                        format!("header `{s}` does not name the {expected}, in that order"),
                    ));
                }
                continue;
            }
        }
        if fields.len() != X_DIM && fields.len() != X_DIM + 1 {
            return Err(err(
                line,
                format!("expected {expected}, found {} columns", fields.len()),
            ));
        }
        let mut m = [0.0; X_DIM];
        for (j, f) in fields.iter().take(X_DIM).enumerate() {
            let v: f64 = f.parse().map_err(|_| {
                err(
                    line,
                    format!("column `{}`: `{f}` is not a number", COLUMNS[j]),
                )
            })?;
            m[j] = v;
        }
        check_muon(&m).map_err(|reason| err(line, reason))?;
        rows.push(m);
    }
    if rows.is_empty() {
        return Err(err(
            0,
            format!("no muons found; expected lines of {expected}"),
        ));
    }
    Ok(rows)
}
