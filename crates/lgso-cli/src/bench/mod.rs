//! `lgso bench` (methods compared over seeds on built-in problems) and
//! `lgso bench-fit` (the cost of one surrogate fit, in `fit.rs`).
//!
//! `lgso bench --problems P1,P2 --methods M1,M2 --seeds K --budget CALLS
//! --jobs J --out DIR` runs every (problem, method, seed), up to `J` runs
//! at a time, the seeds being `S, S+1, ..., S+K-1` for the configured
//! `--seed` `S`. Without `--methods`/`--seeds` it is one L-GSO run per
//! problem; without `--budget` each problem gets [`bench_budget`]. It
//! writes:
//!
//! | file | content |
//! | --- | --- |
//! | `DIR/<problem>/<method>-s<seed>/` | the run directory of each run (`config.toml`, `trace.csv`, `psi.csv`, `summary.json`, `objective.png`) |
//! | `DIR/results.csv` | one row per run: status, stop reason, calls, objectives, calls to target, time, error |
//! | `DIR/<problem>.png` | the objective estimate against calls, per method the median over seeds and their range |
//! | `DIR/bench.md` | a table per (problem, method) (also printed), then one row per run with timings |
//!
//! Every configuration is resolved before the first run, so a bad setting
//! (a budget below one iteration, `oracle` on a problem without an exact
//! objective) fails at once. A run that fails (e.g. a diverging method) is
//! recorded as failed and the others go on; after everything is written
//! the command fails (exit code 2) naming the first failed run.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use anyhow::{bail, Context};
use lgso::config::{default_budget, ResolvedConfig};
use lgso::optimizer::METHODS;
use lgso::problem::NAMES;
use lgso::report::IterationReport;

mod fit;
mod plot;

pub use fit::{bench_fit, check_surrogate};

use crate::args::BenchArgs;
use plot::{comparison_png, MethodTraces};
use crate::run::{apply_common, execute, load_config, Finished};
use crate::run_dir::{check_free, unix_seconds, write_atomic};
use crate::text;

/// The benchmark's default budget for `problem` (issue "L-GSO core"):
/// Rosenbrock 700,000 calls, three-hump 450,000; others as `lgso run`.
pub fn bench_budget(problem: &str) -> u64 {
    match problem {
        "rosenbrock" => 700_000,
        "three-hump" => 450_000,
        other => default_budget(other),
    }
}

/// Columns of `results.csv`.
pub const RESULTS_HEADER: &[&str] = &[
    "problem",
    "method",
    "seed",
    "status",
    "stop_reason",
    "calls",
    "iterations",
    "objective_start",
    "objective_final",
    "objective_final_stderr",
    "objective_final_exact",
    "target",
    "calls_to_target",
    "seconds_total",
    "error",
];

/// Columns of the table per (problem, method).
const TABLE_HEADERS: &[&str] = &[
    "problem",
    "method",
    "runs",
    "reached target",
    "median calls to target",
    "median final objective",
    "median exact final objective",
    "median time per run",
    "failed",
];

/// Columns of the table per run.
const RUN_HEADERS: &[&str] = &[
    "problem",
    "method",
    "seed",
    "calls",
    "iterations",
    "objective start",
    "objective final",
    "exact final",
    "calls to target",
    "s / iteration",
    "fit share",
    "fit s / it",
    "simulate s / it",
    "gradient s / it",
];

/// One (problem, method, seed) of the bench.
struct Job {
    cfg: ResolvedConfig,
    seed: u64,
    dir: PathBuf,
}

impl Job {
    fn problem(&self) -> &'static str {
        self.cfg.problem.name
    }
    fn method(&self) -> &str {
        self.cfg.method.name()
    }
}

/// What a run left: a row of `results.csv`, its trace for the plot and,
/// when it succeeded, the whole run for the table of runs.
struct Record {
    problem: &'static str,
    method: String,
    seed: u64,
    target: f64,
    /// The error of a failed run (one line); `None` when it succeeded.
    error: Option<String>,
    stop_reason: String,
    calls: Option<u64>,
    iterations: Option<u64>,
    objective_start: Option<f64>,
    objective_final: Option<f64>,
    objective_final_stderr: Option<f64>,
    objective_final_exact: Option<f64>,
    /// Calls of the first report whose estimate is at or below the target.
    calls_to_target: Option<u64>,
    seconds_total: Option<f64>,
    /// `(calls, objective estimate)` per report, the start point first.
    trace: Vec<(u64, f64)>,
    finished: Option<Finished>,
}

