//! `lgso bench-fit`: the cost of one surrogate fit on one iteration's worth
//! of real trust-region data.

use std::process::ExitCode;

use anyhow::bail;
use lgso::problem::by_name;
use lgso::surrogate::{SurrogateKind, SURROGATES};

use crate::args::BenchFitArgs;
use crate::run::load_config;
use crate::text;

/// The surrogate family `name` of `--surrogate`.
///
/// # Errors
/// A message naming the option and the expected values.
pub fn check_surrogate(name: &str) -> anyhow::Result<SurrogateKind> {
    SurrogateKind::parse(name).map_err(|_| {
        anyhow::anyhow!(
            "unknown surrogate `{name}` in --surrogate: expected one of {}",
            SURROGATES.join(", ")
        )
    })
}

/// `lgso bench-fit`.
///
/// # Errors
/// An unknown problem or surrogate, invalid surrogate settings, simulator
/// or surrogate errors.
pub fn bench_fit(args: &BenchFitArgs) -> anyhow::Result<ExitCode> {
    let max = lgso::check::MAX_SAMPLES;
    if !(2..=max).contains(&args.samples) {
        bail!(
            "invalid --samples {}: expected an integer from 2 to {max} (training samples)",
            args.samples
        );
    }
    if args.epochs == Some(0) {
        bail!("invalid --epochs 0: expected an integer >= 1 (passes over the training set)");
    }
    let kind = check_surrogate(&args.surrogate)?;
    // Validate the surrogate settings with the library's own checks.
    let mut cfg = load_config(args.config.as_deref())?;
    cfg.problem = args.problem.clone();
    cfg.seed = args.seed;
    cfg.lgso.surrogate = Some(args.surrogate.clone());
    // the paper's defaults per surrogate: what one iteration trains for
    let (default_epochs, batch_size, updates_per_batch) = match kind {
        SurrogateKind::Ffjord => (cfg.ffjord.epochs, cfg.ffjord.batch_size, 1),
        SurrogateKind::Mdn => (cfg.mdn.epochs, cfg.mdn.batch_size, 1),
        SurrogateKind::Gan => (
            cfg.gan.epochs,
            cfg.gan.batch_size,
            (cfg.gan.critic_steps + cfg.gan.generator_steps).max(1),
        ),
    };
    if let Some(e) = args.epochs {
        cfg.gan.epochs = e;
        cfg.ffjord.epochs = e;
        cfg.mdn.epochs = e;
    }
    let resolved = cfg.resolve()?;
    let epochs = args.epochs.unwrap_or(default_epochs);
    let problem = by_name(&args.problem)?;
    let surrogate = lgso::driver::surrogate_for(kind, &resolved);
    let report = lgso::bench::fit_timing_of(&problem, args.samples, surrogate.as_ref(), args.seed)?;
    let minibatches = report.steps / updates_per_batch;
    let ms = if minibatches > 0 {
        1000.0 * report.seconds / minibatches as f64
    } else {
        f64::NAN
    };
    // One L-GSO iteration at the configured settings trains on (N + 1) * M
    // fresh samples (plus reused ones) for the configured number of epochs.
    let per_iteration = resolved.lgso.cost().first;
    let batches_per_epoch = per_iteration.div_ceil(batch_size as u64);
    let projected = ms / 1000.0 * (batches_per_epoch * default_epochs as u64) as f64;
    let update = if kind == SurrogateKind::Gan {
        "one critic + one generator update"
    } else {
        "one Adam update"
    };
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
                resolved.lgso.n_points + 1,
                text::num(resolved.lgso.eps)
            ),
        ),
        ("surrogate", args.surrogate.clone()),
        ("epochs", epochs.to_string()),
        (
            "minibatches",
            format!(
                "{} (batch size {})",
                text::calls(minibatches as u64),
                batch_size
            ),
        ),
        ("seconds", format!("{:.2}", report.seconds)),
        ("ms/minibatch", format!("{ms:.2} ({update})")),
        (
            "projected",
            format!(
                "{projected:.1} s of fitting per iteration at the configured settings \
                 ((N + 1) * M = {} fresh samples, batch {}, {} epochs; reused samples add to it)",
                text::calls(per_iteration),
                batch_size,
                default_epochs
            ),
        ),
    ];
    let lines: String = rows.iter().map(|(k, v)| format!("{k:<14}{v}\n")).collect();
    text::out(&lines)?;
    Ok(ExitCode::SUCCESS)
}
