//! Command-line arguments of every subcommand, `lgso shield`'s included
//! (clap derive).
//!
//! Values are only parsed here; every check against a problem (names,
//! dimensions, budgets) is left to the library's `Config::resolve`, so the
//! command line and a config file are validated by the same code.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// `lgso`: optimize the parameters of a stochastic simulator with local
/// generative surrogates (L-GSO, Shirobokov et al., NeurIPS 2020).
#[derive(Debug, Parser)]
#[command(name = "lgso", version)]
#[command(arg_required_else_help = true)]
pub struct Cli {
    /// The subcommand to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run L-GSO (or a baseline, `--method`) on a built-in problem and
    /// record it in a run directory.
    #[command(allow_negative_numbers = true)]
    Run(RunArgs),
    /// List the built-in problems and the paper's settings for them.
    Problems,
    /// Benchmark: every (problem, method, setting, seed) on the same call
    /// budget, then results.csv, Markdown tables (each method at its best
    /// setting) and one comparison plot per problem.
    #[command(allow_negative_numbers = true)]
    Bench(BenchArgs),
    /// Time one surrogate fit (GAN by default) on real trust-region data.
    #[command(allow_negative_numbers = true)]
    BenchFit(BenchFitArgs),
    /// Continue a stopped, failed or killed run from its run database.
    Resume(ResumeArgs),
    /// Write a run's samples, requests and trace as CSV files (for pandas).
    Export(ExportArgs),
    /// Benchmark the simulator protocol: samples per second through an
    /// external simulator with 1 and 2 workers against in-process.
    BenchProtocol(BenchProtocolArgs),
    /// The SHiP muon-shield simulator: simulate, draw, bench.
    Shield(ShieldArgs),
    /// Check a surrogate's gradients at psi: R fits on fresh trust-region
    /// data against the true gradient of E[R] (or a finite difference),
    /// with bias tests and plots.
    #[command(allow_negative_numbers = true)]
    Diagnose(DiagnoseArgs),
}

/// Arguments of `lgso resume`.
#[derive(Debug, Args)]
pub struct ResumeArgs {
    /// The run directory (it holds run.sqlite).
    #[arg(value_name = "RUN_DIR")]
    pub dir: PathBuf,
    /// A new simulator-call budget (needed to continue a run that finished
    /// on its budget), e.g. 300k.
    #[arg(long, value_name = "CALLS", value_parser = parse_calls)]
    pub budget: Option<u64>,
    /// A new iteration limit.
    #[arg(long, value_name = "N")]
    pub max_iterations: Option<u64>,
    /// Print no progress, only the final summary.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Arguments of `lgso export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The run directory (it holds run.sqlite).
    #[arg(value_name = "RUN_DIR")]
    pub dir: PathBuf,
    /// Where to write samples.csv, requests.csv and trace.csv; default
    /// RUN_DIR/export.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// Arguments of `lgso diagnose`.
#[derive(Debug, Args)]
pub struct DiagnoseArgs {
    /// Built-in problem (see `lgso problems`).
    #[arg(value_name = "PROBLEM")]
    pub problem: String,
    /// Surrogate family: gan, ffjord or mdn; default: the config's
    /// `lgso.surrogate`, else gan.
    #[arg(long, value_name = "NAME")]
    pub surrogate: Option<String>,
    /// Where to take the gradients: `start` (the problem's start point) or
    /// psi as comma-separated numbers, e.g. 2,0.
    #[arg(
        long,
        value_name = "PSI",
        default_value = "start",
        allow_negative_numbers = true
    )]
    pub at: String,
    /// Independent fits R (at least 2), each on fresh trust-region data.
    #[arg(long, value_name = "R", default_value_t = 5)]
    pub fits: usize,
    /// TOML config file: N, M, eps, K and the surrogate's settings.
    #[arg(long, short, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Seed of every draw; default: the config's (0).
    #[arg(long, value_name = "S")]
    pub seed: Option<u64>,
    /// Paired draws per coordinate of the finite-difference reference
    /// (problems without an exact gradient).
    #[arg(long, value_name = "S", default_value = "200k", value_parser = parse_count)]
    pub fd_samples: usize,
    /// Step h of the finite-difference reference (psi units).
    #[arg(long, value_name = "H", default_value_t = 0.05)]
    pub fd_step: f64,
    /// Directory for diagnose.json, gradient.png and y.png; default
    /// runs/diagnose-<problem>-<surrogate>-<unix seconds>.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// Arguments of `lgso run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Built-in problem (see `lgso problems`); default: the config file's,
    /// else three-hump.
    #[arg(value_name = "PROBLEM")]
    pub problem: Option<String>,
    #[command(flatten)]
    /// Settings shared with `lgso bench`.
    pub common: CommonArgs,
    /// Stop once the objective estimate is at or below VALUE.
    #[arg(long, value_name = "VALUE", allow_negative_numbers = true)]
    pub target: Option<f64>,
    /// An external simulator speaking the lgso simulator protocol
    /// (docs/protocol.md), as a command line, e.g. 'python3 sim.py --fast'
    /// (split into words like a shell would, but never run through one).
    /// Its objective is set in the config's [objective] table.
    #[arg(long, value_name = "COMMAND")]
    pub simulator: Option<String>,
    /// Worker processes running the external simulator; default: the
    /// number of cores.
    #[arg(long, value_name = "W")]
    pub workers: Option<usize>,
    /// Run directory; default runs/<problem>[-<method>]-s<seed>-<unix
    /// seconds> (the method is named unless it is lgso). It must not
    /// already hold a run.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Print no progress, only the final summary.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Options shared by `lgso run` and `lgso bench`; command-line values
