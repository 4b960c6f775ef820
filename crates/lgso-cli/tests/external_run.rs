//! `lgso run --simulator` end to end with the compiled example simulator
//! `lgso-toy-sim` (issue #4): an L-GSO run through worker processes, the
//! run database with the simulator's samples, failures during a run
//! (rejected NaN samples, a crashing simulator past the failure limit),
//! SIGKILL + resume of an external run, and the bad inputs of the issue.

mod common;

use std::fs;
use std::path::Path;
use std::time::Duration;

use common::{assert_one_line_error, kill_run_after, TestDir};

const TOY: &str = env!("CARGO_BIN_EXE_lgso-toy-sim");

/// The quadratic model: `E[R] = ||psi - 1||^2` with `R(y) = y`; from
/// (2.5, 0) that is 3.25.
const QUADRATIC: &str = "seed = 4
start = [2.5, 0.0]
[stop]
budget = 16000
[lgso]
preset = \"paper\"
n_points = 4
eps = 0.5
lr = 0.3
samples_per_point = 400
gradient_samples = 2000
[gan]
epochs = 3
threads = 1
[simulator]
workers = 2
chunk_samples = 150
";

fn json(path: &Path) -> serde_json::Value {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("summary.json parses")
}

fn toy(args: &str) -> String {
    format!("{TOY} {args}")
}

