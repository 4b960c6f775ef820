//! `lgso bench` (methods compared over seeds on built-in problems, each
//! at its best of the settings of `--sweep`) and `lgso bench-fit` (the
//! cost of one surrogate fit, in `fit.rs`).
//!
//! `lgso bench --problems P1,P2 --methods M1,M2 --seeds K --budget CALLS
//! --jobs J --sweep KEY=V1,V2,... --out DIR` runs every (problem, method,
//! setting, seed), up to `J` runs at a time, the seeds being `S, S+1, ...,
//! S+K-1` for the configured `--seed` `S`. A method's settings are the
//! combinations of the values of the sweeps that apply to it (`sweep.rs`);
//! without one, its configured setting. Without `--methods`/`--seeds` it is
//! one L-GSO run per problem; without `--budget` every run of a problem
//! gets the largest [`bench_budget`] of its runs. With `--sweep` no run stops at a target
//! (`stop.target` is cleared). It writes:
//!
//! | file | content |
//! | --- | --- |
//! | `DIR/<problem>/<method>[-<setting>]-s<seed>/` | the run directory of each run (`config.toml`, `trace.csv`, `psi.csv`, `summary.json`, `objective.png`) |
//! | `DIR/results.csv` | one row per run: setting, status, stop reason, calls, objectives, calls to first reach and to stay below the target, time, error (`record.rs`) |
//! | `DIR/<problem>.png` | the objective against calls, each method at its best setting: the median over seeds and their range (`plot.rs`) |
//! | `DIR/bench.md` | each method at its best setting (also printed), every setting, every run (`table.rs`) |
//!
//! Every configuration is resolved before the first run, so a bad setting
//! (a swept value of the wrong type, a budget below one iteration,
//! `oracle` on a problem without an exact objective) fails at once and
//! nothing runs. A run that fails (e.g. a diverging method) is recorded as
//! failed and the others go on; after everything is written the command
//! fails (exit code 2) naming the first failed run.

use std::fs;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use anyhow::{bail, Context};
use lgso::config::{default_budget, ResolvedConfig};
use lgso::optimizer::METHODS;
use lgso::problem::NAMES;

mod fit;
mod metric;
mod plot;
mod record;
mod setting;
mod sweep;
mod table;

pub use fit::{bench_fit, check_surrogate};

use crate::args::BenchArgs;
use crate::run::{apply_common, execute, load_config};
use crate::run_dir::{check_free, unix_seconds, write_atomic};
use crate::text;
use metric::Judge;
use plot::{comparison_png, MethodTraces};
use record::{Record, RESULTS_LEAD, RESULTS_TAIL};
use setting::Setting;
use sweep::Sweep;
use table::Group;

/// The benchmark's default budget for `problem` when a run is L-GSO with
/// `preset = "auto"` (`auto`): `lgso run`'s default for it; otherwise
/// (issue "L-GSO core"): Rosenbrock 700,000 calls, three-hump 450,000, the
/// others as `lgso run` at the paper's settings. Every run of a problem
/// gets the largest of its runs' budgets, so that the methods compete on
/// the same budget and every baseline fits an iteration.
pub fn bench_budget(problem: &str, auto: bool) -> u64 {
    match (problem, auto) {
        (_, true) => default_budget(problem, true),
        ("rosenbrock", false) => 700_000,
        ("three-hump", false) => 450_000,
        (other, false) => default_budget(other, false),
    }
}

/// `bench problem P, method M[, --sweep K=V][, seed S]`, for messages.
fn job_text(problem: &str, method: &str, setting: &Setting, seed: Option<u64>) -> String {
    let mut what = format!("bench problem {problem}, method {method}");
    if !setting.label(method).is_empty() {
        what.push_str(&format!(", --sweep {}", setting.describe()));
    }
    if let Some(seed) = seed {
        what.push_str(&format!(", seed {seed}"));
    }
    what
}

/// Whether `cfg` runs L-GSO with the `auto` preset (read from the
/// configuration as written: resolving it could build a muon-shield hits
/// pool; a bad value fails when the run's configuration is resolved).
fn is_auto_lgso(cfg: &lgso::config::Config) -> bool {
    lgso::optimizer::Method::parse(&cfg.method).ok() == Some(lgso::optimizer::Method::Lgso)
        && matches!(cfg.lgso.preset.as_deref(), None | Some("auto"))
}