/// override the config file's.
#[derive(Debug, Args)]
pub struct CommonArgs {
    /// TOML config file (see the `lgso::config` docs for the keys).
    #[arg(long, short, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Run seed; every random draw derives from it.
    #[arg(long, value_name = "S")]
    pub seed: Option<u64>,
    /// Optimizer: lgso (default) or a baseline: numdiff, ges, reinforce,
    /// cmaes, bo, lax, oracle.
    #[arg(long, value_name = "NAME")]
    pub method: Option<String>,
    /// Simulator-call budget, e.g. 150000, 150_000 or 150k.
    #[arg(long, value_name = "CALLS", value_parser = parse_calls)]
    pub budget: Option<u64>,
    /// Stop after N iterations.
    #[arg(long, value_name = "N")]
    pub max_iterations: Option<u64>,
}

/// Arguments of `lgso bench`: every (problem, method, seed) is run, up to
/// `--jobs` at a time, each in its own run directory
/// `<out>/<problem>/<method>-s<seed>/`; then `<out>/results.csv` (a row
/// per run), `<out>/bench.md` (a table per problem and method) and
/// `<out>/<problem>.png` (objective against calls, every method) are
/// written.
#[derive(Debug, Args)]
// `--method` (of the shared options) is an error here: `--methods` names them.
#[command(mut_arg("method", |a| a.hide(true)))]
pub struct BenchArgs {
    /// Comma-separated problems to run.
    #[arg(
        long,
        value_name = "NAMES",
        value_delimiter = ',',
        default_value = "rosenbrock,three-hump"
    )]
    pub problems: Vec<String>,
    /// Comma-separated methods to compare: lgso and the baselines that
    /// `lgso run --method` takes, e.g. lgso,numdiff,oracle (bench takes no
    /// `--method`).
    #[arg(
        long,
        value_name = "NAMES",
        value_delimiter = ',',
        default_value = "lgso"
    )]
    pub methods: Vec<String>,
    /// Seeds per (problem, method): S, S+1, ..., S+K-1, where S is the
    /// `--seed` (or config) value.
    #[arg(long, value_name = "K", default_value_t = 1)]
    pub seeds: u64,
    /// Runs at a time. With more than one, each run's GAN fit gets an equal
    /// share of the cores (where `gan.threads` is 0, automatic) and a line
    /// per finished run replaces the progress display.
    #[arg(long, short, value_name = "J", default_value_t = 1)]
    pub jobs: usize,
    /// Sweep a configuration key (repeatable): KEY=V1,V2,.. with KEY as in
    /// the config file, e.g. lgso.samples_per_point=1,3,10 or
    /// gan.generator_hidden=[64,64],[100,100,100]. A method's table (gan,
    /// ffjord, mdn: lgso's) is swept for that method only, other keys for
    /// every method; each method runs every combination of its values and
    /// is reported at its best. No run stops at a target.
    #[arg(long, value_name = "KEY=V1,V2,..")]
    pub sweep: Vec<String>,
    #[command(flatten)]
    /// Settings shared with `lgso run`; `--budget` overrides every
    /// problem's budget (default: the benchmark's budget per problem).
    pub common: CommonArgs,
    /// Directory holding the run directories, results.csv, bench.md and the
    /// plots; default runs/bench-<unix seconds>. It must not already hold
    /// bench.md, results.csv or any of the runs.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Print no progress, only the table.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Arguments of `lgso bench-fit`.
