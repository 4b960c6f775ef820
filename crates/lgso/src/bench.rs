//! Micro-benchmark of the surrogate fit, the part of L-GSO whose cost is
//! ours (the simulator's cost is the user's).

use crate::data::Samples;
use crate::error::Result;
use crate::optimizer::trust_region::{clip_design, trust_region_design};
use crate::problem::{draw, Problem};
use crate::seed::{derive_seed, rng_from_seed};
use crate::surrogate::{CramerGan, FitReport, GanSettings, Surrogate};

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
    gan: &GanSettings,
    seed: u64,
) -> Result<FitReport> {
    fit_timing_of(problem, samples, &CramerGan::new(gan.clone()), seed)
}

/// As [`fit_timing`] for any surrogate family (a step is one optimizer
/// update of the family: a critic or a generator update for the GAN, one
/// Adam step for FFJORD and the MDN).
///
/// # Errors
/// Simulator or surrogate errors.
pub fn fit_timing_of(
    problem: &Problem,
    samples: usize,
    surrogate: &dyn Surrogate,
    seed: u64,
) -> Result<FitReport> {
    let mut rng = rng_from_seed(derive_seed(seed, &[0]));
    let d = &problem.defaults;
    let data = trust_region_data(
        problem,
        &problem.start,
        d.eps,
        d.n_points,
        samples,
        seed,
        &mut rng,
    )?;
    let fitted = surrogate.fit(&data, &mut rng)?;
    Ok(fitted.report())
}

/// One L-GSO iteration's training data at `psi`: the trust-region design
/// (`n_points` Latin-hypercube points in `[psi - eps, psi + eps]`, drawn
/// from `rng`, plus psi; clipped to the problem's bounds like L-GSO's), and
/// `ceil(samples / (N + 1))` simulator draws at each point, the draws at
/// point `i` seeded by `derive_seed(seed, &[1, i])`.
///
/// # Errors
/// Simulator errors; [`crate::Error::Dimension`] for a psi of the wrong
/// length.
pub fn trust_region_data(
    problem: &Problem,
    psi: &[f64],
    eps: f64,
    n_points: usize,
    samples: usize,
    seed: u64,
    rng: &mut crate::seed::Rng,
) -> Result<Samples> {
    crate::error::check_vector("psi", psi, problem.dims().psi)?;
    let mut design = trust_region_design(psi, eps, n_points, rng);
    if let Some(b) = &problem.bounds {
        clip_design(&mut design, psi, eps, b);
    }
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
    Ok(data)
}
