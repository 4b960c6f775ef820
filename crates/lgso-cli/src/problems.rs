//! `lgso problems`: the built-in problems, the paper's settings (N, eps,
//! lr), the first iteration's calls and the default budget of `lgso run`
//! (L-GSO auto), and the paper-scale budget (`preset = "paper"`, baselines).

use std::process::ExitCode;

use lgso::config::{default_budget, Config};
use lgso::problem::{by_name, NAMES};

use crate::text;

/// Prints the table of built-in problems.
///
/// # Errors
/// A shipped data file that cannot be parsed.
pub fn problems() -> anyhow::Result<ExitCode> {
    let mut rows = Vec::new();
    for name in NAMES {
        let p = by_name(name)?;
        let d = p.dims();
        // the first iteration of `lgso run` (L-GSO auto): (N + 1) * M
        let per_iteration = Config {
            problem: name.to_string(),
            ..Config::default()
        }
        .resolve()?
        .calls_per_iteration();
        rows.push(vec![
            p.name.to_string(),
            format!("{}/{}/{}", d.psi, d.x, d.y),
            p.defaults.n_points.to_string(),
            text::num(p.defaults.eps),
            text::num(p.defaults.lr),
            text::calls(per_iteration),
            text::calls(default_budget(p.name, true)),
            text::calls(default_budget(p.name, false)),
            text::num(p.target),
            text::vector(&p.start, 4),
            p.description.to_string(),
        ]);
    }
    text::out(&text::table(
        &[
            "name",
            "psi/x/y",
            "N",
            "eps",
            "lr",
            "first iter",
            "budget",
            "paper budget",
            "target",
            "start",
            "description",
        ],
        &rows,
    ))?;
    Ok(ExitCode::SUCCESS)
}
