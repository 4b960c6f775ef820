//! How many L-GSO iterations the three-hump problem needs with a perfect
//! gradient: Adam (paper settings: betas 0.9 / 0.999, one step per
//! iteration, state kept) on the quadrature gradient of `E[R]`, projected
//! onto the ball of radius `eps = 0.5` around the previous psi, from the
//! start (2, 0). No surrogate, no noise: the ceiling for any gradient
//! estimator, and a lower bound on the iterations L-GSO needs.
//!
//! ```text
//! cargo run --release -p lgso --example three_hump_oracle
//! ```
//!
//! At the start `E[R]` has a kink in psi2 (`|psi2|` enters the mixture
//! weights): both directions go down at almost the same initial rate, and
//! which branch a noisy gradient picks is chance. The example prints both
//! one-sided slopes and `E[R]` at psi2 = +-0.4, then, for each
//! learning rate, Adam runs from (2, 0) along either branch (the first step
//! taken along psi2 = -1 or +1 in the direction of descent) and reports the
//! iterations until `E[R] < -0.75` and `E[R]` after 30 and 90 iterations:
//! the iteration counts of a 450k-call budget with M = 3000 and M = 1000
//! samples per point (N + 1 = 5 points per iteration).

use lgso::optimizer::{project_to_ball, Adam};
use lgso::problem::{hump_expectation, ExactObjective, ThreeHump};

const EPS: f64 = 0.5;
const GOAL: f64 = -0.75;
const MAX_ITERATIONS: usize = 400;

/// Runs Adam with learning rate `lr` from (2, 0) on the `branch` side of
/// psi2 = 0; returns (iterations to reach GOAL, E[R] after 30, after 90,
/// final psi).
fn run(lr: f64, branch: f64) -> (Option<usize>, f64, f64, [f64; 2]) {
    let mut psi = vec![2.0, 0.0];
    let mut adam = Adam::new(2, lr, 0.9, 0.999, 1e-8);
    let (mut reached, mut at30, mut at90) = (None, f64::NAN, f64::NAN);
    for t in 1..=MAX_ITERATIONS {
        let mut grad = ThreeHump.gradient(&psi);
        if psi[1] == 0.0 {
            // On the kink: the one-sided slope of the chosen branch.
            let step = 1e-6;
            let e0 = ThreeHump.value(&psi);
            grad[1] = branch * (ThreeHump.value(&[psi[0], branch * step]) - e0) / step;
        }
        let previous = psi.clone();
        adam.step(&mut psi, &grad);
        project_to_ball(&mut psi, &previous, EPS);
        let value = ThreeHump.value(&psi);
        if value < GOAL && reached.is_none() {
            reached = Some(t);
        }
        if t == 30 {
            at30 = value;
        }
        if t == 90 {
            at90 = value;
        }
    }
    (reached, at30, at90, [psi[0], psi[1]])
}

fn main() {
    let e0 = hump_expectation([2.0, 0.0]);
    let h = 1e-6;
    let down = (hump_expectation([2.0, -h]) - e0) / h;
    let up = (hump_expectation([2.0, h]) - e0) / h;
    println!("E[R](2, 0) = {e0:.4}");
    println!(
        "one-sided slopes along psi2 at the start: towards psi2 < 0 {:.4} per unit, \
         towards psi2 > 0 {:.4} per unit",
        down, up
    );
    println!(
        "E[R](2, -0.4) = {:.4}, E[R](2, 0.4) = {:.4}",
        hump_expectation([2.0, -0.4]),
        hump_expectation([2.0, 0.4])
    );
    println!();
    println!("| lr | branch | iterations to E[R] < {GOAL} | E[R] after 30 | E[R] after 90 | psi after {MAX_ITERATIONS} |");
    println!("| --- | --- | --- | --- | --- | --- |");
    for lr in [0.05, 0.1, 0.2, 0.3] {
        for (branch, label) in [(-1.0, "psi2 < 0"), (1.0, "psi2 > 0")] {
            let (reached, at30, at90, psi) = run(lr, branch);
            let reached = reached.map_or(format!("> {MAX_ITERATIONS}"), |t| t.to_string());
            println!(
                "| {lr} | {label} | {reached} | {at30:.3} | {at90:.3} | ({:.2}, {:.2}) |",
                psi[0], psi[1]
            );
        }
    }
}
