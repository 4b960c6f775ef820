//! Runs an optimizer (L-GSO or a baseline) on the `muon-shield` problem
//! from the baseline with the simulator's box-bounds check relaxed to
//! physical validity only (every length > 0, `dZ > 5` cm), and prints the
//! objective per iteration and the final psi.
//!
//! Why: the baseline sits on two bounds of the spec's box (`dXIn_4 = 3`,
//! `dZ_5 = 305`), so a trust region around it leaves the box until the
//! optimizer clips trust regions to `Problem::bounds` (a separate change);
//! `lgso run muon-shield` is the command to use once that has landed.
//!
//! Usage: `cargo run --release -p lgso --example muon_shield_run -- CONFIG.toml [METHOD] [SEED] [POOL]`
//! (METHOD: lgso, cmaes, bo, ...; the config's `problem` is replaced by
//! `muon-shield`). With POOL = K, the input muons are the hits pool of
//! K enhanced muons at the baseline (spec §5.3, `ShieldSimulator::hits_pool`).
//! At the end the start and final psi are evaluated on 200 000 muons of
//! the full enhanced spectrum.

use std::sync::Arc;

use lgso::config::Config;
use lgso::driver::{run_method, IterationReport, Observer, Summary};
use lgso::problem::muon_shield::{
    hit_weight, psi_names, ShieldSimulator, Spectrum, Status, BASELINE,
};
use lgso::seed::rng_from_seed;

struct Print {
    /// psi after the last completed iteration.
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
        self.last = r.psi.clone();
        Ok(())
    }

    fn on_finish(&mut self, s: &Summary) -> lgso::Result<()> {
        println!(
            "done: {} on {}: {:?}; {} iterations, {} calls, {:.0} s",
            s.optimizer, s.problem, s.stop_reason, s.iterations, s.calls, s.seconds_total
        );
        println!(
            "objective per muon: start {:.4e} +- {:.1e}, final {:.4e} +- {:.1e}",
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
        Ok(())
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    lgso::threads::single_threaded_tensor_ops();
    let args: Vec<String> = std::env::args().collect();
    let path = args
        .get(1)
        .ok_or("usage: muon_shield_run CONFIG.toml [METHOD] [SEED]")?;
    let mut config = Config::from_toml_str(&std::fs::read_to_string(path)?)?;
    config.problem = "muon-shield".into();
    if let Some(m) = args.get(2) {
        config.method = m.clone();
    }
    if let Some(s) = args.get(3) {
        config.seed = s.parse()?;
    }
    let mut resolved = config.resolve()?;
    let full = ShieldSimulator {
        bounds: None,
        ..ShieldSimulator::default()
    };
    let mut sim = full.clone();
    if let Some(c) = args.get(4) {
        // hits pool (spec §5.3): muons near the acceptance at the baseline
        let candidates: usize = c.parse()?;
        let pool = lgso::threads::simulation_pool().install(|| {
            full.hits_pool(&BASELINE, candidates, 330.0, 530.0, &mut rng_from_seed(0))
        })?;
        println!(
            "hits pool: {} of {candidates} enhanced muons hit |X| <= 3.3 m, |Y| <= 5.3 m (the service window) at the baseline",
            pool.len()
        );
        sim.spectrum = Spectrum::File(pool);
        sim.smear = false;
    }
    resolved.problem.simulator = Arc::new(sim);
    resolved.problem.bounds = None;
    let mut print = Print { last: Vec::new() };
    if let Err(e) = run_method(&resolved, &mut [&mut print]) {
        println!("run failed: {e}; evaluating the psi of the last completed iteration");
    }
    // the start and final psi on the full enhanced spectrum (CRN, 200 000 muons)
    for (label, psi) in [("start", &BASELINE.to_vec()), ("final", &print.last)] {
        let mut rng = rng_from_seed(0);
        let (loss, n) = lgso::threads::simulation_pool().install(|| {
            let x = full.muons(200_000, &mut rng);
            let out = full.outcomes(psi, &x, &mut rng)?;
            let loss: f64 = out
                .iter()
                .enumerate()
                .filter(|(_, o)| o.status == Status::Reached)
                .map(|(i, o)| hit_weight(o.hit, x.get(i, 6)))
                .sum();
            Ok::<_, lgso::Error>((loss, x.rows()))
        })?;
        println!(
            "{label} psi on 200000 enhanced muons: L_hits {loss:.2}, per muon {:.4e}",
            loss / n as f64
        );
    }
    Ok(())
}