impl Record {
    fn new(job: &Job, result: anyhow::Result<Finished>, wall: f64) -> Record {
        let target = job.cfg.problem.target;
        let mut r = Record {
            problem: job.problem(),
            method: job.method().to_string(),
            seed: job.seed,
            target,
            error: None,
            stop_reason: String::new(),
            calls: None,
            iterations: None,
            objective_start: None,
            objective_final: None,
            objective_final_stderr: None,
            objective_final_exact: None,
            calls_to_target: None,
            seconds_total: Some(wall),
            trace: Vec::new(),
            finished: None,
        };
        match result {
            Ok(done) => {
                let s = &done.summary;
                r.stop_reason = s.stop_reason.name().to_string();
                r.calls = Some(s.calls);
                r.iterations = Some(s.iterations);
                r.objective_start = Some(s.objective_start);
                r.objective_final = Some(s.objective_final);
                r.objective_final_stderr = Some(s.objective_final_stderr);
                r.objective_final_exact = s.objective_final_exact;
                r.seconds_total = Some(s.seconds_total);
                r.trace = done
                    .reports
                    .iter()
                    .map(|x| (x.calls, x.objective))
                    .collect();
                r.finished = Some(done);
            }
            Err(e) => {
                r.error = Some(format!("{e:#}").replace('\n', " "));
                r.stop_reason = "failed".into();
                // summary.json records the failure, trace.csv the
                // iterations before it.
                if let Some(v) = fs::read_to_string(job.dir.join("summary.json"))
                    .ok()
                    .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
                {
                    let f = |key: &str| v[key].as_f64();
                    if let Some(reason) = v["stop_reason"].as_str() {
                        reason.clone_into(&mut r.stop_reason);
                    }
                    r.calls = v["calls"].as_u64();
                    r.iterations = v["iterations"].as_u64();
                    r.objective_start = f("objective_start");
                    r.objective_final = f("objective_final");
                    r.objective_final_stderr = f("objective_final_stderr");
                    r.objective_final_exact = f("objective_final_exact");
                    r.seconds_total = f("seconds_total").or(r.seconds_total);
                }
                r.trace = read_trace(&job.dir.join("trace.csv"));
            }
        }
        r.calls_to_target = r
            .trace
            .iter()
            .find(|&&(_, objective)| objective <= target)
            .map(|&(calls, _)| calls);
        r
    }

    fn ok(&self) -> bool {
        self.error.is_none()
    }

    /// The row of `results.csv`.
    fn csv_row(&self) -> Vec<String> {
        let f = |x: Option<f64>| x.map(|v| v.to_string()).unwrap_or_default();
        let u = |x: Option<u64>| x.map(|v| v.to_string()).unwrap_or_default();
        vec![
            self.problem.to_string(),
            self.method.clone(),
            self.seed.to_string(),
            if self.ok() { "ok" } else { "failed" }.to_string(),
            self.stop_reason.clone(),
            u(self.calls),
            u(self.iterations),
            f(self.objective_start),
            f(self.objective_final),
            f(self.objective_final_stderr),
            f(self.objective_final_exact),
            self.target.to_string(),
            u(self.calls_to_target),
            f(self.seconds_total),
            self.error.clone().unwrap_or_default(),
        ]
    }

    /// The line printed when the run ends (with `--jobs` above 1).
    fn done_line(&self) -> String {
        let time = self.seconds_total.map_or("—".into(), text::seconds);
        match &self.error {
            None => format!(
                "done {} {} seed {}: objective {} after {} calls in {time}",
                self.problem,
                self.method,
                self.seed,
                self.objective_final.map_or("—".into(), text::num),
                self.calls.map_or("—".into(), text::calls),
            ),
            Some(e) => format!(
                "failed {} {} seed {} after {time}: {e}",
                self.problem, self.method, self.seed
            ),
        }
    }

