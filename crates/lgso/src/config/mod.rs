//! Run configuration: every setting of a run with the paper's values as
//! defaults, read from TOML.
//!
//! The raw file ([`Config`]) is parsed with unknown keys rejected (the
//! parser's message names the key). Each table belongs to the component it
//! sets and lives beside it: `[lgso]` and the baselines' tables with their
//! optimizers ([`crate::optimizer`]), `[gan]`, `[ffjord]`, `[mdn]` with
//! their surrogates ([`crate::surrogate`]), `[muon_shield]` with its
//! problem, `[objective]` with the external problem; here are only the
//! run's own tables (`[stop]`, `[monitor]`, `[simulator]`) and the
//! resolution: [`Config::resolve`] builds the problem, lets every owner
//! check its table and fill the defaults that depend on the problem, and
//! returns a [`ResolvedConfig`] of plain, checked values, the only form the
//! rest of the library accepts (ripgrep's LowArgs -> HiArgs).
//!
//! ```toml
//! problem = "rosenbrock"
//! seed = 1
//!
//! [stop]
//! budget = 700000        # simulator calls charged to the optimizer
//!
//! [lgso]
//! n_points = 15          # N; default per problem
//! eps = 0.2              # trust-region half-width; default per problem
//!
//! [gan]
//! epochs = 15
//! ```

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::optimizer::{
    BoSettings, CmaesConfig, GesConfig, LaxSettings, LgsoConfig, NumDiffSettings, OracleConfig,
    ReinforceSettings,
};
use crate::problem::external::ObjectiveSettings;
use crate::problem::muon_shield::MuonShieldSettings;
use crate::surrogate::{FfjordSettings, GanSettings, MdnSettings};

mod resolve;

pub use resolve::{default_budget, ResolvedConfig};

/// The whole configuration of a run, as read from a TOML file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Built-in problem name (see [`crate::problem::NAMES`]). Default
    /// `three-hump`.
    pub problem: String,
    /// Optimizer: `lgso` (default) or a baseline of baselines.md: `numdiff`,
    /// `ges`, `reinforce`, `cmaes`, `bo`, `lax`, `oracle` (see
    /// [`crate::optimizer::METHODS`]).
    pub method: String,
    /// Run seed; every random draw of the run derives from it. Default 0.
    pub seed: u64,
    /// Start point psi_0, `[n]`; default: the problem's (the paper's).
    pub start: Option<Vec<f64>>,
    /// Stopping rules.
    pub stop: StopConfig,
    /// How the objective at psi is reported in the trace.
    pub monitor: MonitorConfig,
    /// L-GSO settings (Algorithm 1 of the paper).
    pub lgso: LgsoConfig,
    /// Settings of the GAN surrogate.
    pub gan: GanSettings,
    /// Settings of the FFJORD surrogate.
    pub ffjord: FfjordSettings,
    /// Settings of the mixture-density-network surrogate.
    pub mdn: MdnSettings,
    /// Numerical differentiation baseline.
    pub numdiff: NumDiffSettings,
    /// Guided evolutionary strategies baseline.
    pub ges: GesConfig,
    /// REINFORCE ("Learning to Simulate") baseline.
    pub reinforce: ReinforceSettings,
    /// CMA-ES baseline.
    pub cmaes: CmaesConfig,
    /// Bayesian optimization baseline.
    pub bo: BoSettings,
    /// LAX baseline.
    pub lax: LaxSettings,
    /// Exact-gradient oracle (problems with an exact objective only).
    pub oracle: OracleConfig,
    /// Box bounds `[[lo, hi], ...]` of psi (`[n]` pairs); default: the
    /// problem's or the external simulator's handshake, if any. The trust
    /// region is clipped to them and every L-GSO step projected inside.
    /// Each entry must have exactly two numbers.
    #[serde(deserialize_with = "bound_pairs")]
    pub bounds: Option<Vec<[f64; 2]>>,
    /// An external simulator (problem `external`) and how its worker
    /// processes are run.
    pub simulator: SimulatorConfig,
    /// The objective family for an external simulator.
    pub objective: ObjectiveSettings,
    /// Settings of the built-in problem `muon-shield`.
    pub muon_shield: MuonShieldSettings,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            problem: "three-hump".into(),
            method: "lgso".into(),
            seed: 0,
            start: None,
            stop: StopConfig::default(),
            monitor: MonitorConfig::default(),
            lgso: LgsoConfig::default(),
            gan: GanSettings::default(),
            ffjord: FfjordSettings::default(),
            mdn: MdnSettings::default(),
            numdiff: NumDiffSettings::default(),
            ges: GesConfig::default(),
            reinforce: ReinforceSettings::default(),
            cmaes: CmaesConfig::default(),
            bo: BoSettings::default(),
            lax: LaxSettings::default(),
            oracle: OracleConfig::default(),
            bounds: None,
            simulator: SimulatorConfig::default(),
            objective: ObjectiveSettings::default(),
            muon_shield: MuonShieldSettings::default(),
        }
    }
}

/// Reads `bounds = [[lo, hi], ...]`, refusing entries with other than two
/// numbers (a fixed-size array would drop extra numbers silently).
fn bound_pairs<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<Vec<[f64; 2]>>, D::Error> {
    let raw: Option<Vec<Vec<f64>>> = Option::deserialize(d)?;
    raw.map(|v| {
        v.into_iter()
            .map(|pair| match pair.as_slice() {
                &[lo, hi] => Ok([lo, hi]),
                other => Err(serde::de::Error::custom(format!(
                    "each entry of `bounds` must be [lo, hi], found {other:?}"
                ))),
            })
            .collect()
    })
    .transpose()
}

