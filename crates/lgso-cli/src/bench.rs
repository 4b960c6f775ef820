//! `lgso bench` (one L-GSO run per problem with the paper's settings, then a
//! Markdown table) and `lgso bench-fit` (the cost of one GAN fit).

use std::fs;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use lgso::config::{default_budget, ResolvedConfig};
use lgso::driver::IterationReport;
use lgso::problem::{by_name, NAMES};

use crate::args::{BenchArgs, BenchFitArgs};
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

const HEADERS: &[&str] = &[
    "problem",
    "calls",
    "iterations",
    "objective start",
    "objective final",
    "exact final",
    "target",
    "calls to target",
    "s / iteration",
    "fit share",
    "fit s / it",
    "simulate s / it",
    "gradient s / it",
];

/// `lgso bench`.
///
/// # Errors
/// Unknown problem names, config errors (all checked before the first
/// run), run-directory errors, and the first failed run (reported after
/// the table of the others).
pub fn bench(args: &BenchArgs) -> anyhow::Result<ExitCode> {
    let mut names: Vec<&str> = Vec::new();
    for raw in &args.problems {
        let name = raw.trim();
        if name.is_empty() {
            continue; // `a,,b` or a trailing comma
        }
        if !NAMES.contains(&name) {
            bail!(
                "unknown problem `{name}` in --problems: expected a comma-separated list of {}",
                NAMES.join(", ")
            );
        }
        if !names.contains(&name) {
            names.push(name);
        }
    }
    if names.is_empty() {
        bail!(
            "--problems is empty: expected a comma-separated list of {}",
            NAMES.join(", ")
        );
    }
    let base = load_config(args.common.config.as_deref())?;
    // Resolve every configuration first, so a bad setting fails now rather
    // than after hours of running.
    let mut configs: Vec<ResolvedConfig> = Vec::new();
    for &name in &names {
        let mut cfg = base.clone();
        cfg.problem = name.to_string();
        apply_common(&mut cfg, &args.common);
        if cfg.stop.budget.is_none() {
            cfg.stop.budget = Some(bench_budget(name));
        }
        configs.push(
            cfg.resolve()
                .with_context(|| format!("bench problem {name}"))?,
        );
    }
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("runs").join(format!("bench-{}", unix_seconds())));
    let bench_md = out.join("bench.md");
    if bench_md.exists() {
        bail!(
            "{} already exists: choose another --out or move it away",
            bench_md.display()
        );
    }

    for cfg in &configs {
        check_free(&out.join(cfg.problem.name))?;
    }

    let mut rows = Vec::new();
    let mut failure: Option<anyhow::Error> = None;
    for cfg in &configs {
        let name = cfg.problem.name;
        match execute(cfg, &out.join(name), args.quiet) {
            Ok(done) => rows.push(row(cfg, &done)),
            Err(e) => {
                let mut r = vec![name.to_string(), format!("failed: {e:#}")];
                r.resize(HEADERS.len(), "—".into());
                rows.push(r);
                failure.get_or_insert(e.context(format!("bench problem {name}")));
            }
        }
    }
    let seed = configs.first().map_or(0, |c| c.config.seed);
    let budgets: Vec<String> = configs
        .iter()
        .map(|c| format!("{} {}", c.problem.name, text::calls(c.budget())))
        .collect();
    let md = format!(
        "# lgso bench\n\nL-GSO with the paper's settings; seed {seed}; budgets (simulator calls): {}.\n\
         Objective: Monte Carlo estimate ± standard error at the final psi. Calls to target: \
         calls charged when the estimate first reached the problem's target. Times are medians \
         over iterations.\n\n{}",
        budgets.join(", "),
        text::markdown(HEADERS, &rows)
    );
    fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    write_atomic(&bench_md, md.as_bytes())
        .with_context(|| format!("cannot write {}", bench_md.display()))?;
    text::out(&format!(
        "{}\nwritten to {}\n",
        text::markdown(HEADERS, &rows),
        bench_md.display()
    ))?;
    match failure {
        Some(e) => Err(e),
        None => Ok(ExitCode::SUCCESS),
    }
}

