//! One conformance suite for every optimizer, L-GSO included (Optuna runs
//! one suite for all its samplers): each method on the noisy quadratic of
//! tests/quadratic (`E[R] = ||psi - 1||^2`, start (3, -1, 2) where
//! `E[R] = 9`, every draw one counted simulator call)
//! - lowers `E[R]` below a stated value within a stated budget, and is
//!   charged exactly the draws it made (the monitor's draws aside);
//! - keeps every request inside the bounds (the methods that honour bounds
//!   today; issue "bounds for every method" brings the others in);
//! - saves its state, is dropped, is rebuilt and restored, and continues
//!   to the same psi, bit for bit, as an uninterrupted run; a state of
//!   another method or seed is refused.
//!
//! A new optimizer is added to [`Method::ALL`] and thereby to every check
//! here; L-GSO runs with both presets (`paper`, `auto`).

use std::sync::atomic::Ordering;

use lgso::data::Outcome;
use lgso::driver::{optimizer_for, run_method};
use lgso::history::History;
use lgso::optimizer::{Method, Optimizer};
use lgso::problem::draw;
use lgso::report::StopReason;

mod quadratic;

use quadratic::{quadratic, quadratic_with, Rows};

/// Runs `method` on the quadratic with `budget` calls; checks the call
/// accounting and that the exact `E[R]` at the final psi is below `goal`.
fn lowers_the_quadratic(method: &str, budget: u64, per_iteration: u64, goal: f64) {
    let (cfg, sim) = quadratic(method, budget);
    assert_eq!(cfg.calls_per_iteration(), per_iteration, "{method}");
    let mut rows = Rows::default();
    let s = run_method(&cfg, &mut [&mut rows]).unwrap();
    assert_eq!(s.optimizer, method);
    assert_eq!(s.stop_reason, StopReason::Budget, "{method}");
    let iterations = budget / per_iteration;
    assert_eq!(s.iterations, iterations, "{method}");
    assert_eq!(s.calls, iterations * per_iteration, "{method}");
    // Every draw is charged, except the 10 monitor draws per report.
    assert_eq!(
        sim.calls.load(Ordering::SeqCst),
        s.calls + 10 * (iterations + 1),
        "{method}: draws made vs calls charged"
    );
    let calls: Vec<u64> = rows.0.iter().map(|r| r.calls).collect();
    let expected: Vec<u64> = (0..=iterations).map(|i| i * per_iteration).collect();
    assert_eq!(calls, expected, "{method}");
    assert_eq!(s.objective_start.round(), 9.0);
    let value = s.objective_final_exact.unwrap();
    eprintln!(
        "{method}: E[R] 9 -> {value:.4} in {} calls, psi {:?}",
        s.calls, s.psi_final
    );
    assert!(
        value < goal,
        "{method}: E[R] = {value} at {:?}",
        s.psi_final
    );
}

#[test]
fn lgso_lowers_the_quadratic() {
    // (N + 1) M = (3 + 1) * 100 = 400 calls per iteration (the quadratic's
    // N = 3, eps = 0.5, lr = 0.1), the MDN surrogate. Adam moves each
    // coordinate by about lr = 0.1 per step, so ~20 steps cover the distance
    // 2 of the farthest coordinates; near the optimum a fixed-lr Adam on a
    // surrogate gradient hovers about 0.1-0.2 per coordinate from it
    // (measured 0.08-0.09 after 30 and 40 steps), hence the goal 0.2.
    lowers_the_quadratic("lgso", 12_000, 400, 0.2);
}

#[test]
fn lgso_auto_lowers_the_quadratic() {
    // The adaptive preset: its calls per iteration vary (design, checks),
    // so the accounting is checked against the simulator's count and the
    // budget. From 9, the trust region grows from eps = 0.5 along
    // verified steps; E[R] < 0.05 needs |psi - 1| < 0.22.
    let (cfg, sim) = quadratic_with("lgso", 3_000, |c| c.lgso.preset = Some("auto".into()));
    let s = run_method(&cfg, &mut []).unwrap();
    // it stops at the budget or, near the minimum, when the region has
    // shrunk to its smallest without an accepted step
    assert!(
        matches!(s.stop_reason, StopReason::Budget | StopReason::Converged(_)),
        "{:?}",
        s.stop_reason
    );
    assert!(s.calls <= 3_000);
    assert_eq!(
        sim.calls.load(Ordering::SeqCst),
        s.calls + 10 * (s.iterations + 1),
        "lgso auto: draws made vs calls charged"
    );
    let value = s.objective_final_exact.unwrap();
    eprintln!("lgso auto: E[R] 9 -> {value:.4} in {} calls", s.calls);
    assert!(
        value < 0.05,
        "lgso auto: E[R] = {value} at {:?}",
        s.psi_final
    );
}

