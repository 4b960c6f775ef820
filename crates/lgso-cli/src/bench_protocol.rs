//! `lgso bench-protocol`: the overhead of the simulator protocol (issue #4,
//! item 7).
//!
//! Samples per second through an external simulator (default: the
//! `lgso-toy-sim` next to this executable, quadratic model, psi of
//! dimension 2) with each number of workers in `--workers`, against the
//! same quadratic simulator evaluated in-process
//! ([`lgso::problem::Quadratic`] in lgso's simulation thread pool, one
//! thread per core). The quadratic costs a few nanoseconds per sample, so
//! the difference is the protocol's cost: writing the batch, the
//! simulator's JSON encoding of x and y, pipes, parsing and checking the
//! answer.
//!
//! The samples are split into requests of `--request-samples` (1000, one
//! L-GSO design point at M = 1000) with the pool's default chunks and
//! batches (1000 samples). Each configuration is timed `--repeats` times and
//! the median is shown; starting the workers (process start and handshake)
//! is timed separately.

use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Context};
use lgso::data::Request;
use lgso::evaluate::external::{split_command, PoolOptions, WorkerPool};
use lgso::evaluate::{Evaluator, InProcess, RequestResult};
use lgso::problem::Quadratic;
use lgso::seed::derive_seed;

use crate::args::BenchProtocolArgs;
use crate::text;

/// The default simulator: `lgso-toy-sim --model quadratic --dim 2` from
/// the directory of the running `lgso`.
fn default_simulator() -> anyhow::Result<Vec<String>> {
    let exe = std::env::current_exe().context("cannot locate the running lgso executable")?;
    let toy = exe.with_file_name(format!("lgso-toy-sim{}", std::env::consts::EXE_SUFFIX));
    if !toy.is_file() {
        bail!(
            "the toy simulator {} does not exist; build it with `cargo build --release -p lgso-cli` or pass --simulator 'CMD ARGS'",
            toy.display()
        );
    }
    Ok(vec![
        toy.to_string_lossy().into_owned(),
        "--model".into(),
        "quadratic".into(),
        "--dim".into(),
        "2".into(),
    ])
}

/// The requests: `samples` split into requests of `per_request` at `psi`,
/// seeds derived from `seed`.
fn requests(samples: usize, per_request: usize, psi: &[f64], seed: u64) -> Vec<Request> {
    let n = samples.div_ceil(per_request);
    (0..n)
        .map(|i| Request {
            id: i as u64,
            iteration: 0,
            psi: psi.to_vec(),
            count: per_request.min(samples - i * per_request),
            seed: derive_seed(seed, &[i as u64]),
        })
        .collect()
}

/// Evaluates once; returns seconds and the number of good samples.
///
/// # Errors
/// An evaluator error, or a failed request (a benchmark must not time
/// failures).
fn time_once(eval: &mut dyn Evaluator, reqs: &[Request]) -> anyhow::Result<(f64, usize)> {
    let t = Instant::now();
    let results: Vec<RequestResult> = eval.evaluate(reqs, &mut |_| Ok(()))?;
    let seconds = t.elapsed().as_secs_f64();
    if let Some(f) = results.iter().find_map(|r| r.failure.as_ref()) {
        bail!("{} failed: {}", eval.describe(), f.message);
    }
    Ok((seconds, results.iter().map(|r| r.samples.len()).sum()))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    }
}

/// Runs `lgso bench-protocol`.
///
/// # Errors
/// Bad arguments (one line naming the flag), a simulator that cannot be
/// started, a failed request.
pub fn bench_protocol(args: &BenchProtocolArgs) -> anyhow::Result<ExitCode> {
    if args.samples == 0 {
        bail!("invalid --samples 0: expected an integer >= 1 (samples per timed run)");
    }
    if args.request_samples == 0 {
        bail!("invalid --request-samples 0: expected an integer >= 1 (samples per request)");
    }
    if args.repeats == 0 {
        bail!("invalid --repeats 0: expected an integer >= 1");
    }
    if args.workers.is_empty() || args.workers.contains(&0) {
        bail!("invalid --workers: expected a comma-separated list of integers >= 1, e.g. 1,2");
    }
    let (argv, label) = match &args.simulator {
        Some(cmd) => (split_command(cmd)?, cmd.clone()),
        None => (
            default_simulator()?,
            "lgso-toy-sim --model quadratic --dim 2".to_string(),
        ),
    };
    let headers = [
        "evaluator",
        "workers",
        "samples",
        "start s",
        "evaluate s",
        "samples/s",
        "us/sample",
    ];
    let mut rows = Vec::new();
    let row = |name: &str, workers: String, samples: usize, start: Option<f64>, secs: f64| {
        vec![
            name.to_string(),
            workers,
            samples.to_string(),
            start.map_or("-".into(), |s| format!("{s:.3}")),
            format!("{secs:.3}"),
            text::sig(samples as f64 / secs, 3),
            format!("{:.2}", 1e6 * secs / samples as f64),
        ]
    };
    // In-process reference: the quadratic with psi of dimension 2.
    let cores = lgso::threads::available_cores();
    let psi_ref = [0.5, 2.0];
    let reqs = requests(args.samples, args.request_samples, &psi_ref, args.seed);
    let mut in_process = InProcess::new(std::sync::Arc::new(Quadratic { dim: 2 }));
    let mut times = Vec::new();
    let mut samples = 0;
    for _ in 0..args.repeats {
        let (s, k) = time_once(&mut in_process, &reqs)?;
        times.push(s);
        samples = k;
    }
    rows.push(row(
        "in-process quadratic (dim 2)",
        format!("{cores} threads"),
        samples,
        None,
        median(times),
    ));
    for &w in &args.workers {
        let options = PoolOptions {
            workers: w,
            ..PoolOptions::default()
        };
        let t = Instant::now();
        let mut pool = WorkerPool::start(&argv, options)?;
        let start = t.elapsed().as_secs_f64();
        // psi: the middle of the simulator's bounds, else (0.5, 2, 1, ...).
        let h = pool.handshake().clone();
        let psi: Vec<f64> = match &h.bounds {
            Some(b) => b.iter().map(|(lo, hi)| 0.5 * (lo + hi)).collect(),
            None => (0..h.psi_dim)
                .map(|i| psi_ref.get(i).copied().unwrap_or(1.0))
                .collect(),
        };
        let reqs = requests(args.samples, args.request_samples, &psi, args.seed);
        let mut times = Vec::new();
        for _ in 0..args.repeats {
            let (s, k) = time_once(&mut pool, &reqs)?;
            times.push(s);
            samples = k;
        }
        rows.push(row(
            &format!("external: {label}"),
            w.to_string(),
            samples,
            Some(start),
            median(times),
        ));
    }
    let mut out = format!(
        "protocol overhead: {} samples in requests of {}, pool chunks and batches of 1000 samples, median of {} runs, {cores} cores\n\n",
        args.samples, args.request_samples, args.repeats
    );
    out.push_str(&text::markdown(&headers, &rows));
    text::out(&out)?;
    Ok(ExitCode::SUCCESS)
}
