//! `lgso run`: load the config, apply the command line, run L-GSO with the
//! run-directory and progress observers, print a summary.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use lgso::config::{Config, ResolvedConfig};
use lgso::driver::Session;
use lgso::evaluate::{Evaluator, InProcess};
use lgso::history::RunStore;
use lgso::optimizer::{Method, Preset};
use lgso::report::{IterationReport, StopReason, Summary};

use crate::args::{CommonArgs, RunArgs};
use crate::progress::Progress;
use crate::run_dir::{self, RunDir};
use crate::text;

/// Reads a config file, or the defaults when there is none.
///
/// # Errors
/// A missing or unreadable file, or a TOML error (unknown key, wrong type),
/// naming the path.
pub fn load_config(path: Option<&Path>) -> anyhow::Result<Config> {
    let Some(path) = path else {
        return Ok(Config::default());
    };
    let text = fs::read_to_string(path)
        .with_context(|| format!("cannot read config file {}", path.display()))?;
    Config::from_toml_str(&text).with_context(|| format!("config file {}", path.display()))
}

/// Applies the options shared by `run` and `bench` over a config.
pub fn apply_common(cfg: &mut Config, args: &CommonArgs) {
    if let Some(seed) = args.seed {
        cfg.seed = seed;
    }
    if let Some(method) = &args.method {
        cfg.method = method.clone();
    }
    if let Some(budget) = args.budget {
        cfg.stop.budget = Some(budget);
    }
    if let Some(n) = args.max_iterations {
        cfg.stop.max_iterations = Some(n);
    }
}

/// A completed run.
pub struct Finished {
    /// The library's summary.
    pub summary: Summary,
    /// Every report, row 0 being the start point.
    pub reports: Vec<IterationReport>,
    /// The run directory.
    pub dir: PathBuf,
}

/// Runs the configured method (L-GSO by default) for `cfg`, recording it
/// in `dir` (files and run database), requests evaluated in-process.
///
/// # Errors
/// A run directory that holds a run or cannot be written; any error of the
/// run itself (then `summary.json` records the failure).
pub fn execute(cfg: &ResolvedConfig, dir: &Path, quiet: bool) -> anyhow::Result<Finished> {
    let mut evaluator = InProcess::new(cfg.problem.simulator.clone());
    execute_with(cfg, dir, quiet, &mut evaluator, false)
}

/// Runs (or, with `resume`, continues) the configured method in `dir`
/// with the given evaluator.
///
/// # Errors
/// As [`execute`]; for `resume`, a directory without a run database.
pub fn execute_with(
    cfg: &ResolvedConfig,
    dir: &Path,
    quiet: bool,
    evaluator: &mut dyn Evaluator,
    resume: bool,
) -> anyhow::Result<Finished> {
    // the lock is taken before a resumed run rewrites anything; a fresh
    // run takes it once RunDir::create has checked and made the directory
    let (_lock, mut run_dir, mut store) = if resume {
        let lock = lock_run(dir)?;
        let store = RunStore::open(dir)?;
        store.set_meta("config", &cfg.config.to_toml_string()?)?;
        (lock, RunDir::reopen(dir, cfg)?, store)
    } else {
        let run_dir = RunDir::create(dir, cfg)?;
        let lock = lock_run(dir)?;
        let store = RunStore::create(dir, &cfg.config.to_toml_string()?, &evaluator.describe())?;
        let d = cfg.problem.dims();
        store.set_meta("dims", &format!("{},{},{}", d.psi, d.x, d.y))?;
        if let Ok(cwd) = std::env::current_dir() {
            store.set_meta("cwd", &cwd.display().to_string())?;
        }
        let names: Vec<String> = (0..d.psi).map(|i| cfg.problem.psi_name(i)).collect();
        store.set_meta("psi_names", &serde_json::to_string(&names)?)?;
        (lock, run_dir, store)
    };
    let label = if cfg.method == Method::Lgso {
        cfg.problem.name.to_string()
    } else {
        format!("{} {}", cfg.problem.name, cfg.method.name())
    };
    let mut progress = Progress::new(&label, quiet);
    let session = Session {
        evaluator,
        store: Some(&mut store),
        resume,
    };
    let result = lgso::driver::optimizer_for(cfg).and_then(|mut opt| {
        lgso::driver::run_session(
            cfg,
            opt.as_mut(),
            session,
            &mut [&mut progress, &mut run_dir],
        )
    });
    drop(progress);
    if let Some(e) = run_dir.plot_error() {
        if !quiet {
            let _ = writeln!(
                std::io::stderr(),
                "warning: cannot draw the objective plot: {e}"
            );
        }
    }
    match result {
        Ok(summary) => Ok(Finished {
            summary,
            reports: run_dir.reports().to_vec(),
            dir: dir.to_path_buf(),
        }),
        Err(e) => Err(anyhow::Error::new(e).context(format!(
            "run failed (see {}; everything computed is kept in {}, continue with `lgso resume {}`)",
            dir.join("summary.json").display(),
            dir.join(lgso::history::store::FILE).display(),
            dir.display()
        ))),
    }
}

