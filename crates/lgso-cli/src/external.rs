//! `lgso run --simulator` (and `lgso resume` of such a run): start the
//! external simulator's worker pool, check its handshake against the
//! config, and build the problem it describes.

use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context};
use lgso::config::{Config, ResolvedConfig};
use lgso::evaluate::external::{PoolOptions, WorkerPool};
use lgso::problem::external::{problem, ExternalSpec};
use lgso::problem::{Dims, EXTERNAL};

fn h_name(spec: &ExternalSpec, i: usize) -> String {
    spec.psi_names
        .as_ref()
        .and_then(|n| n.get(i).cloned())
        .unwrap_or_else(|| format!("psi_{}", i + 1))
}

/// Starts the workers of `cfg.simulator` and resolves the configuration on
/// the problem their handshake describes. The start point is `start`, else
/// the middle of the bounds (config or handshake).
///
/// # Errors
/// A config without a simulator command or with bad `[simulator]` /
/// `[objective]` values; the pool's start errors (program missing or not
/// executable, bad handshake); a handshake whose dimensions disagree with
/// `simulator.psi_dim` / `x_dim` / `y_dim` or with `start`; no start
/// point and no bounds.
pub fn start(mut cfg: Config) -> anyhow::Result<(ResolvedConfig, WorkerPool)> {
    cfg.problem = EXTERNAL.into();
    cfg.check_external()?;
    let s = &cfg.simulator;
    if s.command.is_empty() {
        bail!(
            "problem \"external\" needs a simulator: `lgso run --simulator 'PROGRAM ARGS'` or \
             `[simulator] command = [\"PROGRAM\", \"ARG\"]` in the config"
        );
    }
    let mut options = PoolOptions {
        timeout: s.timeout.map(Duration::from_secs_f64),
        retries: s.retries,
        chunk_samples: s.chunk_samples,
        batch_samples: s.batch_samples,
        handshake_timeout: Duration::from_secs_f64(s.handshake_timeout),
        ..PoolOptions::default()
    };
    if let Some(w) = s.workers {
        options.workers = w;
    }
    let pool = WorkerPool::start(&s.command, options)?;
    let h = pool.handshake().clone();
    let dims = Dims {
        psi: h.psi_dim,
        x: h.x_dim,
        y: h.y_dim,
    };
    let expected = Dims {
        psi: s.psi_dim.unwrap_or(dims.psi),
        x: s.x_dim.unwrap_or(dims.x),
        y: s.y_dim.unwrap_or(dims.y),
    };
    pool.expect_dims(expected, "the config ([simulator] psi_dim, x_dim, y_dim)")?;
    let name = h.name.clone().unwrap_or_else(|| {
        Path::new(&s.command[0]).file_name().map_or_else(
            || s.command[0].clone(),
            |n| n.to_string_lossy().into_owned(),
        )
    });
    let spec = ExternalSpec {
        name,
        dims,
        psi_names: h.psi_names.clone(),
        bounds: h.bounds.clone(),
    };
    let bounds: Option<Vec<(f64, f64)>> = cfg
        .bounds
        .as_ref()
        .map(|b| b.iter().map(|&[lo, hi]| (lo, hi)).collect())
        .or_else(|| h.bounds.clone());
    if let (Some(c), Some(h)) = (&cfg.bounds, &h.bounds) {
        for (i, (&[lo, hi], &(hlo, hhi))) in c.iter().zip(h).enumerate() {
            if lo < hlo || hi > hhi {
                bail!(
                    "invalid setting `bounds`: coordinate {} is [{lo}, {hi}] but the simulator \
                     `{}` accepts [{hlo}, {hhi}] (its handshake); config bounds may only narrow them",
                    h_name(&spec, i),
                    pool.command()
                );
            }
        }
    }
    let start = match (&cfg.start, &bounds) {
        (Some(start), _) => start.clone(),
        (None, Some(b)) => b.iter().map(|(lo, hi)| 0.5 * (lo + hi)).collect(),
        (None, None) => bail!(
            "the simulator `{}` gives no bounds, so lgso needs a start point: set `start = [...]` \
             ({} numbers, psi_dim of its handshake) in the config",
            pool.command(),
            dims.psi
        ),
    };
    let family = cfg.objective.family()?;
    let problem = problem(spec, family, start)?;
    let resolved = cfg
        .resolve_with(problem)
        .with_context(|| format!("simulator `{}`", pool.command()))?;
    Ok((resolved, pool))
}
