//! End to end: L-GSO with each surrogate (GAN, FFJORD, MDN) on the
//! probabilistic three-hump problem, the paper's settings except for a
//! smaller sample size per point (M = 500 instead of 3000), fewer surrogate
//! samples for the gradient (K = 5000) and fewer GAN and FFJORD epochs (5
//! instead of 15 and 25), so that it runs in a couple of minutes. Every
//! surrogate must reach the same threshold. Adam's learning rate is lgso's three-hump default
//! (0.3; the paper's 0.1 is too slow on the psi2 < 0 branch, see docs/paper-reproduction.md).
//!
//! Expected values (independent of this code): E[R] at the start (2, 0) is
//! -0.499 (problems.md says about -0.50; `tests/problems.rs` checks it by
//! quadrature), the optimum is -0.858 at (0, +-1.23); E[R] < -0.75 needs
//! |psi_1| <~ 0.5 and |psi_2| in ~[0.8, 1.6].

use lgso::config::Config;
use lgso::driver::{run_lgso, Observer};
use lgso::report::{IterationReport, StopReason};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Default)]
struct Rows(Vec<IterationReport>);
impl Observer for Rows {
    fn on_iteration(&mut self, r: &IterationReport) -> lgso::Result<()> {
        eprintln!(
            "iteration {:2}  calls {:6}  E[R] {:.4}  psi ({:.3}, {:.3})",
            r.iteration, r.calls, r.objective, r.psi[0], r.psi[1]
        );
        self.0.push(r.clone());
        Ok(())
    }
}

#[test]
fn three_hump_moves_from_minus_half_to_below_minus_three_quarters() {
    three_hump_reaches_the_threshold("gan", "[gan]\nepochs = 5");
}

#[test]
fn three_hump_with_ffjord_reaches_the_same_threshold() {
    three_hump_reaches_the_threshold("ffjord", "[ffjord]\nepochs = 5");
}

#[test]
fn three_hump_with_mdn_reaches_the_same_threshold() {
    three_hump_reaches_the_threshold("mdn", "");
}

/// Runs three hump from (2, 0) with `surrogate` and its settings `table`
/// (TOML), and checks the start value, the final value against -0.75 and
/// the final psi against the optima.
fn three_hump_reaches_the_threshold(surrogate: &str, table: &str) {
    lgso::threads::single_threaded_tensor_ops();
    // SAFETY: option 15 is mimalloc's purge delay; set before the test
    // spawns threads (see the lgso binary's main).
    unsafe { libmimalloc_sys::mi_option_set(15, -1) };
    let config = Config::from_toml_str(&format!(
        r#"
        problem = "three-hump"
        seed = 1
        [stop]
        budget = 100000
        target = -0.80
        [lgso]
        preset = "paper"
        surrogate = "{surrogate}"
        samples_per_point = 500
        gradient_samples = 5000
        {table}
        "#,
    ))
    .unwrap();
    let resolved = config.resolve().unwrap();
    let mut rows = Rows::default();
    let summary = run_lgso(&resolved, &mut [&mut rows]).unwrap();
    // start value: 20000 monitor draws, standard error ~0.0025
    assert!(
        (summary.objective_start + 0.50).abs() < 0.015,
        "start {}",
        summary.objective_start
    );
    assert!(
        summary.objective_final < -0.75,
        "final E[R] {} after {} calls",
        summary.objective_final,
        summary.calls
    );
    // the quadrature value at the final psi, free of Monte Carlo noise
    let exact = summary
        .objective_final_exact
        .expect("three hump has a quadrature E[R]");
    assert!(exact < -0.75, "exact final E[R] {exact}");
    assert!(summary.calls <= 100_000);
    assert!(matches!(
        summary.stop_reason,
        StopReason::Target | StopReason::Budget
    ));
    let last = rows.0.last().unwrap();
    // near one of the two optima (0, +-1.23)
    assert!(
        last.psi[0].abs() < 0.6 && (0.6..1.9).contains(&last.psi[1].abs()),
        "final psi {:?}",
        last.psi
    );
}
