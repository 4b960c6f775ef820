//! Micro-benchmark of the surrogate fit, the part of L-GSO whose cost is
//! ours (the simulator's cost is the user's).

use crate::config::GanConfig;
use crate::data::Samples;
use crate::design::trust_region_design;
use crate::error::Result;
use crate::problem::{draw, Problem};
use crate::seed::{derive_seed, rng_from_seed};
use crate::surrogate::{CramerGan, FitReport, FittedSurrogate};

/// Draws one iteration's worth of real training data for `problem` around
/// its start point (N Latin-hypercube points + the centre, `samples` draws
/// spread over them), then fits the GAN with `gan` settings once.
///
/// Returns the fit's report: seconds, samples and optimizer steps (a step
/// is one critic or one generator update; a GAN "training step" in the
/// reference's sense is one of each, i.e. `steps / 2` minibatches).
///
/// # Errors
/// Simulator or surrogate errors.
pub fn fit_timing(
    problem: &Problem,
    samples: usize,
    gan: &GanConfig,
    seed: u64,
) -> Result<FitReport> {
    let n_points = problem.defaults.n_points;
    let mut rng = rng_from_seed(derive_seed(seed, &[0]));
    let design = trust_region_design(&problem.start, problem.defaults.eps, n_points, &mut rng);
    let per_point = samples.div_ceil(design.rows()).max(1);
    let dims = problem.dims();
    let mut data = Samples::empty(dims.psi, dims.x, dims.y);
    for i in 0..design.rows() {
        let s = draw(
            problem.simulator.as_ref(),
            design.row(i),
            per_point,
            derive_seed(seed, &[1, i as u64]),
        )?;
        data.append(&s)?;
    }
    let fitted = CramerGan::new(gan.clone()).fit_gan(&data, &mut rng)?;
    Ok(fitted.report())
}
