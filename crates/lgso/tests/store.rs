//! The run database and resuming (issue #4, item 4), box bounds (item 5)
//! and the objective families for external simulators (item 2).

#![allow(clippy::field_reassign_with_default)] // configs read best as "defaults, then this"

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use candle_core::{Device, Tensor, Var};
use lgso::config::{Config, ResolvedConfig};
use lgso::data::{Matrix, Request};
use lgso::driver::{optimizer_for, run_session, Session};
use lgso::evaluate::{Evaluator, Failure, FailureKind, InProcess, RequestResult};
use lgso::history::{RequestKind, RunStore};
use lgso::problem::external::{evaluate_rows, ObjectiveFamily};
use lgso::problem::Objective;
use lgso::report::Summary;
use lgso::Error;

/// A fresh, empty directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "lgso-store-test-{}-{}-{name}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Counts the requests that reach the simulator.
struct Counting {
    inner: InProcess,
    step_requests: usize,
}

impl Evaluator for Counting {
    fn describe(&self) -> String {
        "counting".into()
    }
    fn reproducible(&self) -> bool {
        true
    }
    fn evaluate(
        &mut self,
        requests: &[Request],
        on_result: &mut dyn FnMut(&RequestResult) -> lgso::Result<()>,
    ) -> lgso::Result<Vec<RequestResult>> {
        // the monitor's request has index 2^20 - 1 within its iteration
        self.step_requests += requests
            .iter()
            .filter(|r| r.id & 0xFFFFF != 0xFFFFF)
            .count();
        self.inner.evaluate(requests, on_result)
    }
}

/// Three hump with tiny settings: 5 points x 100 samples per iteration.
fn tiny(method: &str, iterations: u64) -> ResolvedConfig {
    let mut c = Config::default();
    c.method = method.into();
    c.seed = 5;
    c.stop.max_iterations = Some(iterations);
    c.lgso.preset = Some("paper".into());
    c.lgso.samples_per_point = Some(100);
    c.lgso.gradient_samples = Some(500);
    c.gan.epochs = 1;
    c.gan.threads = 1;
    c.numdiff.samples = 100;
    c.monitor.samples = Some(500);
    c.resolve().unwrap()
}

fn session_run(cfg: &ResolvedConfig, store: &mut RunStore, resume: bool) -> (Summary, usize) {
    let mut ev = Counting {
        inner: InProcess::new(cfg.problem.simulator.clone()),
        step_requests: 0,
    };
    let mut opt = optimizer_for(cfg).unwrap();
    let session = Session {
        evaluator: &mut ev,
        store: Some(store),
        resume,
    };
    let summary = run_session(cfg, opt.as_mut(), session, &mut []).unwrap();
    (summary, ev.step_requests)
}

/// Runs 2 iterations, resumes to 4, and compares with 4 uninterrupted
/// iterations: same psi, same calls, and the resumed part asks the
/// simulator only for the 2 new iterations.
fn resume_matches(method: &str, requests_per_iteration: usize) {
    resume_matches_from(method, requests_per_iteration, false);
}

/// As [`resume_matches`]; with `forget_state`, the last checkpoint is
/// stored again without the optimizer's state, as a run database written
/// before every optimizer saved one.
fn resume_matches_from(method: &str, requests_per_iteration: usize, forget_state: bool) {
    let a = TempDir::new(&format!("{method}-a"));
    let b = TempDir::new(&format!("{method}-b"));
    let (full, _) = session_run(
        &tiny(method, 4),
        &mut RunStore::create(&a.0, "", "test").unwrap(),
        false,
    );
    let mut store = RunStore::create(&b.0, "", "test").unwrap();
    let (first, n1) = session_run(&tiny(method, 2), &mut store, false);
    assert_eq!(n1, 2 * requests_per_iteration);
    assert_eq!(first.iterations, 2);
    if forget_state {
        let cp = store.last_checkpoint().unwrap().unwrap();
        assert!(cp.state.is_some(), "{method} saved no state");
        store.commit_iteration(&cp.report, cp.calls, None).unwrap();
    }
    let (resumed, n2) = session_run(&tiny(method, 4), &mut store, true);
    assert_eq!(
        n2,
        2 * requests_per_iteration,
        "stored requests were simulated again"
    );
    assert_eq!(resumed.iterations, 4);
    assert_eq!(resumed.calls, full.calls);
    assert_eq!(resumed.psi_final, full.psi_final);
    assert_eq!(resumed.objective_final, full.objective_final);
    // the trace in the database is whole: start point + 4 iterations
    assert_eq!(store.reports().unwrap().len(), 5);
}

