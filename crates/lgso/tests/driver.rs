//! The driver's budget accounting and stopping rules, checked with a
//! counting simulator.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use candle_core::Tensor;
use lgso::config::{Config, ResolvedConfig};
use lgso::data::{Matrix, Outcome};
use lgso::driver::{run, run_lgso, Observer};
use lgso::history::History;
use lgso::optimizer::{Lgso, Optimizer};
use lgso::problem::{Dims, Objective, Problem, ProblemDefaults, Simulator};
use lgso::report::{IterationReport, StopReason};
use lgso::seed::Rng;
use lgso::surrogate::GanSettings;
use rand::Rng as _;

/// y = psi_1 + psi_2 x + noise, counting every y it draws.
struct Counting {
    calls: AtomicU64,
}

impl Simulator for Counting {
    fn name(&self) -> &str {
        "counting"
    }
    fn dims(&self) -> Dims {
        Dims { psi: 2, x: 1, y: 1 }
    }
    fn sample_x(&self, count: usize, rng: &mut Rng) -> Matrix {
        Matrix::from_vec(
            count,
            1,
            (0..count).map(|_| rng.random_range(-1.0..1.0)).collect(),
        )
        .unwrap()
    }
    fn simulate(&self, psi: &[f64], x: &Matrix, rng: &mut Rng) -> lgso::Result<Matrix> {
        self.calls.fetch_add(x.rows() as u64, Ordering::SeqCst);
        let y = (0..x.rows())
            .map(|i| psi[0] + psi[1] * x.get(i, 0) + 0.1 * rng.random_range(-1.0..1.0))
            .collect();
        Matrix::from_vec(x.rows(), 1, y)
    }
}

/// R = y^2 (E[R] = psi_1^2 + psi_2^2 / 3 + noise variance).
struct Square;
impl Objective for Square {
    fn per_sample(&self, y: &Tensor, _x: &Tensor, _psi: &Tensor) -> candle_core::Result<Tensor> {
        y.sqr()?.squeeze(1)
    }
}

fn tiny(budget: u64) -> (ResolvedConfig, Arc<Counting>) {
    let sim = Arc::new(Counting {
        calls: AtomicU64::new(0),
    });
    let mut config = Config::default();
    config.stop.budget = Some(budget);
    config.lgso.preset = Some("paper".into());
    config.lgso.n_points = Some(3);
    config.lgso.eps = Some(0.3);
    config.lgso.samples_per_point = Some(50);
    config.lgso.gradient_samples = Some(100);
    config.monitor.samples = Some(7);
    config.start = Some(vec![1.0, 1.0]);
    config.gan = GanSettings {
        noise_dim: 4,
        generator_hidden: vec![8, 8],
        critic_hidden: vec![8],
        critic_outputs: 4,
        epochs: 1,
        ..GanSettings::default()
    };
    let problem = Problem {
        name: "counting",
        description: "test",
        simulator: sim.clone(),
        objective: Arc::new(Square),
        start: vec![1.0, 1.0],
        defaults: ProblemDefaults {
            n_points: 3,
            eps: 0.3,
            samples_per_point: 50,
            lr: 0.1,
        },
        target: 0.0,
        exact: None,
        bounds: None,
        psi_names: None,
    };
    (config.resolve_with(problem).unwrap(), sim)
}

#[derive(Default)]
struct Rows(Vec<IterationReport>);
impl Observer for Rows {
    fn on_iteration(&mut self, r: &IterationReport) -> lgso::Result<()> {
        self.0.push(r.clone());
        Ok(())
    }
}

#[test]
fn calls_charged_equal_draws_made_and_the_budget_holds() {
    // 4 points x 50 draws = 200 calls per iteration; a budget of 1000 pays
    // for 5 iterations and not a 6th.
    let (cfg, sim) = tiny(1000);
    let mut rows = Rows::default();
    let summary = run_lgso(&cfg, &mut [&mut rows]).unwrap();
    assert_eq!(summary.stop_reason, StopReason::Budget);
    assert_eq!(summary.iterations, 5);
    assert_eq!(summary.calls, 1000);
    // every drawn y is either charged or one of the 7 monitor draws made at
    // the start and after each iteration (not charged)
    assert_eq!(sim.calls.load(Ordering::SeqCst), 1000 + 7 * 6);
    let calls: Vec<u64> = rows.0.iter().map(|r| r.calls).collect();
    assert_eq!(calls, vec![0, 200, 400, 600, 800, 1000]);
    // every step stays in the eps-ball around the previous psi
    for w in rows.0.windows(2) {
        let d: f64 = w[0]
            .psi
            .iter()
            .zip(&w[1].psi)
            .map(|(a, b)| (a - b).powi(2))
            .sum::<f64>()
            .sqrt();
        assert!(d <= 0.3 + 1e-12, "step {d}");
        assert!((d - w[1].step.step_length).abs() < 1e-12);
    }
}

#[test]
fn iteration_limit_and_target_stop_the_run() {
    let (mut cfg, _) = tiny(10_000);
    cfg.max_iterations = Some(2);
    let s = run_lgso(&cfg, &mut []).unwrap();
    assert_eq!(
        (s.stop_reason, s.iterations, s.calls),
        (StopReason::MaxIterations, 2, 400)
    );
    // a target above the start value stops before the first iteration
    let (mut cfg, _) = tiny(10_000);
    cfg.target = Some(100.0);
    let s = run_lgso(&cfg, &mut []).unwrap();
    assert_eq!(
        (s.stop_reason, s.iterations, s.calls),
        (StopReason::Target, 0, 0)
    );
}

#[test]
fn tell_must_answer_the_last_ask() {
    let (cfg, _) = tiny(10_000);
    let surrogate = lgso::driver::surrogate_for(cfg.lgso.surrogate, &cfg);
    let mut opt = Lgso::new(&cfg.lgso, surrogate, &cfg.problem, cfg.seed);
    let history = History::new(2, 1, 1);
    assert!(matches!(
        opt.tell(&[], &history),
        Err(lgso::Error::Protocol(_))
    ));
    let asked = opt.ask().unwrap();
    assert_eq!(asked.len(), 4);
    assert_eq!(
        opt.ask().unwrap(),
        asked,
        "a repeated ask returns the same requests"
    );
    let wrong: Vec<Outcome> = Vec::new();
    let e = opt.tell(&wrong, &history).unwrap_err().to_string();
    assert!(e.contains("do not answer the last ask"), "{e}");
    // the pending ask survives a bad tell
    assert_eq!(opt.ask().unwrap(), asked);
    let mut driver_opt: Box<dyn Optimizer> = lgso::driver::lgso_for(&cfg);
    let s = run(&cfg, driver_opt.as_mut(), &mut []).unwrap();
    assert_eq!(s.calls, 10_000);
}

#[test]
fn a_failing_simulator_ends_the_run_with_a_clear_error() {
    // three hump at psi = (0, 0) cannot be simulated; as a configured
    // start it is refused before the run ...
    let config = Config {
        start: Some(vec![0.0, 0.0]),
        ..Config::default()
    };
    let e = config.resolve().unwrap_err().to_string();
    assert!(e.contains("`start`") && e.contains("(0, 0)"), "{e}");
    // ... and a run that meets it anyway ends with the simulator's error
    let mut cfg = Config::default().resolve().unwrap();
    cfg.problem.start = vec![0.0, 0.0];
    let e = run_lgso(&cfg, &mut []).unwrap_err().to_string();
    assert!(e.contains("three-hump") && e.contains("psi"), "{e}");
}
