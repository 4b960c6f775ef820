//! External simulators through the worker pool (issue #4, items 1, 3, 6):
//! protocol v1 with the `lgso-toy-sim` binary and the Python example.
//!
//! Expected values are worked out independently: the toy's quadratic model
//! draws exactly what lgso's in-process `Quadratic` draws from the same
//! seed, so pool results are compared with `problem::draw`; moments come
//! from the models' closed forms. Every failure mode of the toy
//! (`--fail MODE`) must give its `FailureKind` and a message naming the
//! request, its psi and (in `stderr_tail`) the toy's stderr line.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use lgso::data::{Request, Samples};
use lgso::evaluate::external::{PoolOptions, WorkerPool};
use lgso::evaluate::{Evaluator, FailureKind, InProcess, RequestResult};
use lgso::problem::{draw, hump_expectation, Dims, Quadratic};
use lgso::seed::derive_seed;
use lgso::Error;

/// The toy simulator's argument vector.
fn toy(args: &[&str]) -> Vec<String> {
    std::iter::once(env!("CARGO_BIN_EXE_lgso-toy-sim"))
        .chain(args.iter().copied())
        .map(String::from)
        .collect()
}

fn options(workers: usize) -> PoolOptions {
    PoolOptions {
        workers,
        timeout: Some(Duration::from_secs(20)),
        retries: 2,
        chunk_samples: 1000,
        batch_samples: 1000,
        handshake_timeout: Duration::from_secs(20),
    }
}

fn request(id: u64, psi: &[f64], count: usize, seed: u64) -> Request {
    Request {
        id,
        iteration: 0,
        psi: psi.to_vec(),
        count,
        seed,
    }
}

/// Evaluates `requests`, checking that `on_result` sees each request once.
fn evaluate(pool: &mut dyn Evaluator, requests: &[Request]) -> Vec<RequestResult> {
    let mut seen = Vec::new();
    let results = pool
        .evaluate(requests, &mut |r| {
            seen.push(r.request.id);
            Ok(())
        })
        .expect("evaluate");
    assert_eq!(results.len(), requests.len());
    for (r, q) in results.iter().zip(requests) {
        assert_eq!(&r.request, q, "results come in request order");
    }
    seen.sort_unstable();
    let mut ids: Vec<u64> = requests.iter().map(|r| r.id).collect();
    ids.sort_unstable();
    assert_eq!(seen, ids, "on_result once per request");
    results
}

/// A fresh directory under the system temp dir, removed on drop.
struct TestDir(PathBuf);

