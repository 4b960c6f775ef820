//! Runs an optimizer (L-GSO or a baseline) on the `muon-shield` problem
//! as `lgso run` does (the simulator checks the bounds of the 42 parameters
//! on every call; the optimizers keep psi inside `Problem::bounds`), prints
//! the objective per iteration and the final psi, then checks the final
//! psi against the bounds and the start and final psi on fresh muons.
//!
//! Usage: `cargo run --release -p lgso --example muon_shield_run -- CONFIG.toml [METHOD] [SEED] [POOL]`
//! (METHOD: lgso, cmaes, bo, ...; the config's `problem` is replaced by
//! `muon-shield`). POOL = K sets `[muon_shield] hits_pool = K`: the input
//! muons are the hits pool of the first K enhanced muons at the start psi
//! (spec §5.3, `ShieldSimulator::hits_pool`); `lgso run` does the same with
//! that setting. At the end the start and final psi are
//! evaluated (hits loss, SHiP weight, SHiP FCN for 50 000 muons, mass) on
//! 200 000 fresh enhanced muons (common-random-numbers seed 2,
//! as `lgso shield simulate --muons 200000 --seed 2`), and the final psi is
//! checked against the bounds.

use lgso::config::Config;
use lgso::driver::{run_method, Observer};
use lgso::problem::muon_shield::objective::SHIP_DEFAULT_MUONS;
use lgso::problem::muon_shield::{
    bounds, hit_weight, psi_names, ship_fcn, ship_weight, GeometryOptions, Shield, ShieldSimulator,
    Status, BASELINE,
};
use lgso::report::{IterationReport, Summary};
use lgso::seed::rng_from_seed;

/// Common-random-numbers seed of the fresh-muon check (the optimization
/// uses the simulator's default, 1).
const FRESH_SEED: u64 = 2;
/// Muons of the fresh-muon check.
const FRESH_MUONS: usize = 200_000;

#[derive(Default)]
struct Print {
    /// psi of the summary (the last psi whose objective was reported).
    last: Vec<f64>,
}

impl Observer for Print {
    fn on_iteration(&mut self, r: &IterationReport) -> lgso::Result<()> {
        println!(
            "iter {:>4}  calls {:>9}  objective {:.4e} +- {:.1e}  sim {:.1}s  total {:.1}s",
            r.iteration,
            r.calls,
            r.objective,
            r.objective_stderr,
            r.seconds_simulate,
            r.seconds_total
        );
        let psi: Vec<String> = r.psi.iter().map(|v| format!("{v:.4}")).collect();
        println!("psi {}", psi.join(" "));
        Ok(())
    }

    fn on_finish(&mut self, s: &Summary) -> lgso::Result<()> {
        println!(
            "done: {} on {}: {:?}; {} iterations, {} calls, {:.0} s",
            s.optimizer, s.problem, s.stop_reason, s.iterations, s.calls, s.seconds_total
        );
        println!(
            "objective E[R]: start {:.4e} +- {:.1e}, final {:.4e} +- {:.1e}",
            s.objective_start,
            s.objective_start_stderr,
            s.objective_final,
            s.objective_final_stderr
        );
        let names = psi_names();
        let moved: Vec<String> = s
            .psi_final
            .iter()
            .zip(&s.psi_start)
            .zip(&names)
            .map(|((f, a), n)| format!("{n} {a} -> {f:.2}"))
            .collect();
        println!("psi: {}", moved.join(", "));
        let rounded: Vec<String> = s.psi_final.iter().map(|v| format!("{v:.2}")).collect();
        println!("final psi (cm): {}", rounded.join(" "));
        self.last = s.psi_final.clone();
        Ok(())
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    lgso::threads::single_threaded_tensor_ops();
    let usage = "usage: muon_shield_run CONFIG.toml [METHOD] [SEED] [POOL]";
    let args: Vec<String> = std::env::args().collect();
    let path = args.get(1).ok_or(usage)?;
    let text = std::fs::read_to_string(path).map_err(|e| format!("config {path}: {e}"))?;
    let mut config = Config::from_toml_str(&text)?;
    config.problem = "muon-shield".into();
    if let Some(m) = args.get(2) {
        config.method = m.clone();
    }
    if let Some(s) = args.get(3) {
        config.seed = s
            .parse()
            .map_err(|_| format!("SEED `{s}` is not a non-negative integer; {usage}"))?;
    }
    if let Some(c) = args.get(4) {
        // hits pool (spec §5.3): muons near the acceptance at the start psi
        let candidates: usize = c
            .parse()
            .map_err(|_| format!("POOL `{c}` is not a muon count; {usage}"))?;
        config.muon_shield.hits_pool = Some(candidates);
    }
    let resolved = config.resolve()?;
    let mut print = Print::default();
    if let Err(e) = run_method(&resolved, &mut [&mut print]) {
        println!("run failed: {e}; checking the psi of the last completed iteration");
    }
    // the final psi against the bounds of the 42 parameters
    let outside: Vec<String> = print
        .last
        .iter()
        .zip(bounds())
        .zip(psi_names())
        .filter(|((v, (lo, hi)), _)| !(lo..=hi).contains(v))
        .map(|((v, (lo, hi)), n)| format!("{n} = {v} outside [{lo}, {hi}]"))
        .collect();
    if outside.is_empty() {
        println!("bounds: every final parameter is within its bounds");
    } else {
        println!("bounds: OUTSIDE: {}", outside.join(", "));
    }
    // the start and final psi on fresh enhanced muons (bounds checked)
    let fresh = ShieldSimulator {
        crn_seed: Some(FRESH_SEED),
        ..ShieldSimulator::default()
    };
    for (label, psi) in [("start", &BASELINE.to_vec()), ("final", &print.last)] {
        let mut rng = rng_from_seed(FRESH_SEED);
        let (loss, hits, ship_sum) = lgso::threads::simulation_pool().install(|| {
            let x = fresh.muons(FRESH_MUONS, &mut rng);
            let out = fresh.outcomes(psi, &x, &mut rng)?;
            let reached = || {
                out.iter()
                    .enumerate()
                    .filter(|(_, o)| o.status == Status::Reached)
            };
            let w: Vec<f64> = reached()
                .map(|(i, o)| hit_weight(o.hit, x.get(i, 6)))
                .collect();
            let ship: f64 = reached()
                .map(|(i, o)| ship_weight(o.hit, x.get(i, 6), o.p))
                .sum();
            Ok::<_, lgso::Error>((
                w.iter().sum::<f64>(),
                w.iter().filter(|v| **v > 0.0).count(),
                ship,
            ))
        })?;
        let mass = Shield::from_psi(psi, GeometryOptions::default())?.mass_kg();
        let n = SHIP_DEFAULT_MUONS as f64;
        println!(
            "{label} psi on {FRESH_MUONS} fresh enhanced muons (seed {FRESH_SEED}): L_hits {loss:.2}, per muon {:.4e}, {hits} with weight > 0; SHiP weight per muon {:.4e}, ship_fcn (N = {n}) {:.4}, mass {mass:.0} kg",
            loss / FRESH_MUONS as f64,
            ship_sum / FRESH_MUONS as f64,
            ship_fcn(n * ship_sum / FRESH_MUONS as f64, mass)
        );
    }
    Ok(())
}
