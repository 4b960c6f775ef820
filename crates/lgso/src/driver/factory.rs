//! Factories: the configured surrogate and optimizer, built from their own
//! settings, the problem and the seed, and the one-call entry points that
//! build and run them.

use super::{run, Observer};
use crate::config::ResolvedConfig;
use crate::error::Result;
use crate::optimizer::{
    Bo, Cmaes, Ges, Lax, Lgso, LgsoAuto, Method, NumDiff, Optimizer, Oracle, Preset, Reinforce,
};
use crate::report::Summary;
use crate::surrogate::{CramerGan, Ffjord, Mdn, Surrogate, SurrogateKind};

/// The surrogate family `kind` with its settings from `cfg`.
pub fn surrogate_for(kind: SurrogateKind, cfg: &ResolvedConfig) -> Box<dyn Surrogate> {
    match kind {
        SurrogateKind::Gan => Box::new(CramerGan::new(cfg.gan.clone())),
        SurrogateKind::Ffjord => Box::new(Ffjord::new(cfg.ffjord.clone())),
        SurrogateKind::Mdn => Box::new(Mdn::new(cfg.mdn.clone())),
    }
}

/// The configured optimizer (`method`): L-GSO with its surrogate, or a
/// baseline, at the run's start point.
///
/// # Errors
/// [`crate::Error::Config`] for an oracle on a problem without an exact
/// objective (already rejected by [`crate::config::Config::resolve`]).
pub fn optimizer_for(cfg: &ResolvedConfig) -> Result<Box<dyn Optimizer>> {
    let (problem, seed) = (&cfg.problem, cfg.seed);
    Ok(match cfg.method {
        Method::Lgso => lgso_for(cfg),
        Method::NumDiff => Box::new(NumDiff::new(&cfg.numdiff, problem, seed)),
        Method::Ges => Box::new(Ges::new(&cfg.ges, problem, seed)),
        Method::Reinforce => Box::new(Reinforce::new(&cfg.reinforce, problem, seed)),
        Method::Cmaes => Box::new(Cmaes::new(&cfg.cmaes, problem, seed)),
        Method::Bo => Box::new(Bo::new(&cfg.bo, problem, seed)),
        Method::Lax => Box::new(Lax::new(&cfg.lax, problem, seed)),
        Method::Oracle => Box::new(Oracle::new(&cfg.oracle, problem, seed)?),
    })
}

/// L-GSO with the configured surrogate and preset (the paper's fixed
/// settings or the adaptive trust region), whatever `method` says.
pub fn lgso_for(cfg: &ResolvedConfig) -> Box<dyn Optimizer> {
    let surrogate = surrogate_for(cfg.lgso.surrogate, cfg);
    match cfg.lgso.preset {
        Preset::Paper => Box::new(Lgso::new(&cfg.lgso, surrogate, &cfg.problem, cfg.seed)),
        Preset::Auto => Box::new(LgsoAuto::new(&cfg.lgso, surrogate, &cfg.problem, cfg.seed)),
    }
}

/// Runs the configured method (`method`, default L-GSO) on the configured
/// problem.
///
/// # Errors
/// As [`run`].
pub fn run_method(cfg: &ResolvedConfig, observers: &mut [&mut dyn Observer]) -> Result<Summary> {
    let mut opt = optimizer_for(cfg)?;
    run(cfg, opt.as_mut(), observers)
}

/// Runs L-GSO with the configured surrogate (whatever `method` says): the
/// library's one-call entry point for the paper's method.
///
/// # Errors
/// As [`run`].
pub fn run_lgso(cfg: &ResolvedConfig, observers: &mut [&mut dyn Observer]) -> Result<Summary> {
    run(cfg, lgso_for(cfg).as_mut(), observers)
}