impl TestDir {
    fn new(name: &str) -> TestDir {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!(
            "lgso-external-test-{}-{n}-{name}",
            std::process::id()
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("create test dir");
        TestDir(dir)
    }

    fn path(&self) -> &Path {
        &self.0
    }

    /// Writes an executable shell script.
    fn script(&self, name: &str, body: &str) -> String {
        let p = self.0.join(name);
        fs::write(&p, format!("#!/bin/sh\n{body}\n")).expect("write script");
        fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).expect("chmod");
        p.to_string_lossy().into_owned()
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Rows equal up to the last bit (both sides hold f64 written with Rust's
/// shortest round-trip format and read back by serde_json).
fn assert_same_samples(a: &Samples, b: &Samples) {
    assert_eq!(a.psi, b.psi);
    assert_eq!(a.x.as_slice().len(), b.x.as_slice().len());
    for (u, v) in a.x.as_slice().iter().zip(b.x.as_slice()) {
        assert!((u - v).abs() <= 1e-15 * v.abs().max(1.0), "x {u} != {v}");
    }
    assert_eq!(a.y.as_slice().len(), b.y.as_slice().len());
    for (u, v) in a.y.as_slice().iter().zip(b.y.as_slice()) {
        assert!((u - v).abs() <= 1e-15 * v.abs().max(1.0), "y {u} != {v}");
    }
}

fn gone(pid: u32) -> bool {
    // A zombie still has /proc/<pid>; a reaped process does not.
    !Path::new(&format!("/proc/{pid}")).exists()
}

#[test]
fn handshake_shapes_and_moments_of_the_quadratic() {
    let mut pool = WorkerPool::start(&toy(&["--dim", "3"]), options(2)).expect("start");
    let h = pool.handshake().clone();
    assert_eq!(h.protocol, "lgso-simulator/1");
    assert_eq!((h.psi_dim, h.x_dim, h.y_dim), (3, 1, 1));
    assert_eq!(h.name.as_deref(), Some("lgso-toy-sim quadratic"));
    assert!(pool
        .expect_dims(Dims { psi: 3, x: 1, y: 1 }, "the config")
        .is_ok());
    // psi = (2, -1, 1): E[y] = 1 + 4 + 0 = 5, sd 0.1; 4 standard errors
    // over 2500 draws = 0.008. 2500 samples = chunks of 1000, 1000, 500.
    let psi = [2.0, -1.0, 1.0];
    let results = evaluate(&mut pool, &[request(11, &psi, 2500, 5)]);
    let r = &results[0];
    assert!(r.failure.is_none(), "{:?}", r.failure);
    assert_eq!(r.attempts, 1);
    assert_eq!(r.samples.len(), 2500);
    assert_eq!(
        (r.samples.x.cols(), r.samples.y.cols(), r.samples.psi.cols()),
        (1, 1, 3)
    );
    assert!((0..2500).all(|i| r.samples.psi.row(i) == psi));
    assert!(r
        .samples
        .x
        .as_slice()
        .iter()
        .all(|v| (0.0..1.0).contains(v)));
    assert!(r.rejected.is_empty());
    let mean = r.samples.y.as_slice().iter().sum::<f64>() / 2500.0;
    assert!((mean - 5.0).abs() < 0.008, "mean {mean}");
    // Dropping the pool closes stdin; the workers exit and are reaped.
    let pids = pool.pids();
    assert_eq!(pids.len(), 2);
    drop(pool);
    assert!(
        pids.iter().all(|&p| gone(p)),
        "workers left behind: {pids:?}"
    );
}

#[test]
fn samples_are_the_in_process_draws_with_any_workers_and_batching() {
    let sim = Quadratic { dim: 2 };
    // Requests of 2500 (3 chunks), 700, 1000 and 1 sample, and an empty one.
    let requests = vec![
        request(1, &[0.5, 2.0], 2500, 100),
        request(2, &[1.0, 1.0], 700, 200),
        request(3, &[-3.0, 4.0], 1000, 300),
        request(4, &[0.0, 0.0], 1, 400),
        request(5, &[0.0, 0.0], 0, 500),
    ];
    // Expected: a request within one chunk is the in-process draw with its
    // own seed; chunk i of a split request is the draw of its chunk's
    // samples with seed derive_seed(seed, [i]), concatenated in order.
    let mut in_process = InProcess::new(std::sync::Arc::new(sim));
    let direct = evaluate(&mut in_process, &requests);
    let mut expected_split = Samples::empty(2, 1, 1);
    for (i, count) in [1000, 1000, 500].into_iter().enumerate() {
        let s = draw(&sim, &[0.5, 2.0], count, derive_seed(100, &[i as u64])).unwrap();
        expected_split.append(&s).unwrap();
    }
    let layouts = [(1, 1000), (2, 300), (2, 5000), (3, 1700)];
    let mut runs = Vec::new();
    for (workers, batch_samples) in layouts {
        let mut o = options(workers);
        o.batch_samples = batch_samples;
        let mut pool = WorkerPool::start(&toy(&[]), o).expect("start");
        runs.push(evaluate(&mut pool, &requests));
    }
    for results in &runs {
        assert_same_samples(&results[0].samples, &expected_split);
        for k in 1..requests.len() {
            assert!(results[k].failure.is_none());
            assert_same_samples(&results[k].samples, &direct[k].samples);
        }
        assert_eq!(results[4].samples.len(), 0);
    }
}

/// Runs the toy with `--fail mode` (plus `extra` flags) on one 10-sample
/// request at psi = (0.5, 2), id 77, and returns the result; checks that
/// the failure has `kind`, names the request and psi, and carries the
/// toy's stderr line.
fn failing(mode: &str, extra: &[&str], retries: u32, kind: FailureKind) -> RequestResult {
    let mut args = vec!["--fail", mode];
    args.extend_from_slice(extra);
    let mut o = options(1);
    o.retries = retries;
    o.timeout = Some(Duration::from_secs(1));
    let mut pool = WorkerPool::start(&toy(&args), o).expect("start");
    let first_pid = pool.pids()[0];
    let results = evaluate(&mut pool, &[request(77, &[0.5, 2.0], 10, 3)]);
    let r = results[0].clone();
    let f = r
        .failure
        .clone()
        .unwrap_or_else(|| panic!("{mode}: no failure"));
    eprintln!("{mode}: {} [stderr: {:?}]", f.message, f.stderr_tail);
    assert_eq!(f.kind, kind, "{mode}: {}", f.message);
    assert!(f.message.contains("request 77"), "{mode}: {}", f.message);
    assert!(
        f.message.contains("psi = [0.5, 2.0]"),
        "{mode}: {}",
        f.message
    );
    assert!(
        f.stderr_tail.contains("failing on purpose"),
        "{mode}: stderr tail {:?}",
        f.stderr_tail
    );
    if matches!(
        kind,
        FailureKind::Exit | FailureKind::Crash | FailureKind::Malformed | FailureKind::Timeout
    ) {
        // The broken worker is gone (killed and reaped, or exited and
        // reaped) and the pool still works: the next request is answered
        // by a respawned worker (which fails again only on its own first
        // batch, so use a pool whose failure was transient below).
        assert!(gone(first_pid), "{mode}: worker {first_pid} left behind");
    }
    r
}

#[test]
fn each_failure_mode_has_its_kind_and_a_clear_message() {
    // Deterministic failures: never retried, no samples.
    for (mode, kind, what) in [
        (
            "wrong-count",
            FailureKind::WrongCount,
            "9 x rows and 9 y rows, expected 10",
        ),
        (
            "wrong-dims",
            FailureKind::WrongDims,
            "x row 0 has 2 entries, expected x_dim = 1",
        ),
        ("error", FailureKind::Simulator, "refused on purpose"),
    ] {
        let r = failing(mode, &[], 2, kind);
        assert_eq!(r.attempts, 1, "{mode}");
        assert_eq!(r.samples.len() + r.rejected.len(), 0, "{mode}");
        let f = r.failure.unwrap();
        assert!(f.message.contains(what), "{mode}: {}", f.message);
    }
    // Failures of the worker: retried on a fresh worker; the toy fails on
    // the first batch of every process, so all 1 + 2 attempts fail.
    for (mode, kind, what) in [
        ("exit", FailureKind::Exit, "exited with status 3"),
        ("crash", FailureKind::Crash, "killed by signal 6"),
        ("malformed", FailureKind::Malformed, "this is not JSON"),
        (
            "hang",
            FailureKind::Timeout,
            "no answer within the timeout of 1.000 s",
        ),
    ] {
        let retries = if mode == "hang" { 0 } else { 2 };
        let r = failing(mode, &[], retries, kind);
        assert_eq!(r.attempts, 1 + retries, "{mode}");
        assert_eq!(r.samples.len(), 0, "{mode}");
        let f = r.failure.unwrap();
        assert!(f.message.contains(what), "{mode}: {}", f.message);
        assert!(
            f.message
                .contains(&format!("attempt {} of {}", 1 + retries, 1 + retries)),
            "{mode}: {}",
            f.message
        );
    }
}

#[test]
fn non_finite_samples_are_rejected_and_the_rest_kept() {
    // The toy's `nan` mode: y of sample 0 is NaN, y of sample 1 Infinity,
    // x of sample 2 -Infinity; the other 7 samples are the in-process
    // draws with the request's seed.
    let r = failing("nan", &[], 2, FailureKind::NonFinite);
    assert_eq!(r.attempts, 1);
    assert_eq!(r.rejected.len(), 3);
    assert_eq!(r.samples.len(), 7);
    assert!(r.rejected.y.get(0, 0).is_nan());
    assert_eq!(r.rejected.y.get(1, 0), f64::INFINITY);
    assert_eq!(r.rejected.x.get(2, 0), f64::NEG_INFINITY);
    let all = draw(&Quadratic { dim: 2 }, &[0.5, 2.0], 10, 3).unwrap();
    assert_same_samples(&r.samples, &all.select(&[3, 4, 5, 6, 7, 8, 9]));
    assert!(r.failure.unwrap().message.contains("3 of 10 samples"));
}

#[test]
fn a_transient_crash_is_retried_and_a_later_failure_hits_only_its_request() {
    let dir = TestDir::new("retry");
    let marker = dir.path().join("crashed");
    let marker = marker.to_string_lossy().into_owned();
    let mut pool = WorkerPool::start(
        &toy(&["--fail", "crash", "--fail-once", &marker]),
        options(1),
    )
    .expect("start");
    let results = evaluate(&mut pool, &[request(5, &[3.0, 0.0], 20, 8)]);
    let r = &results[0];
    assert!(r.failure.is_none(), "{:?}", r.failure);
    assert_eq!(r.attempts, 2);
    assert!(Path::new(&marker).exists());
    let expected = draw(&Quadratic { dim: 2 }, &[3.0, 0.0], 20, 8).unwrap();
    assert_same_samples(&r.samples, &expected);

    // A worker failing on its 2nd batch (batches of one request each): the
    // first request is answered, the second fails, the third is answered
    // again by the same (still healthy) worker.
    let mut o = options(1);
    o.batch_samples = 10;
    let mut pool =
        WorkerPool::start(&toy(&["--fail", "wrong-count", "--fail-after", "2"]), o).expect("start");
    let results = evaluate(
        &mut pool,
        &[
            request(1, &[1.0, 1.0], 10, 1),
            request(2, &[2.0, 1.0], 10, 2),
            request(3, &[3.0, 1.0], 10, 3),
        ],
    );
    assert!(results[0].failure.is_none());
    assert_eq!(
        results[1].failure.as_ref().map(|f| f.kind),
        Some(FailureKind::WrongCount)
    );
    assert!(results[1]
        .failure
        .as_ref()
        .unwrap()
        .message
        .contains("request 2"));
    assert!(results[2].failure.is_none());
    assert_eq!(results[2].samples.len(), 10);
}

#[test]
fn a_pool_recovers_after_a_timeout_and_a_malformed_answer() {
    let dir = TestDir::new("recover");
    for mode in ["hang", "malformed"] {
        let marker = dir.path().join(mode).to_string_lossy().into_owned();
        let mut o = options(2);
        o.timeout = Some(Duration::from_secs(1));
        o.retries = 0;
        let mut pool =
            WorkerPool::start(&toy(&["--fail", mode, "--fail-once", &marker]), o).expect("start");
        // One request: one worker fails (for good: no retries).
        let r = &evaluate(&mut pool, &[request(9, &[1.0, 2.0], 5, 1)])[0];
        assert!(r.failure.is_some(), "{mode}");
        // The killed worker is respawned and everything works again.
        let results = evaluate(
            &mut pool,
            &[
                request(10, &[1.0, 2.0], 5, 1),
                request(11, &[1.0, 2.0], 1500, 2),
            ],
        );
        for r in &results {
            assert!(r.failure.is_none(), "{mode}: {:?}", r.failure);
            assert_eq!(r.samples.len(), r.request.count);
        }
        assert_eq!(pool.pids().len(), 2, "{mode}");
    }
}

fn start_error(argv: &[String], o: PoolOptions) -> String {
    match WorkerPool::start(argv, o) {
        Ok(_) => panic!("{argv:?} started"),
        Err(e) => {
            assert!(
                matches!(e, Error::External { .. } | Error::Config { .. }),
                "{e}"
            );
            let text = e.to_string();
            assert!(!text.contains('\n'), "one line: {text}");
            text
        }
    }
}

#[test]
fn start_errors_are_clear() {
    let dir = TestDir::new("start");
    let o = || options(2);
    let e = start_error(&["/nonexistent/dir/sim".to_string()], o());
    assert!(e.contains("`/nonexistent/dir/sim` does not exist"), "{e}");
    let e = start_error(&["no-such-simulator-program-xyz".to_string()], o());
    assert!(e.contains("not found on PATH"), "{e}");
    let plain = dir.path().join("plain.py");
    fs::write(&plain, "print('hi')\n").unwrap();
    fs::set_permissions(&plain, fs::Permissions::from_mode(0o644)).unwrap();
    let plain = plain.to_string_lossy().into_owned();
    let e = start_error(std::slice::from_ref(&plain), o());
    assert!(e.contains(&format!("`{plain}` is not executable")), "{e}");
    let e = start_error(&[dir.path().to_string_lossy().into_owned()], o());
    assert!(e.contains("is not executable"), "{e}");
    let e = start_error(&[], o());
    assert!(e.contains("empty command"), "{e}");
    let mut zero = o();
    zero.workers = 0;
    let e = start_error(&toy(&[]), zero);
    assert!(e.contains("simulator.workers"), "{e}");

    // Not JSON: the line, the expected form and the stderr tail.
    let e = start_error(&toy(&["--fail", "bad-handshake"]), o());
    assert!(e.contains("not a valid handshake"), "{e}");
    assert!(e.contains("hello from lgso-toy-sim"), "{e}");
    assert!(e.contains("\"protocol\": \"lgso-simulator/1\""), "{e}");
    assert!(e.contains("failing on purpose: bad handshake"), "{e}");
    // Another protocol version, missing fields.
    let other = dir.script(
        "other.sh",
        r#"echo '{"protocol": "lgso-simulator/2", "psi_dim": 2, "x_dim": 1, "y_dim": 1}'; cat > /dev/null"#,
    );
    let e = start_error(&[other], o());
    assert!(
        e.contains("`lgso-simulator/2`") && e.contains("`lgso-simulator/1`"),
        "{e}"
    );
    let missing = dir.script(
        "missing.sh",
        r#"echo '{"protocol": "lgso-simulator/1", "psi_dim": 2}'; cat > /dev/null"#,
    );
    let e = start_error(&[missing], o());
    assert!(e.contains("missing field `x_dim`"), "{e}");
    // Exit before the handshake: status and stderr tail.
    let dies = dir.script("dies.sh", "echo 'cannot load geometry.gdml' >&2; exit 4");
    let e = start_error(&[dies], o());
    assert!(
        e.contains("exited with status 4 before sending its handshake"),
        "{e}"
    );
    assert!(e.contains("cannot load geometry.gdml"), "{e}");
    // No handshake in time.
    let mut quick = o();
    quick.handshake_timeout = Duration::from_millis(500);
    let silent = dir.script("silent.sh", "echo 'thinking' >&2; exec sleep 30");
    let e = start_error(&[silent], quick);
    assert!(e.contains("sent no handshake within 0.5 s"), "{e}");
    assert!(e.contains("thinking"), "{e}");
    // Workers that disagree: the first to take the lock says psi_dim 2,
    // the other 3.
    let lock = dir.path().join("lock").to_string_lossy().into_owned();
    let disagree = dir.script(
        "disagree.sh",
        &format!(
            r#"if mkdir '{lock}' 2>/dev/null; then n=2; else n=3; fi
echo "{{\"protocol\": \"lgso-simulator/1\", \"psi_dim\": $n, \"x_dim\": 1, \"y_dim\": 1}}"
cat > /dev/null"#
        ),
    );
    let e = start_error(&[disagree], o());
    assert!(e.contains("workers disagree"), "{e}");

    // A simulator that lies about its dims: the pool believes the
    // handshake, a caller checking it against its config gets a clear
    // error, and a request with 3 psi entries is refused by the toy (a
    // per-request simulator error naming the request).
    let mut pool = WorkerPool::start(&toy(&["--psi-dim-handshake", "3"]), options(1)).unwrap();
    assert_eq!(pool.handshake().psi_dim, 3);
    let e = pool
        .expect_dims(Dims { psi: 2, x: 1, y: 1 }, "the config")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("psi_dim = 3") && e.contains("the config expects psi_dim = 2"),
        "{e}"
    );
    let r = &evaluate(&mut pool, &[request(4, &[1.0, 2.0, 3.0], 5, 1)])[0];
    let f = r.failure.as_ref().unwrap();
    assert_eq!(f.kind, FailureKind::Simulator);
    assert!(
        f.message.contains("request 4") && f.message.contains("dimension 3, expected 2"),
        "{}",
        f.message
    );
    // psi of the wrong length for the handshake is the caller's error.
    let wrong = pool.evaluate(&[request(5, &[1.0], 5, 1)], &mut |_| Ok(()));
    assert!(matches!(wrong, Err(Error::Dimension { .. })));
}

/// The Python example (examples/simulators/three_hump.py) through the
/// pool. Skipped, with a note, where `python3` is not on PATH: the example
/// needs nothing but a Python 3 interpreter.
#[test]
fn python_example_matches_the_three_hump_moments() {
    let python = Command::new("python3").arg("--version").output();
    if !python.is_ok_and(|o| o.status.success()) {
        eprintln!("note: python3 not on PATH; the Python example is not tested");
        return;
    }
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/simulators/three_hump.py");
    let argv = vec!["python3".to_string(), script.to_string_lossy().into_owned()];
    let mut pool = WorkerPool::start(&argv, options(2)).expect("start");
    let h = pool.handshake();
    assert_eq!((h.psi_dim, h.x_dim, h.y_dim), (2, 2, 1));
    assert_eq!(
        h.psi_names,
        Some(vec!["psi1".to_string(), "psi2".to_string()])
    );
    // At psi = (1, 1): h = 2 - 1.05 + 1/6 + 1 + 1 = 3.11667, component 1
    // with probability 1/2. y = x_j h + N(0, 2):
    // E[y] = 0.5 * 0 * h + 0.5 * 2.5 h;
    // E[y^2] = 0.5 (h^2 16/12 + 2) + 0.5 (h^2 (25/12 + 6.25) + 2).
    let hp: f64 = 2.0 - 1.05 + 1.0 / 6.0 + 1.0 + 1.0;
    let mean = 0.5 * 2.5 * hp;
    let second = 0.5 * (hp * hp * 16.0 / 12.0 + 2.0) + 0.5 * (hp * hp * (25.0 / 12.0 + 6.25) + 2.0);
    let sd = (second - mean * mean).sqrt();
    let n = 4000;
    let results = evaluate(
        &mut pool,
        &[
            request(1, &[1.0, 1.0], n, 21),
            request(2, &[0.0, 0.0], 10, 22),
        ],
    );
    let r = &results[0];
    assert!(r.failure.is_none(), "{:?}", r.failure);
    assert_eq!(r.samples.len(), n);
    let got = r.samples.y.as_slice().iter().sum::<f64>() / n as f64;
    let bound = 4.0 * sd / (n as f64).sqrt();
    assert!(
        (got - mean).abs() < bound,
        "mean y {got}, expected {mean} +- {bound}"
    );
    for i in 0..n {
        let x = r.samples.x.row(i);
        assert!((-2.0..2.0).contains(&x[0]) && (0.0..5.0).contains(&x[1]));
    }
    // E[R] at (1, 1) by quadrature (hump_expectation); the sample mean of R agrees
    // within 4 standard errors (|R| < 1, so sd(R) < 1).
    let r_values: Vec<f64> = r
        .samples
        .y
        .as_slice()
        .iter()
        .map(|&y| 0.5 * ((0.5 * y - 5.0).tanh() - (0.5 * y).tanh()))
        .collect();
    let (r_mean, r_se) = lgso::problem::mean_and_stderr(&r_values);
    let exact = hump_expectation([1.0, 1.0]);
    assert!(
        (r_mean - exact).abs() < 4.0 * r_se,
        "E[R] {r_mean} +- {r_se}, exact {exact}"
    );
    // psi = (0, 0): the script's per-request error, with its stderr line.
    let f = results[1].failure.as_ref().unwrap();
    assert_eq!(f.kind, FailureKind::Simulator);
    assert!(
        f.message.contains("request 2") && f.message.contains("undefined"),
        "{}",
        f.message
    );
    assert!(
        f.stderr_tail.contains("three_hump.py: request"),
        "{:?}",
        f.stderr_tail
    );
}

#[test]
fn an_evaluation_stopped_by_on_result_leaves_the_pool_usable() {
    // Two workers, one batch each: when the first answer stops the
    // evaluation, the other batch is still outstanding.
    let mut o = options(2);
    o.batch_samples = 10;
    let mut pool = WorkerPool::start(&toy(&["--delay-ms", "20"]), o).expect("start");
    let reqs = [
        request(1, &[1.0, 1.0], 10, 1),
        request(2, &[1.0, 1.0], 10, 2),
    ];
    let stopped = pool.evaluate(&reqs, &mut |_| {
        Err(Error::Protocol("stop after the first result".into()))
    });
    assert!(matches!(stopped, Err(Error::Protocol(_))));
    // The second batch may still be in flight: it must not be taken for
    // the answer of the next evaluation.
    let results = evaluate(&mut pool, &[request(3, &[2.0, 1.0], 10, 3)]);
    assert!(results[0].failure.is_none(), "{:?}", results[0].failure);
    let expected = draw(&Quadratic { dim: 2 }, &[2.0, 1.0], 10, 3).unwrap();
    assert_same_samples(&results[0].samples, &expected);
}

#[test]
fn bench_protocol_prints_its_table_and_rejects_bad_flags() {
    let lgso = env!("CARGO_BIN_EXE_lgso");
    let out = Command::new(lgso)
        .args(["bench-protocol", "--samples", "3000", "--repeats", "1"])
        .output()
        .expect("run lgso");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("| in-process quadratic (dim 2) |"),
        "{stdout}"
    );
    for w in ["| 1 | 3000 |", "| 2 | 3000 |"] {
        assert!(stdout.contains(w), "{w}: {stdout}");
    }
    let out = Command::new(lgso)
        .args(["bench-protocol", "--workers", "1,0"])
        .output()
        .expect("run lgso");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.starts_with("error: invalid --workers"), "{stderr}");
    let out = Command::new(lgso)
        .args(["bench-protocol", "--simulator", "/nonexistent/sim --fast"])
        .output()
        .expect("run lgso");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("`/nonexistent/sim` does not exist"),
        "{stderr}"
    );
}

#[test]
fn a_simulator_ignoring_end_of_file_is_killed_on_drop() {
    // Sends its handshake, then never reads stdin: closing stdin does not
    // stop it, so the pool kills it after its shutdown wait (1 s).
    let dir = TestDir::new("stubborn");
    let stubborn = dir.script(
        "stubborn.sh",
        r#"echo '{"protocol": "lgso-simulator/1", "psi_dim": 1, "x_dim": 0, "y_dim": 1}'
exec sleep 30"#,
    );
    let pool = WorkerPool::start(&[stubborn], options(2)).expect("start");
    assert_eq!(pool.handshake().x_dim, 0);
    let pids = pool.pids();
    drop(pool);
    assert!(
        pids.iter().all(|&p| gone(p)),
        "workers left behind: {pids:?}"
    );
}