/// Takes an exclusive lock on `dir/run.lock` for as long as the returned
/// file lives (the operating system releases it when the process ends,
/// also on SIGKILL), so that two processes never run or resume the same
/// run directory at once.
///
/// # Errors
/// When another process holds the lock, or the file cannot be created.
fn lock_run(dir: &Path) -> anyhow::Result<std::fs::File> {
    let path = dir.join("run.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => anyhow::bail!(
            "another lgso process is running {} (it holds {}); wait for it or stop it first",
            dir.display(),
            path.display()
        ),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(anyhow::Error::new(e).context(format!("cannot lock {}", path.display())))
        }
    }
}

/// `lgso run`.
///
/// # Errors
/// Config, validation, run-directory and run errors.
pub fn run(args: &RunArgs) -> anyhow::Result<ExitCode> {
    let mut cfg = load_config(args.common.config.as_deref())?;
    if let Some(p) = &args.problem {
        cfg.problem = p.clone();
    }
    apply_common(&mut cfg, &args.common);
    if let Some(t) = args.target {
        cfg.stop.target = Some(t);
    }
    if let Some(command) = &args.simulator {
        if args.problem.is_some() {
            anyhow::bail!(
                "--simulator runs an external simulator; it takes no built-in PROBLEM (got {:?})",
                args.problem.as_deref().unwrap_or_default()
            );
        }
        cfg.simulator.command = lgso::evaluate::external::split_command(command)?;
        cfg.problem = lgso::problem::EXTERNAL.into();
    }
    if let Some(w) = args.workers {
        cfg.simulator.workers = Some(w);
    }
    if cfg.problem == lgso::problem::EXTERNAL {
        let (resolved, mut pool) = crate::external::start(cfg)?;
        let dir = args
            .out
            .clone()
            .unwrap_or_else(|| run_dir::default_dir(&resolved));
        let done = execute_with(&resolved, &dir, args.quiet, &mut pool, false)?;
        text::out(&summary_text(&resolved, &done))?;
        return Ok(ExitCode::SUCCESS);
    }
    let resolved = resolve_built_in(cfg, args.quiet)?;
    let dir = args
        .out
        .clone()
        .unwrap_or_else(|| run_dir::default_dir(&resolved));
    let done = execute(&resolved, &dir, args.quiet)?;
    text::out(&summary_text(&resolved, &done))?;
    Ok(ExitCode::SUCCESS)
}