#[test]
fn lgso_resumes_from_its_saved_state() {
    resume_matches("lgso", 5);
}

#[test]
fn numdiff_resumes_from_its_saved_state() {
    // numdiff in 2-D: 2 n = 4 requests per step
    resume_matches("numdiff", 4);
}

#[test]
fn a_checkpoint_without_saved_state_resumes_by_replaying_its_samples() {
    // numdiff in 2-D: 2 n = 4 requests per step
    resume_matches_from("numdiff", 4, true);
}

#[test]
fn requests_round_trip_with_failures_and_rejected_samples() {
    let d = TempDir::new("round-trip");
    let mut store = RunStore::create(&d.0, "seed = 1\n", "test").unwrap();
    let request = Request {
        id: 7,
        iteration: 0,
        psi: vec![0.5, -1.25],
        count: 3,
        seed: u64::MAX - 3,
    };
    let x = Matrix::from_vec(3, 1, vec![0.1, f64::NAN, 0.3]).unwrap();
    let y = Matrix::from_vec(3, 2, vec![1.0, 2.0, 3.0, 4.0, 5.0, f64::INFINITY]).unwrap();
    let r = RequestResult::from_rows(&request, x, y, 2, 0.5);
    // rows 1 (NaN in x) and 2 (infinity in y) are rejected
    assert_eq!(r.samples.len(), 1);
    assert_eq!(r.rejected.len(), 2);
    assert_eq!(r.failure.as_ref().unwrap().kind, FailureKind::NonFinite);
    store.commit_request(RequestKind::Step, &r).unwrap();
    let back = store.completed(&request, (2, 1, 2)).unwrap().unwrap();
    assert_eq!(back.samples, r.samples);
    assert_eq!(back.rejected.y.row(1)[1], f64::INFINITY);
    assert!(back.rejected.x.row(0)[0].is_nan());
    assert_eq!(back.failure, r.failure);
    assert_eq!(back.attempts, 2);
    // committing again keeps the first answer (it has a good sample)
    let other = RequestResult::failed(
        &request,
        (2, 1, 2),
        Failure {
            kind: FailureKind::Crash,
            message: "boom".into(),
            stderr_tail: String::new(),
        },
        1,
        0.0,
    );
    store.commit_request(RequestKind::Step, &other).unwrap();
    assert_eq!(
        store
            .completed(&request, (2, 1, 2))
            .unwrap()
            .unwrap()
            .samples
            .len(),
        1
    );
    // the same id with another seed is a different run
    let mut changed = request.clone();
    changed.seed = 1;
    assert!(matches!(
        store.completed(&changed, (2, 1, 2)),
        Err(Error::Protocol(_))
    ));
    // history holds only good samples of step requests
    let h = store.history((2, 1, 2), 1).unwrap();
    assert_eq!(h.len(), 1);
    assert_eq!(h.samples().y.row(0), &[1.0, 2.0]);
    // a trace row whose objective could not be estimated (NaN, stored as
    // null) reads back as NaN
    let report = lgso::report::IterationReport {
        iteration: 0,
        calls: 0,
        objective: f64::NAN,
        objective_stderr: f64::NAN,
        objective_exact: None,
        step: Default::default(),
        seconds_simulate: 0.0,
        seconds_total: 0.0,
        psi: vec![0.5, -1.25],
    };
    store.commit_iteration(&report, 0, None).unwrap();
    let back = store.reports().unwrap();
    assert!(back[0].objective.is_nan() && back[0].objective_stderr.is_nan());
    assert!(store
        .last_checkpoint()
        .unwrap()
        .unwrap()
        .report
        .objective
        .is_nan());
    // a second database in the same directory is refused
    assert!(matches!(
        RunStore::create(&d.0, "", "test"),
        Err(Error::Store { .. })
    ));
    drop(store);
    assert_eq!(
        RunStore::open(&d.0)
            .unwrap()
            .meta("config")
            .unwrap()
            .as_deref(),
        Some("seed = 1\n")
    );
}