fn row(cfg: &ResolvedConfig, done: &Finished) -> Vec<String> {
    let s = &done.summary;
    let target = cfg.problem.target;
    let steps: &[IterationReport] = done.reports.get(1..).unwrap_or(&[]);
    let med = |f: fn(&IterationReport) -> f64| {
        let v: Vec<f64> = steps.iter().map(f).collect();
        median(&v).map_or("—".to_string(), |m| text::sig(m, 3))
    };
    let reached = done
        .reports
        .iter()
        .find(|r| r.objective <= target)
        .map_or("—".to_string(), |r| text::calls(r.calls));
    let objective = |r: Option<&IterationReport>, fallback: f64| match r {
        Some(r) => format!(
            "{} ± {}",
            text::num(r.objective),
            text::sig(r.objective_stderr, 2)
        ),
        None => text::num(fallback),
    };
    vec![
        s.problem.clone(),
        text::calls(s.calls),
        s.iterations.to_string(),
        objective(done.reports.first(), s.objective_start),
        objective(done.reports.last(), s.objective_final),
        s.objective_final_exact.map_or("—".into(), text::num),
        text::num(target),
        reached,
        if steps.is_empty() {
            "—".into()
        } else {
            text::sig(s.median_seconds_per_iteration, 3)
        },
        format!("{:.0}%", 100.0 * s.fit_share),
        med(|r| r.step.seconds_fit),
        med(|r| r.seconds_simulate),
        med(|r| r.step.seconds_gradient),
    ]
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

/// `lgso bench-fit`.
///
/// # Errors
/// An unknown problem, invalid GAN settings, simulator or surrogate errors.
pub fn bench_fit(args: &BenchFitArgs) -> anyhow::Result<ExitCode> {
    let max = lgso::config::MAX_SAMPLES;
    if !(2..=max).contains(&args.samples) {
        bail!(
            "invalid --samples {}: expected an integer from 2 to {max} (training samples)",
            args.samples
        );
    }
    if args.epochs == 0 {
        bail!("invalid --epochs 0: expected an integer >= 1 (passes over the training set)");
    }
    // Validate the GAN settings with the library's own checks.
    let mut cfg = lgso::config::Config {
        problem: args.problem.clone(),
        seed: args.seed,
        ..Default::default()
    };
    cfg.gan.epochs = args.epochs;
    let resolved = cfg.resolve()?;
    let problem = by_name(&args.problem)?;
    let gan = &resolved.config.gan;
    let report = lgso::bench::fit_timing(&problem, args.samples, gan, args.seed)?;
    let updates_per_batch = (gan.critic_steps + gan.generator_steps).max(1);
    let minibatches = report.steps / updates_per_batch;
    let ms = if minibatches > 0 {
        1000.0 * report.seconds / minibatches as f64
    } else {
        f64::NAN
    };
    // One iteration at the paper's settings trains on (N + 1) * M fresh
    // samples (plus reused ones) for the default number of epochs.
    let defaults = lgso::config::GanConfig::default();
    let per_iteration = resolved.calls_per_iteration();
    let batches_per_epoch = per_iteration.div_ceil(defaults.batch_size as u64);
    let projected = ms / 1000.0 * (batches_per_epoch * defaults.epochs as u64) as f64;
    let d = problem.dims();
    let rows = [
        (
            "problem",
            format!("{} (psi {}, x {}, y {})", problem.name, d.psi, d.x, d.y),
        ),
        (
            "samples",
            format!(
                "{} (around the start point: N + 1 = {} points, eps {})",
                text::calls(report.train_samples as u64),
                resolved.n_points() + 1,
                text::num(resolved.eps())
            ),
        ),
        ("epochs", args.epochs.to_string()),
        (
            "minibatches",
            format!(
                "{} (batch size {})",
                text::calls(minibatches as u64),
                gan.batch_size
            ),
        ),
        ("seconds", format!("{:.2}", report.seconds)),
        (
            "ms/minibatch",
            format!("{ms:.2} (one critic + one generator update)"),
        ),
        (
            "projected",
            format!(
                "{projected:.1} s of fitting per iteration at the paper's settings \
                 ((N + 1) * M = {} fresh samples, batch {}, {} epochs; reused samples add to it)",
                text::calls(per_iteration),
                defaults.batch_size,
                defaults.epochs
            ),
        ),
    ];
    let lines: String = rows.iter().map(|(k, v)| format!("{k:<14}{v}\n")).collect();
    text::out(&lines)?;
    Ok(ExitCode::SUCCESS)
}