#[derive(Debug, Args)]
pub struct BenchFitArgs {
    /// Problem whose simulator provides the training data.
    #[arg(long, value_name = "NAME", default_value = "rosenbrock")]
    pub problem: String,
    /// Training samples.
    #[arg(long, value_name = "K", default_value_t = 48_000, value_parser = parse_count)]
    pub samples: usize,
    /// Passes over the training set; default: the surrogate's configured
    /// epochs (GAN 15, FFJORD 25, MDN 30).
    #[arg(long, value_name = "E")]
    pub epochs: Option<usize>,
    /// Surrogate family: gan, ffjord or mdn.
    #[arg(long, value_name = "NAME", default_value = "gan")]
    pub surrogate: String,
    /// TOML config file whose [gan], [ffjord] or [mdn] settings are used.
    #[arg(long, short, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Seed of the data and the fit.
    #[arg(long, value_name = "S", default_value_t = 0)]
    pub seed: u64,
}

/// Arguments of `lgso bench-protocol`.
#[derive(Debug, Args)]
pub struct BenchProtocolArgs {
    /// The external simulator, as a command line (split like a shell
    /// would, never run through one), e.g. 'python3 sim.py'; default: the
    /// lgso-toy-sim next to this executable, quadratic model.
    #[arg(long, value_name = "'CMD ARGS'")]
    pub simulator: Option<String>,
    /// Samples per timed run.
    #[arg(long, value_name = "N", default_value_t = 200_000, value_parser = parse_count)]
    pub samples: usize,
    /// Samples per request (one L-GSO design point).
    #[arg(long, value_name = "M", default_value_t = 1000, value_parser = parse_count)]
    pub request_samples: usize,
    /// Comma-separated numbers of worker processes to time.
    #[arg(
        long,
        value_name = "W,..",
        value_delimiter = ',',
        default_value = "1,2"
    )]
    pub workers: Vec<usize>,
    /// Timed runs per configuration (the median is shown).
    #[arg(long, value_name = "R", default_value_t = 3)]
    pub repeats: usize,
    /// Seed of the requests.
    #[arg(long, value_name = "S", default_value_t = 0)]
    pub seed: u64,
}

/// Arguments of `lgso shield`.
#[derive(Debug, Args)]
pub struct ShieldArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: ShieldCommand,
}

/// The `lgso shield` subcommands.
#[derive(Debug, Subcommand)]
pub enum ShieldCommand {
    /// Track muons through one shield configuration and print the fractions
    /// per status, the hits, the objective, mass, length and wall time.
    #[command(allow_negative_numbers = true)]
    Simulate(ShieldSimulateArgs),
    /// Draw the shield's layout in x-z and y-z with a few tracked muons (PNG).
    #[command(allow_negative_numbers = true)]
    Draw(ShieldDrawArgs),
    /// Muons per second on one core and on all cores at 10 and 20 cm steps.
    #[command(allow_negative_numbers = true)]
    Bench(ShieldBenchArgs),
}

/// Options shared by the shield subcommands.
#[derive(Debug, Args)]
pub struct ShieldCommon {
    /// The 42 parameters (cm): `baseline`, a file of 42 numbers separated
    /// by spaces, commas, newlines or `|`, or a run's `psi.csv` (its last
    /// row: the run's latest psi).
    #[arg(
        long,
        value_name = "FILE|RUN/psi.csv|baseline",
        default_value = "baseline"
    )]
    pub psi: String,
    /// Input muons: `enhanced`, `physical`, or a file: CSV with columns
    /// px,py,pz,x0,y0,z0,pdg (GeV/c, cm, PDG +-13; an 8th weight column is
    /// ignored), or a NumPy `.npy` array of shape (n, 7) or (n, 8).
    #[arg(
        long,
        value_name = "enhanced|physical|FILE",
        default_value = "enhanced"
    )]
    pub spectrum: String,
    /// Largest transport step, cm.
    #[arg(long, value_name = "CM", default_value_t = 10.0)]
    pub step: f64,
    /// Common-random-numbers seed: the muons and their transport streams.
    #[arg(long, value_name = "S", default_value_t = 1)]
    pub seed: u64,
    /// Multiply every field by F (0 = field off).
    #[arg(long, value_name = "F", default_value_t = 1.0)]
    pub field_scale: f64,
    /// Mean energy loss only (no discrete radiative events).
    #[arg(long)]
    pub mean_loss: bool,
    /// Check only physical validity, not the bounds of the 42 parameters.
    #[arg(long)]
    pub no_bounds: bool,
    /// FairShip's stepGeo geometry: each magnet as slabs of 50 cm or less
    /// with constant cross-sections (as the L-GSO service ran) instead of
    /// a linear taper.
    #[arg(long)]
    pub step_geo: bool,
}

