//! `lgso resume` and `lgso export`: continue a stopped or killed run from
//! its run database, and write its samples and trace as CSV for pandas.

use std::fs;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{bail, Context};
use lgso::config::Config;
use lgso::data::Matrix;
use lgso::evaluate::{InProcess, RequestResult};
use lgso::history::{RequestKind, RunStatus, RunStore};

use crate::args::{ExportArgs, ResumeArgs};
use crate::run::{execute_with, summary_text};
use crate::text;

/// `lgso resume RUN_DIR`.
///
/// # Errors
/// A directory that is not an lgso run; a finished run without a larger
/// `--budget` / `--max-iterations`; the errors of `lgso run`.
pub fn resume(args: &ResumeArgs) -> anyhow::Result<ExitCode> {
    let dir = &args.dir;
    let store = RunStore::open(dir)?;
    let text_cfg = store
        .meta("config")?
        .with_context(|| format!("{} records no configuration", store.path().display()))?;
    let mut cfg = Config::from_toml_str(&text_cfg)
        .with_context(|| format!("the configuration stored in {}", store.path().display()))?;
    let calls = store.last_checkpoint()?.map_or(0, |c| c.calls);
    if store.status()? == RunStatus::Finished {
        let reason = store.meta("stop_reason")?.unwrap_or_default();
        let room = match reason.as_str() {
            "budget" => args.budget.is_some_and(|b| b > calls),
            "max_iterations" => args
                .max_iterations
                .is_some_and(|n| cfg.stop.max_iterations.is_none_or(|m| n > m)),
            _ => false,
        };
        if !room {
            let how = match reason.as_str() {
                "budget" => format!("pass --budget above {calls} to continue it"),
                "max_iterations" => format!(
                    "pass --max-iterations above {} to continue it",
                    cfg.stop.max_iterations.unwrap_or_default()
                ),
                "converged" => {
                    "its optimizer converged (psi cannot move further with its settings)"
                        .to_string()
                }
                _ => "it reached its target".to_string(),
            };
            bail!(
                "run {} is finished (stopped by {reason} after {} calls); nothing to resume: {how}",
                dir.display(),
                text::calls(calls)
            );
        }
    }
    if let Some(b) = args.budget {
        cfg.stop.budget = Some(b);
    }
    if let Some(n) = args.max_iterations {
        cfg.stop.max_iterations = Some(n);
    }
    let cwd = store.meta("cwd")?;
    drop(store);
    let done = if cfg.problem == lgso::problem::EXTERNAL {
        // the simulator command may be relative to where the run started:
        // start the workers there again
        let dir = std::path::absolute(dir)
            .with_context(|| format!("cannot resolve {}", dir.display()))?;
        if let Some(cwd) = cwd {
            std::env::set_current_dir(&cwd).with_context(|| {
                format!("cannot enter {cwd}, the directory the run was started in")
            })?;
        }
        let (resolved, mut pool) = crate::external::start(cfg)?;
        let done = execute_with(&resolved, &dir, args.quiet, &mut pool, true)?;
        (resolved, done)
    } else {
        let resolved = crate::run::resolve_built_in(cfg, args.quiet)?;
        let mut evaluator = InProcess::new(resolved.problem.simulator.clone());
        let done = execute_with(&resolved, dir, args.quiet, &mut evaluator, true)?;
        (resolved, done)
    };
    text::out(&summary_text(&done.0, &done.1))?;
    Ok(ExitCode::SUCCESS)
}

/// `lgso export RUN_DIR`: `samples.csv`, `requests.csv` and `trace.csv`.
///
/// # Errors
/// A directory that is not an lgso run; files that cannot be written.
pub fn export(args: &ExportArgs) -> anyhow::Result<ExitCode> {
    let store = RunStore::open(&args.dir)?;
    let dims_text = store.meta("dims")?.unwrap_or_default();
    let dims: Vec<usize> = dims_text
        .split(',')
        .filter_map(|v| v.trim().parse().ok())
        .collect();
    let &[n, d, m] = dims.as_slice() else {
        bail!(
            "{} records no dimensions (meta `dims` = {dims_text:?})",
            store.path().display()
        );
    };
    let names: Vec<String> = store
        .meta("psi_names")?
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_else(|| (1..=n).map(|i| format!("psi_{i}")).collect());
    let out = args.out.clone().unwrap_or_else(|| args.dir.join("export"));
    fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    let mut results: Vec<(RequestKind, RequestResult)> = Vec::new();
    for kind in [RequestKind::Step, RequestKind::Monitor] {
        for r in store.requests_of_kind(kind, (n, d, m), None)? {
            results.push((kind, r));
        }
    }
    results.sort_by_key(|(_, r)| r.request.id);
    let samples = write_samples(&out.join("samples.csv"), &results, &names, d, m)?;
    write_requests(&out.join("requests.csv"), &results, &names)?;
    let trace = write_trace(&out.join("trace.csv"), &store, &names)?;
    text::out(&format!(
        "wrote {} ({} samples), {} ({} requests), {} ({} rows)\n",
        out.join("samples.csv").display(),
        samples,
        out.join("requests.csv").display(),
        results.len(),
        out.join("trace.csv").display(),
        trace
    ))?;
    Ok(ExitCode::SUCCESS)
}