fn ok(out: &std::process::Output) {
    assert!(
        out.status.success(),
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn lgso_lowers_the_objective_of_an_external_simulator_and_stores_its_samples() {
    let t = TestDir::new("ext-quadratic");
    t.write("q.toml", QUADRATIC);
    let out = t.lgso(&[
        "run",
        "--simulator",
        &toy("--model quadratic"),
        "--config",
        "q.toml",
        "--out",
        "run",
        "-q",
    ]);
    ok(&out);
    let s = json(&t.path().join("run/summary.json"));
    assert_eq!(s["problem"], "external");
    assert_eq!(s["calls"], 16000);
    let start = s["objective_start"].as_f64().unwrap();
    let end = s["objective_final"].as_f64().unwrap();
    // monitor: max(M, 1000) = 1000 draws of y = 3.25 + 0.1 N(0, 1):
    // standard error 0.003
    assert!((start - 3.25).abs() < 0.03, "start {start}");
    // E[R] at the final psi, computed from psi itself
    let psi: Vec<f64> = s["psi_final"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    let exact: f64 = psi.iter().map(|p| (p - 1.0) * (p - 1.0)).sum();
    assert!(
        (end - exact).abs() < 0.03,
        "estimate {end} vs ||psi - 1||^2 = {exact}"
    );
    assert!(
        exact < 1.5,
        "E[R] only went from 3.25 to {exact} (psi {psi:?})"
    );

    // every sample is in the database: 8 iterations x 5 points x 400, plus
    // the monitor's max(M, 1000) = 1000 per report (start + 8), which an
    // external run stores
    let out = t.lgso(&["export", "run"]);
    ok(&out);
    let samples = fs::read_to_string(t.path().join("run/export/samples.csv")).unwrap();
    let rows: Vec<&str> = samples.lines().skip(1).collect();
    assert_eq!(
        rows.iter().filter(|l| l.contains(",step,good,")).count(),
        16000
    );
    assert_eq!(
        rows.iter().filter(|l| l.contains(",monitor,good,")).count(),
        9 * 1000
    );
}

#[test]
fn rejected_samples_are_flagged_and_a_crashing_simulator_stops_the_run_cleanly() {
    let t = TestDir::new("ext-failures");
    t.write(
        "q.toml",
        &QUADRATIC.replace("budget = 16000", "budget = 8000"),
    );
    // every worker's 3rd batch has a NaN y, an infinite y and an infinite
    // x: those 3 samples are rejected, the rest of the request is kept, and
    // the run goes on under the default 10% limit (3 lost samples of 400)
    t.write(
        "nan.toml",
        &QUADRATIC.replace("budget = 16000", "budget = 8000"),
    );
    let out = t.lgso(&[
        "run",
        "--simulator",
        &toy("--model quadratic --fail nan --fail-after 3"),
        "--config",
        "nan.toml",
        "--out",
        "nan",
        "-q",
    ]);
    ok(&out);
    let s = json(&t.path().join("nan/summary.json"));
    let failed = s["failed_requests"].as_u64().unwrap();
    assert!(failed >= 1, "no request was hit by the injected NaN");
    ok(&t.lgso(&["export", "nan"]));
    let samples = fs::read_to_string(t.path().join("nan/export/samples.csv")).unwrap();
    let rejected = samples.lines().filter(|l| l.contains(",rejected,")).count() as u64;
    // three bad samples per hit batch; a request (400 samples in chunks of
    // 150) may span several batches
    assert!(
        rejected.is_multiple_of(3) && rejected >= 3 * failed,
        "{rejected} rejected, {failed} failed"
    );
    let requests = fs::read_to_string(t.path().join("nan/export/requests.csv")).unwrap();
    // failed_requests counts the optimizer's and the monitor's requests
    let hits = requests.matches("non_finite").count();
    assert_eq!(hits as u64, failed);
    // every rejected sample holds a non-finite value; no good one does
    for l in samples.lines().skip(1) {
        let bad = l.contains("NaN") || l.contains("inf");
        assert_eq!(bad, l.contains(",rejected,"), "{l}");
    }

    // a simulator that aborts on every batch: retried, then failed; the run
    // stops once more than 10% (and 3) of its requests failed, saying which
    // request, psi and what the simulator printed, with everything saved
    let out = t.lgso(&[
        "run",
        "--simulator",
        &toy("--model quadratic --fail crash"),
        "--config",
        "q.toml",
        "--out",
        "crash",
        "-q",
    ]);
    assert_one_line_error(
        &out,
        &[
            "max_failure_rate",
            "psi = [",
            "crash",
            "simulator stderr",
            "lgso resume",
        ],
    );
    let s = json(&t.path().join("crash/summary.json"));
    assert_eq!(s["stop_reason"], "failed");
    assert!(t.path().join("crash/run.sqlite").exists());
}

#[test]
fn a_killed_external_run_resumes_to_the_same_psi() {
    let t = TestDir::new("ext-resume");
    t.write("q.toml", QUADRATIC);
    let sim = toy("--model quadratic --delay-ms 30");
    let out = t.lgso(&[
        "run",
        "--simulator",
        &sim,
        "--config",
        "q.toml",
        "--out",
        "full",
        "-q",
    ]);
    ok(&out);
    // header + start point + 2 iterations, then a little into the next
    kill_run_after(
        t.path(),
        &[
            "run",
            "--simulator",
            &sim,
            "--config",
            "q.toml",
            "--out",
            "killed",
            "-q",
        ],
        &t.path().join("killed/trace.csv"),
        4,
        Duration::from_millis(150),
    );
    assert!(
        !t.path().join("killed/summary.json").exists(),
        "finished before the kill"
    );
    let out = t.lgso(&["resume", "killed", "-q"]);
    ok(&out);
    let (a, b) = (
        json(&t.path().join("full/summary.json")),
        json(&t.path().join("killed/summary.json")),
    );
    assert_eq!(a["psi_final"], b["psi_final"]);
    assert_eq!(a["calls"], b["calls"]);
    for d in ["full", "killed"] {
        ok(&t.lgso(&["export", d]));
    }
    let read = |d: &str| fs::read_to_string(t.path().join(d).join("export/samples.csv")).unwrap();
    assert!(
        read("full") == read("killed"),
        "samples differ after resume"
    );
}

#[test]
fn bad_simulators_and_mismatched_configs_are_clear_errors() {
    let t = TestDir::new("ext-bad");
    t.write("q.toml", QUADRATIC);
    let run = |sim: &str, config: &str| {
        t.lgso(&[
            "run",
            "--simulator",
            sim,
            "--config",
            config,
            "--out",
            "x",
            "-q",
        ])
    };
    // a program that does not exist
    let out = run("./no-such-simulator --fast", "q.toml");
    assert_one_line_error(&out, &["no-such-simulator", "does not exist"]);
    // a file that is not executable
    t.write("sim.txt", "not a program");
    let out = run("./sim.txt", "q.toml");
    assert_one_line_error(&out, &["sim.txt", "not executable"]);
    // the handshake disagrees with the config's dimensions
    t.write(
        "dims.toml",
        &QUADRATIC.replace("chunk_samples = 150", "chunk_samples = 150\npsi_dim = 3"),
    );
    let out = run(&toy("--model quadratic"), "dims.toml");
    assert_one_line_error(&out, &["psi_dim = 2", "psi_dim = 3", "config"]);
    // ... and with the start point
    let out = run(&toy("--model quadratic --dim 3"), "q.toml");
    assert_one_line_error(&out, &["start", "dimension 2", "expected 3"]);
    // an objective that does not fit the simulator's y
    t.write(
        "obj.toml",
        &format!("{QUADRATIC}[objective]\nkind = \"weighted_sum\"\nweights = [1.0, 2.0]\n"),
    );
    let out = run(&toy("--model quadratic"), "obj.toml");
    assert_one_line_error(&out, &["objective.weights", "1 finite numbers"]);
    // an unterminated quote in the command
    let out = run("python3 'sim.py", "q.toml");
    assert_one_line_error(&out, &["simulator", "unterminated"]);
    // [simulator] settings or --workers with a built-in problem
    t.write("builtin.toml", "[simulator]\ncommand = [\"sim\"]\n");
    let out = t.lgso(&["run", "--config", "builtin.toml", "-q"]);
    assert_one_line_error(&out, &["simulator", "problem = \"external\""]);
    let out = t.lgso(&["run", "--workers", "2", "-q"]);
    assert_one_line_error(&out, &["simulator", "three-hump"]);
    // a built-in problem and --simulator together
    let out = t.lgso(&["run", "rosenbrock", "--simulator", &toy(""), "-q"]);
    assert_one_line_error(&out, &["--simulator", "rosenbrock"]);
    // nothing was left behind as a run
    assert!(!t.path().join("x/run.sqlite").exists());
}

#[test]
fn a_run_stopped_by_a_broken_simulator_continues_once_it_is_fixed() {
    let t = TestDir::new("ext-fixed");
    t.write(
        "q.toml",
        &QUADRATIC.replace("chunk_samples = 150", "chunk_samples = 150\nretries = 0"),
    );
    // a wrapper that crashes until the file `fixed` exists
    let script = t.write(
        "sim.sh",
        &format!(
            "#!/bin/sh\nif [ -e fixed ]; then exec {TOY} --model quadratic; fi\nexec {TOY} --model quadratic --fail crash --fail-after 2\n"
        ),
    );
    let mut perms = fs::metadata(&script).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    fs::set_permissions(&script, perms).unwrap();
    let out = t.lgso(&[
        "run",
        "--simulator",
        "./sim.sh",
        "--config",
        "q.toml",
        "--out",
        "r",
        "-q",
    ]);
    assert_one_line_error(&out, &["max_failure_rate", "crash", "lgso resume r"]);
    // the failed requests are simulated again by the fixed simulator
    t.write("fixed", "");
    let out = t.lgso(&["resume", "r", "-q"]);
    ok(&out);
    let s = json(&t.path().join("r/summary.json"));
    assert_eq!(s["calls"], 16000);
    assert_eq!(s["stop_reason"], "budget");
    // the same psi as a run on the working simulator from the start
    let out = t.lgso(&[
        "run",
        "--simulator",
        "./sim.sh",
        "--config",
        "q.toml",
        "--out",
        "ok",
        "-q",
    ]);
    ok(&out);
    assert_eq!(
        json(&t.path().join("ok/summary.json"))["psi_final"],
        s["psi_final"]
    );
}