/// Arguments of `lgso shield simulate`.
#[derive(Debug, Args)]
pub struct ShieldSimulateArgs {
    #[command(flatten)]
    /// Shared options.
    pub common: ShieldCommon,
    /// Muons to track.
    #[arg(long, value_name = "N", default_value_t = 50_000, value_parser = parse_count)]
    pub muons: usize,
}

/// Arguments of `lgso shield draw`.
#[derive(Debug, Args)]
pub struct ShieldDrawArgs {
    #[command(flatten)]
    /// Shared options.
    pub common: ShieldCommon,
    /// Output PNG.
    #[arg(long, value_name = "FILE", default_value = "shield.png")]
    pub out: PathBuf,
    /// Muons to draw (taken from the start of the muon sequence with p > 50
    /// GeV/c, so that they cross the shield).
    #[arg(long, value_name = "K", default_value_t = 24)]
    pub tracks: usize,
}

/// Arguments of `lgso shield bench`.
#[derive(Debug, Args)]
pub struct ShieldBenchArgs {
    /// Muons per measurement.
    #[arg(long, value_name = "N", default_value_t = 20_000, value_parser = parse_count)]
    pub muons: usize,
    /// Input muons: `enhanced` or `physical`.
    #[arg(long, value_name = "NAME", default_value = "enhanced")]
    pub spectrum: String,
}

/// Parses a count of simulator calls: digits with optional `_` separators
/// and an optional `k` (thousand) or `M` (million) suffix, e.g. `150_000`,
/// `150k`, `1.5M`.
///
/// # Errors
/// A message giving the expected form.
pub fn parse_calls(text: &str) -> Result<u64, String> {
    const FORM: &str =
        "expected a whole number of simulator calls, e.g. 150000, 150_000, 150k or 1.5M";
    let t: String = text.trim().chars().filter(|&c| c != '_').collect();
    let (mantissa, digits) = match t.char_indices().last() {
        Some((i, 'k' | 'K')) => (&t[..i], 3),
        Some((i, 'm' | 'M')) => (&t[..i], 6),
        _ => (t.as_str(), 0),
    };
    // Exact decimal arithmetic: "1.005k" = 1005, "2.01M" = 2010000.
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let all_digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    if int.is_empty() && frac.is_empty()
        || !all_digits(int)
        || !all_digits(frac)
        || frac.len() > digits
    {
        return Err(FORM.to_string());
    }
    let padded = format!("{int}{frac:0<digits$}");
    padded.parse::<u64>().map_err(|_| FORM.to_string())
}

/// Parses a sample count with the same forms as [`parse_calls`].
///
/// # Errors
/// A message giving the expected form.
pub fn parse_count(text: &str) -> Result<usize, String> {
    let n = parse_calls(text)
        .map_err(|_| "expected a whole number of samples, e.g. 48000, 48_000 or 48k".to_string())?;
    usize::try_from(n).map_err(|_| format!("{n} samples is more than this machine can address"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_forms() {
        assert_eq!(parse_calls("150000"), Ok(150_000));
        assert_eq!(parse_calls("150_000"), Ok(150_000));
        assert_eq!(parse_calls("150k"), Ok(150_000));
        assert_eq!(parse_calls("1.005k"), Ok(1_005));
        assert_eq!(parse_calls("2.01M"), Ok(2_010_000));
        assert_eq!(parse_calls(".5k"), Ok(500));
        assert!(parse_calls("1.0005k").is_err());
        assert!(parse_calls("1.5").is_err());
        assert!(parse_calls("k").is_err());
        assert!(parse_calls(".k").is_err());
        assert_eq!(parse_calls("1.5M"), Ok(1_500_000));
        for bad in ["", "k", "-5", "1.5", "1e6", "0.0001k", "abc", "1.2.3k"] {
            assert!(parse_calls(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn cli_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