    /// The row of the table of runs in bench.md.
    fn run_row(&self) -> Vec<String> {
        let dash = || "—".to_string();
        let head = [
            self.problem.to_string(),
            self.method.clone(),
            self.seed.to_string(),
        ];
        let Some(done) = &self.finished else {
            let mut r = head.to_vec();
            r.push(self.calls.map_or_else(dash, text::calls));
            r.push(self.iterations.map_or_else(dash, |n| n.to_string()));
            r.push(self.objective_start.map_or_else(dash, text::num));
            r.push(format!(
                "failed: {}",
                self.error.as_deref().unwrap_or_default()
            ));
            r.resize(RUN_HEADERS.len(), dash());
            return r;
        };
        let s = &done.summary;
        let steps: &[IterationReport] = done.reports.get(1..).unwrap_or(&[]);
        let med = |f: fn(&IterationReport) -> f64| {
            let v: Vec<f64> = steps.iter().map(f).collect();
            median(&v).map_or_else(dash, |m| text::sig(m, 3))
        };
        let objective = |r: Option<&IterationReport>, fallback: f64| match r {
            Some(r) => format!(
                "{} ± {}",
                text::num(r.objective),
                text::sig(r.objective_stderr, 2)
            ),
            None => text::num(fallback),
        };
        let lgso = self.method == lgso::optimizer::Method::Lgso.name();
        let mut r = head.to_vec();
        r.extend([
            text::calls(s.calls),
            s.iterations.to_string(),
            objective(done.reports.first(), s.objective_start),
            objective(done.reports.last(), s.objective_final),
            s.objective_final_exact.map_or_else(dash, text::num),
            self.calls_to_target.map_or_else(dash, text::calls),
            if steps.is_empty() {
                dash()
            } else {
                text::sig(s.median_seconds_per_iteration, 3)
            },
            if lgso {
                format!("{:.0}%", 100.0 * s.fit_share)
            } else {
                dash()
            },
            if lgso {
                med(|r| r.step.seconds_fit)
            } else {
                dash()
            },
            med(|r| r.seconds_simulate),
            med(|r| r.step.seconds_gradient),
        ]);
        r
    }
}

/// `(calls, objective)` of every row of a run's `trace.csv`; empty when it
/// cannot be read.
fn read_trace(path: &Path) -> Vec<(u64, f64)> {
    let Ok(mut reader) = csv::Reader::from_path(path) else {
        return Vec::new();
    };
    let Ok(header) = reader.headers().cloned() else {
        return Vec::new();
    };
    let col = |name: &str| header.iter().position(|h| h == name);
    let (Some(c), Some(o)) = (col("calls"), col("objective")) else {
        return Vec::new();
    };
    reader
        .records()
        .map_while(Result::ok)
        .filter_map(|row| Some((row.get(c)?.parse().ok()?, row.get(o)?.parse().ok()?)))
        .collect()
}

/// The names of a comma-separated list option, checked against `valid`,
/// without empty entries and duplicates.
fn names<'a>(
    raw: &'a [String],
    option: &str,
    what: &str,
    valid: &[&str],
) -> anyhow::Result<Vec<&'a str>> {
    let mut names: Vec<&str> = Vec::new();
    for raw in raw {
        let name = raw.trim();
        if name.is_empty() {
            continue; // `a,,b` or a trailing comma
        }
        if !valid.contains(&name) {
            bail!(
                "unknown {what} `{name}` in {option}: expected a comma-separated list of {}",
                valid.join(", ")
            );
        }
        if !names.contains(&name) {
            names.push(name);
        }
    }
    if names.is_empty() {
        bail!(
            "{option} is empty: expected a comma-separated list of {}",
            valid.join(", ")
        );
    }
    Ok(names)
}