fn kind_name(kind: RequestKind) -> &'static str {
    match kind {
        RequestKind::Step => "step",
        RequestKind::Monitor => "monitor",
    }
}

fn csv_writer(path: &Path) -> anyhow::Result<csv::Writer<fs::File>> {
    csv::Writer::from_path(path).with_context(|| format!("cannot create {}", path.display()))
}

/// One row per sample: `request, iteration, kind, status, <psi names>,
/// x_1..x_d, y_1..y_m`.
fn write_samples(
    path: &Path,
    results: &[(RequestKind, RequestResult)],
    names: &[String],
    d: usize,
    m: usize,
) -> anyhow::Result<usize> {
    let mut w = csv_writer(path)?;
    let mut header: Vec<String> = ["request", "iteration", "kind", "status"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    header.extend(names.iter().cloned());
    header.extend((1..=d).map(|i| format!("x_{i}")));
    header.extend((1..=m).map(|i| format!("y_{i}")));
    w.write_record(&header)?;
    let mut count = 0;
    for (kind, r) in results {
        for (status, s) in [("good", &r.samples), ("rejected", &r.rejected)] {
            for i in 0..s.len() {
                let mut row = vec![
                    r.request.id.to_string(),
                    r.request.iteration.to_string(),
                    kind_name(*kind).to_string(),
                    status.to_string(),
                ];
                row.extend(r.request.psi.iter().map(|v| v.to_string()));
                row.extend(cells(&s.x, i));
                row.extend(cells(&s.y, i));
                w.write_record(&row)?;
                count += 1;
            }
        }
    }
    w.flush()?;
    Ok(count)
}

fn cells(m: &Matrix, i: usize) -> impl Iterator<Item = String> + '_ {
    m.row(i).iter().map(|v| v.to_string())
}

/// One row per request, with its failure if any.
fn write_requests(
    path: &Path,
    results: &[(RequestKind, RequestResult)],
    names: &[String],
) -> anyhow::Result<()> {
    let mut w = csv_writer(path)?;
    let mut header: Vec<String> = [
        "request",
        "iteration",
        "kind",
        "count",
        "seed",
        "good",
        "rejected",
        "attempts",
        "seconds",
        "failure_kind",
        "failure",
        "stderr_tail",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    header.extend(names.iter().cloned());
    w.write_record(&header)?;
    for (kind, r) in results {
        let f = r.failure.as_ref();
        let mut row = vec![
            r.request.id.to_string(),
            r.request.iteration.to_string(),
            kind_name(*kind).to_string(),
            r.request.count.to_string(),
            r.request.seed.to_string(),
            r.samples.len().to_string(),
            r.rejected.len().to_string(),
            r.attempts.to_string(),
            r.seconds.to_string(),
            f.map_or(String::new(), |f| f.kind.name().to_string()),
            f.map_or(String::new(), |f| f.message.clone()),
            f.map_or(String::new(), |f| f.stderr_tail.clone()),
        ];
        row.extend(r.request.psi.iter().map(|v| v.to_string()));
        w.write_record(&row)?;
    }
    w.flush()?;
    Ok(())
}

/// The trace with psi: `trace.csv`'s columns plus one column per psi.
fn write_trace(path: &Path, store: &RunStore, names: &[String]) -> anyhow::Result<usize> {
    let reports = store.reports()?;
    let mut w = csv_writer(path)?;
    let mut header: Vec<String> = crate::run_dir::TRACE_HEADER
        .iter()
        .map(|s| s.to_string())
        .collect();
    header.extend(names.iter().cloned());
    w.write_record(&header)?;
    for r in &reports {
        let mut row = crate::run_dir::trace_row(r);
        row.extend(r.psi.iter().map(|v| v.to_string()));
        w.write_record(&row)?;
    }
    w.flush()?;
    Ok(reports.len())
}
