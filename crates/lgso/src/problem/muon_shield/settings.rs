//! The `[muon_shield]` settings of a run (input muons, objective,
//! geometry) and the shield problem they build.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::objective::SHIP_DEFAULT_MUONS;
use super::{problem_with, GeometryOptions, ShieldObjective, ShieldSimulator, Spectrum, NAME};
use crate::error::{Error, Result};
use crate::problem::Problem;

/// Settings of the built-in problem `muon-shield` (`[muon_shield]`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MuonShieldSettings {
    /// Input muons: the hits pool (muon_shield.md §5.3) of the first
    /// `hits_pool` enhanced muons, those that hit `|X| <= 3.3 m, |Y| <=
    /// 5.3 m` at the start psi, instead of the full spectrum. Built once
    /// when the configuration is resolved (~1 s of tracking per 50 000
    /// candidates). Default: none (the full spectrum).
    pub hits_pool: Option<usize>,
    /// The objective: `"hits"` (default; the L-GSO hits loss per muon,
    /// muon_shield.md §7.1) or `"ship_fcn"` (SHiP's mass-penalised FCN,
    /// §7.2: `(1 + exp(10 (W - W*) / W*)) (1 + N E[w])`, hits above
    /// 1 GeV/c only).
    pub objective: Option<String>,
    /// `N` of `ship_fcn`: the muons whose weights one FCN value sums.
    /// Default 50 000 (the paper's muons per call). Only with
    /// `objective = "ship_fcn"`.
    pub ship_muons: Option<usize>,
    /// FairShip's `stepGeo` geometry (muon_shield.md §3.3): each magnet
    /// as slabs of at most 50 cm with constant cross-sections, as the
    /// L-GSO service of 2020 ran, instead of a linear taper. Default false.
    pub step_geo: Option<bool>,
    /// The input muons: `"enhanced"` (default), `"physical"` or the path of
    /// a muon file (CSV or `.npy`, muon_shield.md §5.1); a relative path
    /// is made absolute when the configuration is resolved.
    pub spectrum: Option<String>,
}

impl MuonShieldSettings {
    /// The objective these settings select.
    ///
    /// # Errors
    /// [`Error::Config`] naming `muon_shield.objective` or
    /// `muon_shield.ship_muons`.
    pub fn shield_objective(&self) -> Result<ShieldObjective> {
        match (self.objective.as_deref(), self.ship_muons) {
            (None | Some("hits"), None) => Ok(ShieldObjective::Hits),
            (None | Some("hits"), Some(n)) => Err(Error::config(
                "muon_shield.ship_muons",
                "no ship_muons unless objective = \"ship_fcn\" (it is the N of SHiP's FCN)",
                format!("ship_muons = {n} with the hits objective"),
            )),
            (Some("ship_fcn"), Some(0)) => Err(Error::config(
                "muon_shield.ship_muons",
                "a number of muons >= 1 (default 50000)",
                0,
            )),
            (Some("ship_fcn"), n) => Ok(ShieldObjective::ShipFcn {
                muons: n.unwrap_or(SHIP_DEFAULT_MUONS),
            }),
            (Some(other), _) => Err(Error::config(
                "muon_shield.objective",
                "\"hits\" (the L-GSO hits loss) or \"ship_fcn\" (SHiP's mass-penalised FCN)",
                format!("{other:?}"),
            )),
        }
    }
}

/// The muon-shield simulator of `[muon_shield]` (spectrum and geometry).
///
/// # Errors
/// [`Error::Config`] (key `muon_shield.spectrum`) for a spectrum that is
/// neither built in nor a file; the muon file's own errors.
fn shield_simulator(c: &MuonShieldSettings) -> Result<ShieldSimulator> {
    let spectrum = match c.spectrum.as_deref() {
        None => Spectrum::Enhanced,
        Some(s @ ("enhanced" | "physical")) => Spectrum::parse(s)?,
        Some(path) if !Path::new(path).is_file() => {
            return Err(Error::config(
                "muon_shield.spectrum",
                "\"enhanced\", \"physical\" or the path of a muon file (CSV or .npy: px, py, \
                 pz, x0, y0, z0, pdg)",
                format!("{path:?}, which is not a file"),
            ))
        }
        Some(path) => Spectrum::parse(path)?,
    };
    Ok(ShieldSimulator {
        spectrum,
        geometry: GeometryOptions {
            step_geo: c.step_geo.unwrap_or(false),
            ..Default::default()
        },
        ..ShieldSimulator::default()
    })
}

impl MuonShieldSettings {
    /// Checks the settings against the problem they are given for: any
    /// `[muon_shield]` setting needs problem `muon-shield`.
    ///
    /// # Errors
    /// [`Error::Config`] naming the first setting given for another
    /// problem, a hits pool of 0 muons, or a bad objective.
    pub fn validate(&self, problem: &str) -> Result<()> {
        self.shield_objective()?;
        if problem != NAME && *self != MuonShieldSettings::default() {
            let key = if self.hits_pool.is_some() {
                "muon_shield.hits_pool"
            } else if self.objective.is_some() {
                "muon_shield.objective"
            } else if self.ship_muons.is_some() {
                "muon_shield.ship_muons"
            } else if self.spectrum.is_some() {
                "muon_shield.spectrum"
            } else {
                "muon_shield.step_geo"
            };
            return Err(Error::config(
                key,
                "no [muon_shield] settings: they set the input muons, objective and geometry \
                 of problem muon-shield",
                format!("{key} for problem {problem}"),
            ));
        }
        if self.hits_pool == Some(0) {
            return Err(Error::config(
                "muon_shield.hits_pool",
                "a number of candidate muons >= 1 (e.g. 2000000)",
                0,
            ));
        }
        Ok(())
    }

    /// A spectrum given as a relative file path, made absolute (so that
    /// `lgso resume` finds it from any directory); other values as they
    /// are.
    pub fn with_absolute_spectrum(mut self) -> Self {
        if let Some(path) = &self.spectrum {
            if Path::new(path).is_file() {
                if let Ok(abs) = std::path::absolute(path) {
                    self.spectrum = Some(abs.display().to_string());
                }
            }
        }
        self
    }

    /// Builds the shield these settings describe into `problem` (the
    /// built-in muon-shield problem, with the run's start point): its
    /// simulator (spectrum, geometry, hits pool at the start point),
    /// objective, target and description. Settings left at their defaults
    /// change nothing. `before_pool(K)` is called just before a hits pool
    /// of `K` candidates is built (tens of seconds of tracking), so that a
    /// caller can say so.
    ///
    /// # Errors
    /// As [`MuonShieldSettings::validate`]; a spectrum that is neither
    /// built in nor a file; the muon file's and the tracker's errors.
    pub fn apply(&self, problem: &mut Problem, before_pool: &mut dyn FnMut(usize)) -> Result<()> {
        if *self == MuonShieldSettings::default() {
            return Ok(());
        }
        let objective = self.shield_objective()?;
        let simulator = shield_simulator(self)?;
        if let Some(k) = self.hits_pool {
            before_pool(k);
        }
        let pool = self.hits_pool.map(|k| (problem.start.as_slice(), k));
        let shield = problem_with(objective, pool, simulator)?;
        problem.simulator = shield.simulator;
        problem.objective = shield.objective;
        problem.target = shield.target;
        problem.description = shield.description;
        Ok(())
    }
}
