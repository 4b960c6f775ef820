//! Runs L-GSO on a problem with a TOML config and prints one line per
//! iteration: `cargo run --release --example quick_run -- CONFIG.toml`.
use lgso::config::Config;
use lgso::driver::{run_lgso, IterationReport, Observer};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

struct Print;
impl Observer for Print {
    fn on_iteration(&mut self, r: &IterationReport) -> lgso::Result<()> {
        let psi: Vec<String> = r.psi.iter().take(4).map(|v| format!("{v:.3}")).collect();
        println!(
            "it {:3} calls {:8} obj {:8.4} ±{:.4} exact {:?} |g| {:.3} step {:.3} train {:6} reused {:6} fit {:.1}s grad {:.2}s sim {:.2}s tot {:.1}s psi [{}]",
            r.iteration, r.calls, r.objective, r.objective_stderr, r.objective_exact.map(|v| (v * 1000.0).round() / 1000.0),
            r.step.grad_norm, r.step.step_length, r.step.train_samples, r.step.reused_samples,
            r.step.seconds_fit, r.step.seconds_gradient, r.seconds_simulate, r.seconds_total, psi.join(", ")
        );
        Ok(())
    }
}

fn main() {
    lgso::threads::single_threaded_tensor_ops();
    let path = std::env::args().nth(1).expect("config path");
    let cfg = Config::from_toml_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let resolved = cfg.resolve().unwrap();
    let mut p = Print;
    let s = run_lgso(&resolved, &mut [&mut p]).unwrap();
    println!("{}", serde_json::to_string(&s).unwrap());
}