/// One (problem, method, setting, seed) of the bench.
pub struct Job {
    cfg: ResolvedConfig,
    /// The index of the setting in its method's settings.
    setting: usize,
    /// The setting's label (empty: the configured setting).
    label: String,
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
/// Unknown problem or method names, `--seeds`/`--jobs` 0, `--method`, a
/// bad `--sweep`, config errors (all checked before the first run),
/// run-directory and output errors, and failed runs (reported after
/// everything is written).
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
    let sweeps: Vec<Sweep> = args
        .sweep
        .iter()
        .map(|raw| Sweep::parse(raw))
        .collect::<anyhow::Result<_>>()?;
    let mut base = load_config(args.common.config.as_deref())?;
    apply_common(&mut base, &args.common);
    if !sweeps.is_empty() {
        // every run goes on to its budget: calls to stay below need it
        base.stop.target = None;
    }
    sweep::check_against(&sweeps, &base, &methods)?;
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
    let settings: Vec<Vec<Setting>> = methods
        .iter()
        .map(|m| Setting::all_for(&sweeps, m))
        .collect();
    let mut jobs: Vec<Job> = Vec::new();
    for &problem in &problems {
        // one budget for every run of the problem
        let mut budget = 0;
        for (&method, method_settings) in methods.iter().zip(&settings) {
            for setting in method_settings {
                let mut cfg = setting.apply(&base)?;
                cfg.problem = problem.to_string();
                cfg.method = method.to_string();
                let run_budget = cfg
                    .stop
                    .budget
                    .unwrap_or_else(|| bench_budget(problem, is_auto_lgso(&cfg)));
                budget = budget.max(run_budget);
            }
        }
        for (&method, method_settings) in methods.iter().zip(&settings) {
            let dir_labels = setting::dir_labels(method_settings, method);
            for (k, setting) in method_settings.iter().enumerate() {
                let label = setting.label(method);
                for &seed in &seeds {
                    let what =
                        || job_text(problem, method, setting, (seeds.len() > 1).then_some(seed));
                    let mut cfg = setting.apply(&base)?;
                    cfg.problem = problem.to_string();
                    cfg.method = method.to_string();
                    cfg.seed = seed;
                    if cfg.stop.budget.is_none() {
                        cfg.stop.budget = Some(budget);
                    }
                    let cfg = cfg.resolve().with_context(what)?;
                    let name = match dir_labels[k].as_str() {
                        "" => format!("{method}-s{seed}"),
                        l => format!("{method}-{l}-s{seed}"),
                    };
                    let dir = out.join(problem).join(name);
                    jobs.push(Job {
                        cfg,
                        setting: k,
                        label: label.clone(),
                        seed,
                        dir,
                    });
                }
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
    let setting_of = |job: &Job| {
        let m = methods.iter().position(|&m| m == job.method());
        &settings[m.expect("a job's method is among --methods")][job.setting]
    };
    let records = run_all(&jobs, args.jobs, |job| {
        let t0 = Instant::now();
        let result = execute(&job.cfg, &job.dir, quiet_runs);
        let record = Record::new(job, setting_of(job), result, t0.elapsed().as_secs_f64());
        if !args.quiet && (args.jobs > 1 || !record.ok()) {
            let _ = writeln!(std::io::stderr(), "{}", record.done_line());
        }
        record
    });

    fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    let keys: Vec<String> = sweeps.iter().map(|s| s.key.clone()).collect();
    let mut csv = csv::Writer::from_writer(Vec::new());
    let header: Vec<&str> = RESULTS_LEAD
        .iter()
        .copied()
        .chain(keys.iter().map(String::as_str))
        .chain(RESULTS_TAIL.iter().copied())
        .collect();
    csv.write_record(&header)?;
    for r in &records {
        csv.write_record(r.csv_row(&keys))?;
    }
    let bytes = csv.into_inner().context("cannot write results.csv")?;
    write_atomic(&results_csv, &bytes)
        .with_context(|| format!("cannot write {}", results_csv.display()))?;

    let groups = Group::all(&records);
    let best = table::best_groups(&groups);
    for &problem in &problems {
        let Some(job) = jobs.iter().find(|j| j.problem() == problem) else {
            continue;
        };
        let traces: Vec<MethodTraces> = best
            .iter()
            .map(|&i| &groups[i])
            .filter(|g| g.records[0].problem == problem)
            .map(|g| MethodTraces {
                method: g.records[0].method.clone(),
                label: g.legend(),
                traces: g.records.iter().map(|r| r.judged_trace()).collect(),
                failed: g.stats.failed,
            })
            .collect();
        let y_label = match Judge::of(&job.cfg.problem) {
            Judge::Exact => "objective E[R], exact",
            Judge::Estimate => "objective E[R], Monte Carlo estimate",
        };
        let png = out.join(format!("{problem}.png"));
        let target = Some(job.cfg.problem.target);
        if let Err(e) = comparison_png(&png, problem, target, y_label, &traces) {
            if !args.quiet {
                let _ = writeln!(std::io::stderr(), "warning: cannot draw the plot: {e}");
            }
        }
    }

    let overview = table::Overview {
        jobs: &jobs,
        problems: &problems,
        methods: &methods,
        seeds: &seeds,
        sweeps: &sweeps,
    };
    let md = table::bench_md(&overview, &records, &groups, &best);
    write_atomic(&bench_md, md.as_bytes())
        .with_context(|| format!("cannot write {}", bench_md.display()))?;
    text::out(&format!(
        "{}\nwritten to {}\n",
        table::best_table(&groups, &best),
        bench_md.display()
    ))?;

    let failed: Vec<&Record> = records.iter().filter(|r| !r.ok()).collect();
    if let Some(first) = failed.first() {
        bail!(
            "{} of {} bench runs failed (see {}); the first: {}: {}",
            failed.len(),
            records.len(),
            results_csv.display(),
            first.name(),
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