#[test]
fn numdiff_lowers_the_quadratic() {
    // 2 n M = 2 * 3 * 100 = 600 calls per step; 80 Adam steps of ~0.1.
    lowers_the_quadratic("numdiff", 48_000, 600, 0.05);
}

#[test]
fn ges_lowers_the_quadratic() {
    // 2 P M = 2 * 3 * 100 = 600 calls per step.
    lowers_the_quadratic("ges", 60_000, 600, 0.05);
}

#[test]
fn reinforce_lowers_the_quadratic() {
    // S M = 25 * 100 = 2500 calls per step.
    lowers_the_quadratic("reinforce", 250_000, 2500, 0.1);
}

#[test]
fn cmaes_lowers_the_quadratic() {
    // lambda = 4 + floor(3 ln 3) = 7 candidates of 100 draws per step.
    lowers_the_quadratic("cmaes", 42_000, 700, 0.05);
}

#[test]
fn bo_lowers_the_quadratic() {
    // 20 initial points of 100 draws, then one point per step: 2000 + 60 *
    // 100 calls. Box: start +- 7.5, so the optimum is 2-3 units inside it.
    let (cfg, sim) = quadratic("bo", 8_000);
    assert_eq!(cfg.calls_per_iteration(), 2_000);
    let s = run_method(&cfg, &mut []).unwrap();
    assert_eq!(
        (s.stop_reason.name(), s.iterations, s.calls),
        ("budget", 61, 8_000)
    );
    assert_eq!(sim.calls.load(Ordering::SeqCst), 8_000 + 10 * 62);
    let value = s.objective_final_exact.unwrap();
    eprintln!("bo: E[R] 9 -> {value:.4}, psi {:?}", s.psi_final);
    assert!(value < 0.5, "bo: E[R] = {value} at {:?}", s.psi_final);
}

#[test]
fn lax_lowers_the_quadratic() {
    // K = 1 policy sample of 100 draws per step.
    lowers_the_quadratic("lax", 30_000, 100, 0.5);
}

#[test]
fn oracle_lowers_the_quadratic() {
    // calls_per_step = 100, Adam lr 0.1 with the eps = 0.5 projection.
    lowers_the_quadratic("oracle", 8_000, 100, 0.01);
}

/// The methods that keep every request inside the bounds today.
/// numdiff, GES, REINFORCE and LAX probe or sample around psi by their
/// perturbation size and may leave the box (psi itself is clamped); the
/// issue "bounds for every method" adds them here.
const HONOUR_BOUNDS: [Method; 4] = [Method::Lgso, Method::Cmaes, Method::Bo, Method::Oracle];

#[test]
fn every_request_stays_inside_the_bounds() {
    // The unconstrained optimum (1, 1, 1) lies outside the box, so every
    // method presses against its faces; the start (3, -1, 2) is inside.
    let bounds = [[2.0, 3.5], [-1.5, 0.5], [1.5, 2.5]];
    let cases = HONOUR_BOUNDS
        .iter()
        .map(|m| (*m, "paper"))
        .chain([(Method::Lgso, "auto")]);
    for (method, preset) in cases {
        let (cfg, sim) = quadratic_with(method.name(), 6_000, |c| {
            c.bounds = Some(bounds.to_vec());
            c.lgso.preset = Some(preset.into());
        });
        let s = run_method(&cfg, &mut []).unwrap();
        let asked = sim.asked.lock().unwrap();
        assert!(asked.len() > 10, "{method:?}: {} requests", asked.len());
        for psi in asked.iter() {
            for (v, [lo, hi]) in psi.iter().zip(bounds) {
                assert!(
                    (lo..=hi).contains(v),
                    "{method:?} asked for psi = {psi:?} outside {bounds:?}"
                );
            }
        }
        // pressing against the faces: lower than at the start (9)
        let value = s.objective_final_exact.unwrap();
        assert!(value < 9.0, "{method:?}: E[R] = {value}");
    }
}

/// One iteration by hand: ask, draw every request in-process, append to
/// the history, tell. Returns the requests' outcomes.
fn step(
    opt: &mut dyn Optimizer,
    history: &mut History,
    cfg: &lgso::config::ResolvedConfig,
) -> Vec<Outcome> {
    let requests = opt.ask().unwrap();
    let outcomes: Vec<Outcome> = requests
        .into_iter()
        .map(|r| Outcome {
            samples: draw(cfg.problem.simulator.as_ref(), &r.psi, r.count, r.seed).unwrap(),
            request: r,
        })
        .collect();
    history.append(&outcomes).unwrap();
    opt.tell(&outcomes, history).unwrap();
    outcomes
}