/// The most worker processes `[simulator] workers` may ask for.
pub const MAX_WORKERS: usize = 256;

/// How an external simulator is run (issue #4; protocol in
/// docs/protocol.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SimulatorConfig {
    /// The program and its arguments, e.g. `["python3", "sim.py"]`; never
    /// run through a shell. Empty: no external simulator.
    pub command: Vec<String>,
    /// Worker processes evaluating requests concurrently. Default: the
    /// number of cores.
    pub workers: Option<usize>,
    /// Seconds a worker may take to answer one batch before it is killed
    /// and the batch retried. Default: no limit.
    pub timeout: Option<f64>,
    /// Times a batch is re-sent after its worker crashed, exited, timed out
    /// or printed garbage. Default 2.
    pub retries: u32,
    /// Seconds to wait for each worker's handshake line. Default 30.
    pub handshake_timeout: f64,
    /// A request larger than this is split into chunks of this many
    /// samples (seeded per chunk, so results do not depend on the number
    /// of workers). Default 1000.
    pub chunk_samples: usize,
    /// At most this many samples per protocol message. Default 1000.
    pub batch_samples: usize,
    /// The run stops (everything saved) once more than this share of the
    /// samples it asked for were lost (failed requests, rejected NaN or
    /// infinite samples) and at least 3 requests failed. Default 0.1.
    pub max_failure_rate: f64,
    /// Expected psi dimension; the handshake must agree. Default: any.
    pub psi_dim: Option<usize>,
    /// Expected x dimension; the handshake must agree. Default: any.
    pub x_dim: Option<usize>,
    /// Expected y dimension; the handshake must agree. Default: any.
    pub y_dim: Option<usize>,
}

impl Default for SimulatorConfig {
    fn default() -> Self {
        SimulatorConfig {
            command: Vec::new(),
            workers: None,
            timeout: None,
            retries: 2,
            handshake_timeout: 30.0,
            chunk_samples: 1000,
            batch_samples: 1000,
            max_failure_rate: 0.1,
            psi_dim: None,
            x_dim: None,
            y_dim: None,
        }
    }
}

/// When a run stops. Whichever rule fires first ends it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StopConfig {
    /// Simulator-call budget charged to the optimizer (the draws used to
    /// report the objective are not charged). Default: the problem's
    /// default budget when absent.
    pub budget: Option<u64>,
    /// Maximum number of optimizer iterations. Default: none.
    pub max_iterations: Option<u64>,
    /// Stop once the reported objective estimate is at or below this value.
    /// Default: none.
    pub target: Option<f64>,
}

/// How the objective at the current psi is estimated for the trace.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MonitorConfig {
    /// Fresh simulator draws at psi after each iteration, averaged to report
    /// `E[R](psi)`. Not charged to the budget. Default 20000 for built-in
    /// problems; for an external simulator (whose draws are real simulator
    /// runs, stored as `monitor` requests) `max(M, 1000)`, `M` the samples
    /// per point.
    pub samples: Option<usize>,
}

impl Config {
    /// Parses a TOML document. Unknown keys and wrong types are errors that
    /// name the key.
    ///
    /// # Errors
    /// [`Error::ConfigParse`] with the parser's message.
    pub fn from_toml_str(text: &str) -> Result<Config> {
        toml::from_str(text).map_err(|e: toml::de::Error| {
            let at = e.span().map_or(String::new(), |s| location(text, s.start));
            Error::ConfigParse(format!("{at}{}", e.message().trim().replace('\n', " ")))
        })
    }

    /// The configuration as TOML text, ending with a newline.
    ///
    /// # Errors
    /// [`Error::ConfigParse`] if a value cannot be written as TOML (not
    /// expected for any value [`Config::resolve`] accepts).
    pub fn to_toml_string(&self) -> Result<String> {
        let mut text = toml::to_string(self).map_err(|e| Error::ConfigParse(e.to_string()))?;
        if !text.ends_with('\n') {
            text.push('\n');
        }
        Ok(text)
    }
}

/// `line L, column C (key `table.key`): ` for a byte offset into a TOML
/// text: the key is read from the line (text before `=`) and the last table
/// header above it.
fn location(text: &str, offset: usize) -> String {
    let before = text.get(..offset.min(text.len())).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    let table = before
        .lines()
        .take(line.saturating_sub(1))
        .map(str::trim)
        .filter(|l| l.starts_with('['))
        .last()
        .map(|l| {
            let end = l.find(']').unwrap_or(l.len());
            l[..end].trim_start_matches('[').trim().to_string()
        });
    let key = text
        .lines()
        .nth(line - 1)
        .and_then(|l| l.split_once('='))
        .map(|(k, _)| k.trim())
        .filter(|k| !k.is_empty() && !k.starts_with('['));
    let named = match (table, key) {
        (Some(t), Some(k)) => format!(" (key `{t}.{k}`)"),
        (None, Some(k)) => format!(" (key `{k}`)"),
        (Some(t), None) => format!(" (in [{t}])"),
        (None, None) => String::new(),
    };
    format!("line {line}, column {column}{named}: ")
}