#[test]
fn what_is_not_a_run_is_refused() {
    let d = TempDir::new("not-a-run");
    assert!(matches!(RunStore::open(&d.0), Err(Error::NotARun { .. })));
    std::fs::write(d.0.join("run.sqlite"), b"plain text, not a database").unwrap();
    let e = RunStore::open(&d.0).err().unwrap();
    assert!(matches!(e, Error::NotARun { .. }), "{e}");
}

#[test]
fn lgso_stays_inside_the_bounds() {
    // The three-hump optimum lies far outside this box around the start
    // (2, 0): psi must end on its boundary, and every requested point lies
    // inside.
    let mut c = Config::default();
    c.seed = 2;
    c.stop.max_iterations = Some(4);
    c.lgso.preset = Some("paper".into());
    c.lgso.samples_per_point = Some(100);
    c.lgso.gradient_samples = Some(500);
    c.gan.epochs = 1;
    c.gan.threads = 1;
    c.monitor.samples = Some(200);
    c.bounds = Some(vec![[1.9, 2.3], [-0.05, 0.05]]);
    let cfg = c.resolve().unwrap();
    let d = TempDir::new("bounds");
    let mut store = RunStore::create(&d.0, "", "test").unwrap();
    let (summary, _) = session_run(&cfg, &mut store, false);
    let inside = |p: &[f64]| (1.9..=2.3).contains(&p[0]) && (-0.05..=0.05).contains(&p[1]);
    for r in store.results((2, 2, 1), None).unwrap() {
        assert!(
            inside(&r.request.psi),
            "request outside the bounds: {:?}",
            r.request.psi
        );
    }
    for r in store.reports().unwrap() {
        assert!(inside(&r.psi), "psi outside the bounds: {:?}", r.psi);
    }
    assert!(summary.iterations == 4);
    // an entry with three numbers is refused, not truncated
    let e = Config::from_toml_str("bounds = [[0.0, 1.0, 2.0], [0.0, 1.0]]")
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("[lo, hi]") && e.contains("bounds"), "{e}");
    // a start outside the bounds is refused, naming the coordinate
    let mut c = Config::default();
    c.bounds = Some(vec![[-1.0, 1.0], [-1.0, 1.0]]);
    let e = c.resolve().err().unwrap().to_string();
    assert!(e.contains("psi_1") && e.contains("[-1, 1]"), "{e}");
}

#[test]
fn objective_families_match_their_formulas() {
    let y = Matrix::from_vec(2, 2, vec![1.0, 3.0, -2.0, 0.5]).unwrap();
    let r = |f: ObjectiveFamily| evaluate_rows(&f, &y).unwrap();
    assert_eq!(r(ObjectiveFamily::Mean), vec![2.0, -0.75]);
    assert_eq!(
        r(ObjectiveFamily::WeightedSum(vec![2.0, -1.0])),
        vec![-1.0, -4.5]
    );
    assert_eq!(
        r(ObjectiveFamily::SquaredDistance(vec![1.0, 1.0])),
        vec![4.0, 9.25]
    );
    let sigmoid = |t: f64| 1.0 / (1.0 + (-t).exp());
    let window = r(ObjectiveFamily::Window(0.0, 2.0));
    for (i, w) in window.iter().enumerate() {
        let expect: f64 = y
            .row(i)
            .iter()
            .map(|&v| -(sigmoid(v) - sigmoid(v - 2.0)))
            .sum();
        assert!((w - expect).abs() < 1e-12, "{w} vs {expect}");
    }
    let one = Matrix::from_vec(2, 1, vec![4.0, -1.5]).unwrap();
    assert_eq!(
        evaluate_rows(&ObjectiveFamily::Identity, &one).unwrap(),
        vec![4.0, -1.5]
    );
    // the window's derivative in y (the surrogate gradient flows through
    // it): d/dy -(s(y - a) - s(y - b)) = -(s'(y - a) - s'(y - b))
    let dev = Device::Cpu;
    let yv = Var::from_vec(vec![0.7f64, 1.9], (2, 1), &dev).unwrap();
    let none = Tensor::zeros((2, 1), candle_core::DType::F64, &dev).unwrap();
    let rr = ObjectiveFamily::Window(0.0, 2.0)
        .per_sample(yv.as_tensor(), &none, &none)
        .unwrap();
    let g = rr.sum_all().unwrap().backward().unwrap();
    let g = g
        .get(yv.as_tensor())
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1::<f64>()
        .unwrap();
    let ds = |t: f64| sigmoid(t) * (1.0 - sigmoid(t));
    for (gi, v) in g.iter().zip([0.7, 1.9]) {
        let expect = -(ds(v) - ds(v - 2.0));
        assert!((gi - expect).abs() < 1e-12, "{gi} vs {expect}");
    }
    // wrong lengths and bad windows name the key
    let e = ObjectiveFamily::WeightedSum(vec![1.0])
        .check(2)
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("objective.weights") && e.contains("2 finite numbers"),
        "{e}"
    );
    let e = ObjectiveFamily::Window(3.0, 1.0)
        .check(1)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("objective.window"), "{e}");
    let e = ObjectiveFamily::Identity
        .check(3)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("identity"), "{e}");
}