/// Resolves the configuration of a built-in problem; for the muon shield
/// with `[muon_shield]` settings, says (unless `quiet`) that the hits pool
/// is being built (tens of seconds of tracking) and what the input muons
/// are, on stderr.
///
/// # Errors
/// As [`lgso::config::Config::resolve`].
pub fn resolve_built_in(cfg: Config, quiet: bool) -> anyhow::Result<ResolvedConfig> {
    let shield = cfg.muon_shield != Default::default();
    let resolved = cfg.resolve_announcing(&mut |k| {
        if !quiet {
            eprintln!(
                "building the hits pool: tracking the first {k} muons at the start psi \
                 (~{:.0} s on {} cores)",
                k as f64 / (50_000.0 * lgso::threads::available_cores() as f64),
                lgso::threads::available_cores()
            );
        }
    })?;
    if shield && !quiet {
        if let Some(inputs) = resolved.problem.simulator.describe_inputs() {
            eprintln!("input muons: {inputs}");
        }
    }
    Ok(resolved)
}

/// Words for a stop reason.
pub fn stop_text(reason: &StopReason, cfg: &ResolvedConfig, iterations: u64, calls: u64) -> String {
    let next = cfg.cost().next(iterations);
    let adaptive = cfg.method == Method::Lgso && cfg.lgso.preset == Preset::Auto;
    match reason {
        // the adaptive L-GSO sizes each iteration itself (design, checks)
        StopReason::Budget if adaptive => format!(
            "budget (the next iteration, sized by the adaptive trust region, needs more than \
             the {} left of {} calls)",
            text::calls(cfg.budget.saturating_sub(calls)),
            text::calls(cfg.budget)
        ),
        StopReason::Budget => format!(
            "budget (another iteration of {} calls would exceed {})",
            text::calls(next),
            text::calls(cfg.budget)
        ),
        StopReason::MaxIterations => format!(
            "max iterations ({})",
            cfg.max_iterations.unwrap_or_default()
        ),
        StopReason::Target => format!(
            "target (objective estimate <= {})",
            cfg.target.map_or("?".into(), text::num)
        ),
        StopReason::Converged(why) => format!("converged: {why}"),
        StopReason::Failed(why) => format!("failed: {why}"),
    }
}

/// The final summary printed by `lgso run`.
pub fn summary_text(cfg: &ResolvedConfig, done: &Finished) -> String {
    let s = &done.summary;
    let objective = match (done.reports.first(), done.reports.last()) {
        (Some(a), Some(b)) => format!("{} -> {}", text::objective(a), text::objective(b)),
        _ => format!(
            "{} -> {}",
            text::num(s.objective_start),
            text::num(s.objective_final)
        ),
    };
    let rows = [
        ("problem", s.problem.clone()),
        ("method", s.optimizer.clone()),
        (
            "stopped",
            stop_text(&s.stop_reason, cfg, s.iterations, s.calls),
        ),
        ("iterations", s.iterations.to_string()),
        (
            "calls",
            format!("{} of {}", text::calls(s.calls), text::calls(cfg.budget)),
        ),
        ("objective", objective),
        (
            "psi",
            format!(
                "{} -> {}",
                text::vector(&s.psi_start, 6),
                text::vector(&s.psi_final, 6)
            ),
        ),
        (
            "time",
            if s.iterations == 0 {
                text::seconds(s.seconds_total)
            } else {
                if s.optimizer == Method::Lgso.name() {
                    format!(
                        "{} (median {} per iteration, {:.0}% fitting the surrogate)",
                        text::seconds(s.seconds_total),
                        text::seconds(s.median_seconds_per_iteration),
                        100.0 * s.fit_share
                    )
                } else {
                    format!(
                        "{} (median {} per iteration)",
                        text::seconds(s.seconds_total),
                        text::seconds(s.median_seconds_per_iteration),
                    )
                }
            },
        ),
        (
            "failures",
            if s.failed_requests == 0 {
                "none".to_string()
            } else {
                format!(
                    "{} simulator requests failed or returned NaN/infinite samples (kept, not \
                     trained on; `lgso export {}` -> requests.csv)",
                    s.failed_requests,
                    done.dir.display()
                )
            },
        ),
        ("run directory", done.dir.display().to_string()),
    ];
    rows.iter().map(|(k, v)| format!("{k:<14}{v}\n")).collect()
}