/// `lgso bench`.
///
/// # Errors
/// Unknown problem or method names, `--seeds`/`--jobs` 0, `--method`,
/// config errors (all checked before the first run), run-directory and
/// output errors, and failed runs (reported after everything is written).
pub fn bench(args: &BenchArgs) -> anyhow::Result<ExitCode> {
    if let Some(m) = &args.common.method {
        bail!("lgso bench compares the methods of --methods (a comma-separated list), not --method: use --methods {m}");
    }
    let problems = names(&args.problems, "--problems", "problem", NAMES)?;
    let methods = names(&args.methods, "--methods", "method", &METHODS)?;
    if args.seeds == 0 || args.seeds > 10_000 {
        bail!(
            "--seeds {}: expected an integer from 1 to 10000 (seeds per problem and method)",
            args.seeds
        );
    }
    if args.jobs == 0 {
        bail!("--jobs 0: expected an integer >= 1 (runs at a time)");
    }
    let mut base = load_config(args.common.config.as_deref())?;
    apply_common(&mut base, &args.common);
    let first_seed = base.seed;
    let seeds: Vec<u64> = (0..args.seeds)
        .map(|i| first_seed.checked_add(i))
        .collect::<Option<_>>()
        .with_context(|| {
            format!(
                "--seeds {} from seed {first_seed}: the seeds would pass {}",
                args.seeds,
                u64::MAX
            )
        })?;
    if args.jobs > 1 && base.gan.threads == 0 {
        // share the cores between the runs instead of oversubscribing them
        base.gan.threads = (lgso::threads::available_cores() / args.jobs).max(1);
    }
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("runs").join(format!("bench-{}", unix_seconds())));

    // Resolve every configuration first, so a bad setting fails now rather
    // than after hours of running.
    let mut jobs: Vec<Job> = Vec::new();
    for &problem in &problems {
        for &method in &methods {
            for &seed in &seeds {
                let mut cfg = base.clone();
                cfg.problem = problem.to_string();
                cfg.method = method.to_string();
                cfg.seed = seed;
                if cfg.stop.budget.is_none() {
                    cfg.stop.budget = Some(bench_budget(problem));
                }
                let cfg = cfg.resolve().with_context(|| {
                    if seeds.len() > 1 {
                        format!("bench problem {problem}, method {method}, seed {seed}")
                    } else {
                        format!("bench problem {problem}, method {method}")
                    }
                })?;
                let dir = out.join(problem).join(format!("{method}-s{seed}"));
                jobs.push(Job { cfg, seed, dir });
            }
        }
    }
    let bench_md = out.join("bench.md");
    let results_csv = out.join("results.csv");
    for path in [&bench_md, &results_csv] {
        if path.exists() {
            bail!(
                "{} already exists: choose another --out or move it away",
                path.display()
            );
        }
    }
    for job in &jobs {
        check_free(&job.dir)?;
    }

    let quiet_runs = args.quiet || args.jobs > 1;
    let records = run_all(&jobs, args.jobs, |job| {
        let t0 = Instant::now();
        let result = execute(&job.cfg, &job.dir, quiet_runs);
        let record = Record::new(job, result, t0.elapsed().as_secs_f64());
        if !args.quiet && (args.jobs > 1 || !record.ok()) {
            let _ = writeln!(std::io::stderr(), "{}", record.done_line());
        }
        record
    });

    fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    let mut csv = csv::Writer::from_writer(Vec::new());
    csv.write_record(RESULTS_HEADER)?;
    for r in &records {
        csv.write_record(r.csv_row())?;
    }
    let bytes = csv.into_inner().context("cannot write results.csv")?;
    write_atomic(&results_csv, &bytes)
        .with_context(|| format!("cannot write {}", results_csv.display()))?;

    for &problem in &problems {
        let target = jobs
            .iter()
            .find(|j| j.problem() == problem)
            .map(|j| j.cfg.problem.target);
        let traces: Vec<MethodTraces> = methods
            .iter()
            .map(|&method| {
                let group = || {
                    records
                        .iter()
                        .filter(move |r| r.problem == problem && r.method == method)
                };
                MethodTraces {
                    method: method.to_string(),
                    traces: group().map(|r| r.trace.clone()).collect(),
                    failed: group().filter(|r| !r.ok()).count(),
                }
            })
            .collect();
        let png = out.join(format!("{problem}.png"));
        if let Err(e) = comparison_png(&png, problem, target, &traces) {
            if !args.quiet {
                let _ = writeln!(std::io::stderr(), "warning: cannot draw the plot: {e}");
            }
        }
    }

    let mut rows = Vec::new();
    for &problem in &problems {
        for &method in &methods {
            let group: Vec<&Record> = records
                .iter()
                .filter(|r| r.problem == problem && r.method == method)
                .collect();
            rows.push(table_row(problem, method, &group));
        }
    }
    let table = text::markdown(TABLE_HEADERS, &rows);
    let run_rows: Vec<Vec<String>> = records.iter().map(Record::run_row).collect();
    let md = format!(
        "{}\n{table}\n## Runs\n\nOne row per run (run directories `<problem>/<method>-s<seed>/`, \
         every value also in results.csv). Objective: Monte Carlo estimate ± standard error; \
         times are medians over iterations; the fit columns are L-GSO's surrogate fits.\n\n{}",
        header_text(&jobs, &problems, &methods, &seeds),
        text::markdown(RUN_HEADERS, &run_rows)
    );
    write_atomic(&bench_md, md.as_bytes())
        .with_context(|| format!("cannot write {}", bench_md.display()))?;
    text::out(&format!("{table}\nwritten to {}\n", bench_md.display()))?;

    let failed: Vec<&Record> = records.iter().filter(|r| !r.ok()).collect();
    if let Some(first) = failed.first() {
        bail!(
            "{} of {} bench runs failed (see {}); the first: problem {}, method {}, seed {}: {}",
            failed.len(),
            records.len(),
            results_csv.display(),
            first.problem,
            first.method,
            first.seed,
            first.error.as_deref().unwrap_or_default()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs `f` on every job, `workers` at a time (on this thread when
/// `workers` is 1), and returns the results in the order of `jobs`.
fn run_all<T: Send>(jobs: &[Job], workers: usize, f: impl Fn(&Job) -> T + Sync) -> Vec<T> {
    let workers = workers.min(jobs.len());
    if workers <= 1 {
        return jobs.iter().map(f).collect();
    }
    let next = AtomicUsize::new(0);
    let slots: Mutex<Vec<Option<T>>> = Mutex::new(jobs.iter().map(|_| None).collect());
    std::thread::scope(|scope| {
        for i in 0..workers {
            let work = || loop {
                let k = next.fetch_add(1, Ordering::Relaxed);
                let Some(job) = jobs.get(k) else { break };
                let result = f(job);
                slots.lock().unwrap_or_else(PoisonError::into_inner)[k] = Some(result);
            };
            std::thread::Builder::new()
                .name(format!("lgso-bench-{i}"))
                // the main thread's usual size: a run may recurse deeper
                // than the 2 MiB default allows
                .stack_size(8 << 20)
                .spawn_scoped(scope, work)
                .expect("cannot start a bench thread");
        }
    });
    slots
        .into_inner()
        .unwrap_or_else(PoisonError::into_inner)
        .into_iter()
        .map(|r| r.expect("every bench job ran"))
        .collect()
}

/// The table's row for the runs of `method` on `problem`.
fn table_row(problem: &str, method: &str, group: &[&Record]) -> Vec<String> {
    let dash = || "—".to_string();
    let ok: Vec<&Record> = group.iter().copied().filter(|r| r.ok()).collect();
    let reached: Vec<f64> = group
        .iter()
        .filter_map(|r| r.calls_to_target.map(|c| c as f64))
        .collect();
    let finals: Vec<f64> = ok.iter().filter_map(|r| r.objective_final).collect();
    let exact: Vec<f64> = ok.iter().filter_map(|r| r.objective_final_exact).collect();
    let seconds: Vec<f64> = ok.iter().filter_map(|r| r.seconds_total).collect();
    vec![
        problem.to_string(),
        method.to_string(),
        group.len().to_string(),
        format!("{}/{}", reached.len(), group.len()),
        median(&reached).map_or_else(dash, |m| text::calls(m.round() as u64)),
        median(&finals).map_or_else(dash, text::num),
        median(&exact).map_or_else(dash, text::num),
        median(&seconds).map_or_else(dash, text::seconds),
        (group.len() - ok.len()).to_string(),
    ]
}

/// The header of bench.md: what ran and what the columns mean.
fn header_text(jobs: &[Job], problems: &[&str], methods: &[&str], seeds: &[u64]) -> String {
    let per_problem = |f: &dyn Fn(&Job) -> String| -> String {
        problems
            .iter()
            .filter_map(|&p| jobs.iter().find(|j| j.problem() == p))
            .map(|j| format!("{} {}", j.problem(), f(j)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let seeds_text = match seeds {
        [one] => format!("seed {one}"),
        [first, .., last] => format!(
            "seeds {first} to {last} ({} per problem and method)",
            seeds.len()
        ),
        [] => "no seeds".into(),
    };
    format!(
        "# lgso bench\n\n\
         Methods {}; {seeds_text}. Budgets (simulator calls): {}. Targets: {}.\n\n\
         Columns: *runs*: runs of the method on the problem, one per seed; *reached target*: \
         runs whose objective estimate reached the problem's target (at or below it) / runs; \
         *median calls to target*: simulator calls charged when the estimate first reached the \
         target, median over the runs that reached it; *median final objective*: the Monte Carlo \
         estimate of the objective at the final psi, and *median exact final objective*: the \
         closed-form objective there (problems that have one), medians over the successful \
         runs; *median time per run*: wall-clock time, median over the successful runs; \
         *failed*: runs that ended with an error (see results.csv). Plots: `<problem>.png`.\n",
        methods.join(", "),
        per_problem(&|j| text::calls(j.cfg.budget)),
        per_problem(&|j| text::num(j.cfg.problem.target)),
    )
}

fn median(v: &[f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    Some(if n % 2 == 1 {
        s[n / 2]
    } else {
        0.5 * (s[n / 2 - 1] + s[n / 2])
    })
}