/// y = psi_1 + x, x ~ U(0, 1); a request fails when its first random
/// draw falls below `fail_share`.
struct Flaky {
    fail_share: f64,
}

impl lgso::problem::Simulator for Flaky {
    fn name(&self) -> &str {
        "flaky"
    }
    fn dims(&self) -> lgso::problem::Dims {
        lgso::problem::Dims { psi: 2, x: 1, y: 1 }
    }
    fn sample_x(&self, count: usize, rng: &mut lgso::seed::Rng) -> Matrix {
        use rand::Rng as _;
        Matrix::from_vec(count, 1, (0..count).map(|_| rng.random::<f64>()).collect()).unwrap()
    }
    fn simulate(&self, psi: &[f64], x: &Matrix, rng: &mut lgso::seed::Rng) -> lgso::Result<Matrix> {
        use rand::Rng as _;
        if rng.random::<f64>() < self.fail_share {
            return Err(Error::Simulator {
                problem: "flaky".into(),
                psi: psi.to_vec(),
                reason: "injected failure".into(),
            });
        }
        Matrix::from_vec(
            x.rows(),
            1,
            (0..x.rows()).map(|i| psi[0] + x.get(i, 0)).collect(),
        )
    }
}

fn flaky(method: &str, fail_share: f64, max_failure_rate: f64) -> ResolvedConfig {
    let mut c = Config::default();
    c.method = method.into();
    c.stop.max_iterations = Some(6);
    c.start = Some(vec![0.0, 0.0]);
    c.lgso.preset = Some("paper".into());
    c.lgso.n_points = Some(9);
    c.lgso.eps = Some(0.2);
    c.lgso.samples_per_point = Some(50);
    c.lgso.gradient_samples = Some(200);
    c.numdiff.samples = 50;
    c.gan.epochs = 1;
    c.gan.threads = 1;
    c.monitor.samples = Some(20);
    c.simulator.max_failure_rate = max_failure_rate;
    let mut problem = lgso::problem::by_name("three-hump").unwrap();
    problem.simulator = std::sync::Arc::new(Flaky { fail_share });
    problem.objective = std::sync::Arc::new(ObjectiveFamily::Identity);
    problem.exact = None;
    c.problem = "three-hump".into();
    c.resolve_with(problem).unwrap()
}

fn run_stored(cfg: &ResolvedConfig, dir: &TempDir) -> (lgso::Result<Summary>, RunStore) {
    let mut store = RunStore::create(&dir.0, "", "test").unwrap();
    let mut ev = InProcess::new(cfg.problem.simulator.clone());
    let mut opt = optimizer_for(cfg).unwrap();
    let session = Session {
        evaluator: &mut ev,
        store: Some(&mut store),
        resume: false,
    };
    let result = run_session(cfg, opt.as_mut(), session, &mut []);
    (result, store)
}

