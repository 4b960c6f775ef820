//! The run directory: everything a run leaves on disk.
//!
//! | file | written | content |
//! | --- | --- | --- |
//! | `config.toml` | at the start | the resolved configuration (every default filled in) |
//! | `trace.csv` | a row per iteration, flushed | objective, step and timing per iteration |
//! | `psi.csv` | a row per iteration, flushed | `iteration, calls, psi_1..psi_n` |
//! | `summary.json` | at the end, also after a failure; atomically | the run's `Summary`, the run directory and the config path |
//! | `objective.png` | every iteration and at the end | objective against simulator calls |
//! | `run.sqlite` | every request as it arrives, every iteration | the run database ([`lgso::history::store`]): every sample, failures, the optimizer's state; `lgso resume` and `lgso export` read it |
//!
//! Row 0 of the CSV files is the start point. A directory that already
//! holds `trace.csv`, `summary.json` or `run.sqlite` is refused: a run is
//! never overwritten. `lgso resume` reopens a run directory and rewrites
//! the CSV files from the database.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use lgso::config::ResolvedConfig;
use lgso::driver::Observer;
use lgso::report::{IterationReport, RunInfo, Summary};
use serde::Serialize;

use crate::plot;

/// Columns of `trace.csv`.
pub const TRACE_HEADER: &[&str] = &[
    "iteration",
    "calls",
    "objective",
    "objective_stderr",
    "objective_exact",
    "grad_norm",
    "step_length",
    "train_samples",
    "reused_samples",
    "seconds_simulate",
    "seconds_fit",
    "seconds_gradient",
    "seconds_total",
];

/// A run directory being written; an [`Observer`] of the run.
pub struct RunDir {
    dir: PathBuf,
    problem: String,
    target: f64,
    trace: csv::Writer<File>,
    psi: csv::Writer<File>,
    reports: Vec<IterationReport>,
    finished: bool,
    plot_error: Option<String>,
}

/// `summary.json`: the library's summary plus where the run lives.
#[derive(Serialize)]
struct SummaryFile<'a> {
    #[serde(flatten)]
    summary: &'a Summary,
    run_dir: String,
    config: String,
}

impl RunDir {
    /// Creates (or reuses an empty) `dir`, writes `config.toml` and the CSV
    /// headers.
    ///
    /// # Errors
    /// When `dir` already holds a run (`trace.csv` or `summary.json`), is
    /// not a directory, or cannot be written.
    pub fn create(dir: &Path, cfg: &ResolvedConfig) -> anyhow::Result<RunDir> {
        check_free(dir)?;
        fs::create_dir_all(dir)
            .with_context(|| format!("cannot create run directory {}", dir.display()))?;
        Self::start(dir, cfg)
    }

    /// Reopens the run directory of a run being resumed: rewrites
    /// `config.toml` (the budget may have grown) and starts the CSV files
    /// afresh; the resumed run replays its stored trace rows into them.
    ///
    /// # Errors
    /// When the files cannot be written.
    pub fn reopen(dir: &Path, cfg: &ResolvedConfig) -> anyhow::Result<RunDir> {
        Self::start(dir, cfg)
    }

    fn start(dir: &Path, cfg: &ResolvedConfig) -> anyhow::Result<RunDir> {
        let config_path = dir.join("config.toml");
        let toml = cfg.config.to_toml_string()?;
        write_atomic(&config_path, toml.as_bytes())
            .with_context(|| format!("cannot write {}", config_path.display()))?;

        let n = cfg.problem.dims().psi;
        let trace_path = dir.join("trace.csv");
        let mut trace = csv::Writer::from_path(&trace_path)
            .with_context(|| format!("cannot create {}", trace_path.display()))?;
        trace.write_record(TRACE_HEADER)?;
        trace.flush()?;
        let psi_path = dir.join("psi.csv");
        let mut psi = csv::Writer::from_path(&psi_path)
            .with_context(|| format!("cannot create {}", psi_path.display()))?;
        let mut header = vec!["iteration".to_string(), "calls".to_string()];
        header.extend((0..n).map(|i| cfg.problem.psi_name(i)));
        psi.write_record(&header)?;
        psi.flush()?;

        Ok(RunDir {
            dir: dir.to_path_buf(),
            problem: cfg.problem.name.to_string(),
            target: cfg.problem.target,
            trace,
            psi,
            reports: Vec::new(),
            finished: false,
            plot_error: None,
        })
    }

    /// The reports seen so far (row 0 is the start point).
    pub fn reports(&self) -> &[IterationReport] {
        &self.reports
    }

    /// Why `objective.png` could not be drawn, if it could not.
    pub fn plot_error(&self) -> Option<&str> {
        self.plot_error.as_deref()
    }

