//! Factories: the configured surrogate and optimizer, and the one-call
//! entry points that build and run them.

use super::{run, Observer};
use crate::config::ResolvedConfig;
use crate::error::{Error, Result};
use crate::optimizer::Optimizer;
use crate::report::Summary;

/// Builds the configured surrogate family.
///
/// # Errors
/// [`Error::Config`] for an unknown family (already rejected by
/// validation).
pub fn surrogate_for(cfg: &ResolvedConfig) -> Result<Box<dyn crate::surrogate::Surrogate>> {
    match cfg.config.lgso.surrogate.as_str() {
        "gan" => Ok(Box::new(crate::surrogate::CramerGan::new(
            cfg.config.gan.clone(),
        ))),
        "ffjord" => Ok(Box::new(crate::surrogate::Ffjord::new(
            cfg.config.ffjord.clone(),
        ))),
        "mdn" => Ok(Box::new(crate::surrogate::Mdn::new(cfg.config.mdn.clone()))),
        other => Err(Error::config(
            "lgso.surrogate",
            format!("one of {}", crate::config::SURROGATES.join(", ")),
            other,
        )),
    }
}

/// The configured optimizer (`method`): L-GSO with its surrogate, or a
/// baseline.
///
/// # Errors
/// [`Error::Config`] for an unknown method or an oracle on a problem
/// without an exact objective (both already rejected by
/// [`crate::config::Config::resolve`]).
pub fn optimizer_for(cfg: &ResolvedConfig) -> Result<Box<dyn Optimizer>> {
    use crate::optimizer::{Bo, Cmaes, Ges, Lax, Lgso, NumDiff, Oracle, Reinforce};
    Ok(match cfg.config.method.as_str() {
        "lgso" => Box::new(Lgso::new(cfg, surrogate_for(cfg)?)),
        "numdiff" => Box::new(NumDiff::new(cfg)),
        "ges" => Box::new(Ges::new(cfg)),
        "reinforce" => Box::new(Reinforce::new(cfg)),
        "cmaes" => Box::new(Cmaes::new(cfg)),
        "bo" => Box::new(Bo::new(cfg)),
        "lax" => Box::new(Lax::new(cfg)),
        "oracle" => Box::new(Oracle::new(cfg)?),
        other => {
            return Err(Error::config(
                "method",
                format!("one of {}", crate::config::METHODS.join(", ")),
                format!("{other:?}"),
            ))
        }
    })
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
    let mut opt = crate::optimizer::Lgso::new(cfg, surrogate_for(cfg)?);
    run(cfg, &mut opt, observers)
}