#[test]
fn failed_requests_are_stored_flagged_and_the_failure_rate_stops_the_run() {
    // With 20% of requests failing (10 per iteration), L-GSO goes on under
    // a 50% limit: the failed requests are stored with their message and
    // no samples, and never trained on.
    let d = TempDir::new("flaky-ok");
    let (result, store) = run_stored(&flaky("lgso", 0.2, 0.5), &d);
    let summary = result.unwrap();
    assert_eq!(summary.iterations, 6);
    let results = store.results((2, 1, 1), None).unwrap();
    assert_eq!(results.len(), 60);
    let failed: Vec<&RequestResult> = results.iter().filter(|r| r.failure.is_some()).collect();
    assert!(
        !failed.is_empty() && failed.len() < 30,
        "{} failed",
        failed.len()
    );
    assert_eq!(summary.failed_requests, failed.len() as u64);
    for r in &failed {
        let f = r.failure.as_ref().unwrap();
        assert_eq!(f.kind, FailureKind::Simulator);
        assert!(f.message.contains("injected failure"), "{}", f.message);
        assert!(r.samples.is_empty());
    }
    // calls charged: only samples that came back
    let good: u64 = results.iter().map(|r| r.samples.len() as u64).sum();
    assert_eq!(summary.calls, good);
    assert_eq!(store.history((2, 1, 1), 6).unwrap().len() as u64, good);

    // Under a 5% limit the same run stops once 3 requests failed and they
    // are more than 5%, with everything before saved.
    let d = TempDir::new("flaky-stop");
    let (result, store) = run_stored(&flaky("lgso", 0.2, 0.05), &d);
    let e = result.err().unwrap().to_string();
    assert!(
        e.contains("max_failure_rate = 0.05") && e.contains("injected failure"),
        "{e}"
    );
    assert!(e.contains("psi = ["), "the message names the psi: {e}");
    assert_eq!(store.status().unwrap(), lgso::history::RunStatus::Failed);
    assert!(!store.results((2, 1, 1), None).unwrap().is_empty());

    // numdiff needs every point: the first failure stops it, naming it
    let d = TempDir::new("flaky-numdiff");
    let (result, _) = run_stored(&flaky("numdiff", 0.2, 0.5), &d);
    let e = result.err().unwrap().to_string();
    assert!(e.contains("numdiff needs every requested point"), "{e}");
}

#[test]
fn baselines_respect_the_bounds() {
    // CMA-ES and BO only ever ask for points inside the bounds; the
    // gradient baselines keep psi inside them.
    let inside = |p: &[f64]| (1.9..=2.3).contains(&p[0]) && (-0.05..=0.05).contains(&p[1]);
    for method in ["cmaes", "bo", "numdiff", "ges", "reinforce", "oracle"] {
        let mut c = Config::default();
        c.method = method.into();
        c.seed = 3;
        c.stop.max_iterations = Some(3);
        c.numdiff.samples = 50;
        c.ges.samples = 50;
        c.reinforce.samples = 20;
        c.reinforce.policy_samples = 5;
        c.cmaes.samples = 50;
        c.cmaes.sigma = 1.0;
        c.bo.samples = 50;
        c.bo.initial_points = 5;
        c.bo.candidates = 200;
        c.lgso.samples_per_point = Some(50);
        c.monitor.samples = Some(50);
        c.bounds = Some(vec![[1.9, 2.3], [-0.05, 0.05]]);
        let cfg = c.resolve().unwrap();
        let d = TempDir::new(method);
        let mut store = RunStore::create(&d.0, "", "test").unwrap();
        session_run(&cfg, &mut store, false);
        if matches!(method, "cmaes" | "bo") {
            for r in store.results((2, 2, 1), None).unwrap() {
                assert!(
                    inside(&r.request.psi),
                    "{method} asked outside: {:?}",
                    r.request.psi
                );
            }
        }
        for r in store.reports().unwrap() {
            assert!(
                inside(&r.psi),
                "{method}: psi outside the bounds: {:?}",
                r.psi
            );
        }
    }
}