    fn write_summary(&mut self, summary: &Summary) -> io::Result<()> {
        let abs = std::path::absolute(&self.dir).unwrap_or_else(|_| self.dir.clone());
        let file = SummaryFile {
            summary,
            run_dir: abs.display().to_string(),
            config: abs.join("config.toml").display().to_string(),
        };
        let mut text = serde_json::to_string_pretty(&file).map_err(io::Error::other)?;
        text.push('\n');
        write_atomic(&self.dir.join("summary.json"), text.as_bytes())?;
        self.finished = true;
        Ok(())
    }

    fn redraw(&mut self) {
        let result = plot::objective_png(
            &self.dir.join("objective.png"),
            &self.problem,
            Some(self.target),
            &self.reports,
        );
        self.plot_error = result.err();
    }

    fn io_error(&self, file: &str, e: impl Into<io::Error>) -> lgso::Error {
        lgso::Error::Io {
            path: self.dir.join(file).display().to_string(),
            source: e.into(),
        }
    }
}

impl Observer for RunDir {
    fn on_start(&mut self, _info: &RunInfo) -> lgso::Result<()> {
        Ok(())
    }

    fn on_iteration(&mut self, r: &IterationReport) -> lgso::Result<()> {
        let f = |x: f64| x.to_string();
        let row = trace_row(r);
        self.trace
            .write_record(&row)
            .map_err(|e| self.io_error("trace.csv", e))?;
        self.trace
            .flush()
            .map_err(|e| self.io_error("trace.csv", e))?;
        let mut row = vec![r.iteration.to_string(), r.calls.to_string()];
        row.extend(r.psi.iter().map(|&x| f(x)));
        self.psi
            .write_record(&row)
            .map_err(|e| self.io_error("psi.csv", e))?;
        self.psi.flush().map_err(|e| self.io_error("psi.csv", e))?;
        self.reports.push(r.clone());
        self.redraw();
        Ok(())
    }

    fn on_finish(&mut self, summary: &Summary) -> lgso::Result<()> {
        self.redraw();
        self.write_summary(summary)
            .map_err(|e| self.io_error("summary.json", e))
    }
}

/// One row of `trace.csv` (columns [`TRACE_HEADER`]); a missing exact
/// objective is an empty cell.
pub fn trace_row(r: &IterationReport) -> Vec<String> {
    let f = |x: f64| x.to_string();
    vec![
        r.iteration.to_string(),
        r.calls.to_string(),
        f(r.objective),
        f(r.objective_stderr),
        r.objective_exact.map(f).unwrap_or_default(),
        f(r.step.grad_norm),
        f(r.step.step_length),
        r.step.train_samples.to_string(),
        r.step.reused_samples.to_string(),
        f(r.seconds_simulate),
        f(r.step.seconds_fit),
        f(r.step.seconds_gradient),
        f(r.seconds_total),
    ]
}

/// Checks that `dir` can become a run directory: it does not exist, or is
/// a directory without `trace.csv` and `summary.json`.
///
/// # Errors
/// Naming the directory and what is in the way.
pub fn check_free(dir: &Path) -> anyhow::Result<()> {
    if dir.exists() && !dir.is_dir() {
        bail!(
            "run directory {} exists and is not a directory; choose another --out",
            dir.display()
        );
    }
    for held in ["trace.csv", "summary.json", lgso::history::store::FILE] {
        if dir.join(held).exists() {
            bail!(
                "run directory {} already holds a run ({held}); choose another --out or move it away",
                dir.display()
            );
        }
    }
    Ok(())
}

/// Writes `bytes` to `path` through a temporary file in the same directory,
/// synced and renamed over `path`, so a crash leaves the old file or the
/// new one, never half of one.
///
/// # Errors
/// I/O errors.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".into());
    let tmp = path.with_file_name(format!(".{name}.tmp"));
    {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    fs::rename(&tmp, path)?;
    if let Some(parent) = path.parent() {
        // Make the rename durable; not every platform can open a directory.
        if let Ok(d) = File::open(if parent.as_os_str().is_empty() {
            Path::new(".")
        } else {
            parent
        }) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

/// The default run directory, `runs/<problem>[-<method>]-s<seed>-<unix seconds>`
/// (the method is named unless it is `lgso`).
pub fn default_dir(cfg: &ResolvedConfig) -> PathBuf {
    let c = &cfg.config;
    let method = if cfg.method == lgso::optimizer::Method::Lgso {
        String::new()
    } else {
        format!("-{}", cfg.method.name())
    };
    PathBuf::from("runs").join(format!(
        "{}{method}-s{}-{}",
        cfg.problem.name,
        c.seed,
        unix_seconds()
    ))
}

/// Seconds since the Unix epoch (0 if the clock is before it).
pub fn unix_seconds() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
