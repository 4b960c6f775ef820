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
//! Usage: `cargo run --release -p lgso --example muon_shield_run -- CONFIG.toml [METHOD] [SEED]`
//! (METHOD: lgso, cmaes, bo, ...; the config's `problem` is replaced by
//! `muon-shield`).

use std::sync::Arc;

use lgso::config::Config;
use lgso::driver::{run_method, IterationReport, Observer, Summary};
use lgso::problem::muon_shield::{psi_names, ShieldSimulator};

struct Print;

impl Observer for Print {
    fn on_iteration(&mut self, r: &IterationReport) -> lgso::Result<()> {
        println!(
            "iter {:>4}  calls {:>9}  objective {:.4e} +- {:.1e}  sim {:.1}s  total {:.1}s",
            r.iteration, r.calls, r.objective, r.objective_stderr, r.seconds_simulate, r.seconds_total
        );
        Ok(())
    }

    fn on_finish(&mut self, s: &Summary) -> lgso::Result<()> {
        println!(
            "done: {} on {}: {:?}; {} iterations, {} calls, {:.0} s",
            s.optimizer, s.problem, s.stop_reason, s.iterations, s.calls, s.seconds_total
        );
        println!(
            "objective per muon: start {:.4e} +- {:.1e}, final {:.4e} +- {:.1e}",
            s.objective_start, s.objective_start_stderr, s.objective_final, s.objective_final_stderr
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
    let path = args.get(1).ok_or("usage: muon_shield_run CONFIG.toml [METHOD] [SEED]")?;
    let mut config = Config::from_toml_str(&std::fs::read_to_string(path)?)?;
    config.problem = "muon-shield".into();
    if let Some(m) = args.get(2) {
        config.method = m.clone();
    }
    if let Some(s) = args.get(3) {
        config.seed = s.parse()?;
    }
    let mut resolved = config.resolve()?;
    resolved.problem.simulator = Arc::new(ShieldSimulator {
        bounds: None,
        ..ShieldSimulator::default()
    });
    resolved.problem.bounds = None;
    run_method(&resolved, &mut [&mut Print])?;
    Ok(())
}
