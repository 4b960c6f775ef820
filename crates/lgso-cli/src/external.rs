//! `lgso run --simulator`: starting an external simulator's worker pool and
//! building its problem from the handshake. (Filled in once the worker
//! pool lands.)

use lgso::config::{Config, ResolvedConfig};

/// Placeholder evaluator type until the worker pool lands.
pub type Pool = lgso::evaluate::InProcess;

/// Starts the workers of `cfg.simulator` and resolves the configuration on
/// the problem their handshake describes.
///
/// # Errors
/// Always, for now.
pub fn start(_cfg: Config) -> anyhow::Result<(ResolvedConfig, Pool)> {
    anyhow::bail!("external simulators are not available in this build")
}