#[test]
fn every_method_resumes_from_its_saved_state() {
    let cases = Method::ALL
        .iter()
        .map(|m| (*m, "paper"))
        .chain([(Method::Lgso, "auto")]);
    for (method, preset) in cases {
        // small settings: M = 20 draws per point, L-GSO with the MDN
        let (cfg, _) = quadratic_with(method.name(), 1_000_000, |c| {
            c.lgso.preset = Some(preset.into());
            c.lgso.preset = Some("paper".into());
            c.lgso.samples_per_point = Some(20);
            c.lgso.gradient_samples = Some(200);
            c.mdn.epochs = 3;
            for m in [
                &mut c.numdiff.samples,
                &mut c.ges.samples,
                &mut c.reinforce.samples,
                &mut c.cmaes.samples,
                &mut c.bo.samples,
                &mut c.lax.samples,
            ] {
                *m = 20;
            }
            c.bo.initial_points = 5;
            c.bo.candidates = 200;
            c.oracle.calls_per_step = Some(20);
        });
        let (before, after) = (3, 3);
        let dims = cfg.problem.dims();
        // uninterrupted
        let mut whole = optimizer_for(&cfg).unwrap();
        let mut history = History::new(dims.psi, dims.x, dims.y);
        for _ in 0..before {
            step(whole.as_mut(), &mut history, &cfg);
        }
        // saved as the run database stores it (JSON text), then dropped
        let text = serde_json::to_string(&whole.save_state().unwrap()).unwrap();
        let saved: serde_json::Value = serde_json::from_str(&text).unwrap();
        let mut resumed = optimizer_for(&cfg).unwrap();
        assert_eq!(resumed.iteration(), 0);
        resumed.restore_state(&saved).unwrap();
        assert_eq!(resumed.iteration(), before, "{method:?}");
        assert_eq!(resumed.psi(), whole.psi(), "{method:?}");
        assert_eq!(resumed.save_state().unwrap(), saved, "{method:?}");
        // both go on with their own copy of the history
        let mut history2 = history.clone();
        for i in 0..after {
            assert_eq!(
                resumed.ask().unwrap(),
                whole.ask().unwrap(),
                "{method:?}: the requests of iteration {}",
                before + i
            );
            step(whole.as_mut(), &mut history, &cfg);
            step(resumed.as_mut(), &mut history2, &cfg);
            assert_eq!(
                resumed.psi(),
                whole.psi(),
                "{method:?}: psi after iteration {}",
                before + i + 1
            );
        }
        assert_eq!(
            resumed.save_state().unwrap(),
            whole.save_state().unwrap(),
            "{method:?}: the whole state at the end"
        );
        assert_ne!(whole.psi(), cfg.start(), "{method:?} never moved");
    }
}

#[test]
fn a_state_of_another_method_or_seed_is_refused() {
    let (numdiff, _) = quadratic("numdiff", 100_000);
    let (cmaes, _) = quadratic("cmaes", 100_000);
    let state = optimizer_for(&numdiff).unwrap().save_state().unwrap();
    let e = optimizer_for(&cmaes)
        .unwrap()
        .restore_state(&state)
        .unwrap_err()
        .to_string();
    assert!(e.contains("numdiff") && e.contains("cmaes"), "{e}");
    let (other_seed, _) = quadratic_with("numdiff", 100_000, |c| c.seed = 4);
    let e = optimizer_for(&other_seed)
        .unwrap()
        .restore_state(&state)
        .unwrap_err()
        .to_string();
    assert!(e.contains("seed 3") && e.contains("seed 4"), "{e}");
    let e = optimizer_for(&numdiff)
        .unwrap()
        .restore_state(&serde_json::json!({"method": "numdiff"}))
        .unwrap_err();
    assert!(matches!(e, lgso::Error::Protocol(_)), "{e}");
    // a state made under other settings (the population) is refused,
    // naming what differs
    let (bigger, _) = quadratic_with("cmaes", 100_000, |c| c.cmaes.population = Some(8));
    let cmaes_state = optimizer_for(&cmaes).unwrap().save_state().unwrap();
    let e = optimizer_for(&bigger)
        .unwrap()
        .restore_state(&cmaes_state)
        .unwrap_err()
        .to_string();
    assert!(e.contains("population: 7 then, 8 now"), "{e}");
    // CMA-ES's own part must fit the dimension (a 2x2 covariance for 3
    // parameters); a refused state changes nothing
    let mut opt = optimizer_for(&cmaes).unwrap();
    let mut state = opt.save_state().unwrap();
    state["method_state"]["c"] = serde_json::json!([1.0, 0.0, 0.0, 1.0]);
    state["iteration"] = serde_json::json!(5);
    let e = opt.restore_state(&state).unwrap_err().to_string();
    assert!(e.contains("does not fit dimension 3"), "{e}");
    assert_eq!(opt.iteration(), 0);
}
