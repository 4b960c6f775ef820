//! Crash safety (issue #4, item 4): a run killed with SIGKILL in the middle
//! is continued by `lgso resume`; no completed sample is lost or
//! duplicated, and the resumed run ends at the same psi, with the same
//! samples, as an uninterrupted run with the same seed. Also `lgso export`
//! and the bad inputs of resume/export.

mod common;

use std::fs;
use std::path::Path;
use std::time::Duration;

use common::{assert_one_line_error, kill_run_after, TestDir};

/// Three hump, 5 points x 200 samples = 1000 calls per iteration, 20
/// iterations; each iteration fits a small GAN (a fraction of a second),
/// so a kill lands in the middle of the run.
const CONFIG: &str = "seed = 11
[stop]
budget = 20000
[lgso]
preset = \"paper\"
samples_per_point = 200
gradient_samples = 1000
[gan]
epochs = 2
threads = 1
[monitor]
samples = 1000
";

fn json(path: &Path) -> serde_json::Value {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("summary.json parses")
}

fn lines(path: &Path) -> usize {
    fs::read_to_string(path).map_or(0, |t| t.lines().count())
}

#[test]
fn a_killed_run_resumes_to_the_same_psi_without_losing_or_repeating_samples() {
    let t = TestDir::new("resume");
    t.write("c.toml", CONFIG);

    // the uninterrupted run
    let out = t.lgso(&["run", "--config", "c.toml", "--out", "full", "-q"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let full = json(&t.path().join("full/summary.json"));
    assert_eq!(full["calls"], 20000);

    // the same run, killed (SIGKILL) once a few iterations are on disk
    let trace = t.path().join("killed/trace.csv");
    // header + start point + 4 iterations
    kill_run_after(
        t.path(),
        &["run", "--config", "c.toml", "--out", "killed", "-q"],
        &trace,
        6,
        Duration::ZERO,
    );
    assert!(
        !t.path().join("killed/summary.json").exists(),
        "the run finished before it was killed; the test needs a kill mid-run"
    );
    let before = lines(&trace) - 1;
    assert!(before < 21, "killed after {before} of 21 trace rows");

    let out = t.lgso(&["resume", "killed", "-q"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let resumed = json(&t.path().join("killed/summary.json"));
    assert_eq!(resumed["psi_final"], full["psi_final"]);
    assert_eq!(resumed["calls"], full["calls"]);
    assert_eq!(resumed["iterations"], full["iterations"]);
    assert_eq!(resumed["stop_reason"], "budget");
    // the trace is whole again: start point + 20 iterations
    assert_eq!(lines(&trace), 22);

    // every sample exactly once: the exports of both runs are identical,
    // and the requests table holds each of the 100 requests once, full
    for dir in ["full", "killed"] {
        let out = t.lgso(&["export", dir]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let samples =
        |d: &str| fs::read_to_string(t.path().join(d).join("export/samples.csv")).unwrap();
    let (a, b) = (samples("full"), samples("killed"));
    assert_eq!(a.lines().count(), 20001, "header + one row per call");
    assert!(
        a == b,
        "the resumed run's samples differ from the uninterrupted run's"
    );
    let requests = fs::read_to_string(t.path().join("killed/export/requests.csv")).unwrap();
    let mut ids: Vec<&str> = requests
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap())
        .collect();
    assert_eq!(ids.len(), 100);
    ids.dedup();
    assert_eq!(ids.len(), 100, "a request is stored twice");
    assert!(requests
        .lines()
        .skip(1)
        .all(|l| l.split(',').nth(5) == Some("200")));

    // resuming the finished run is refused, and says how to go on
    let out = t.lgso(&["resume", "killed"]);
    assert_one_line_error(&out, &["finished", "budget", "--budget"]);
    // ... and a larger budget continues it
    let out = t.lgso(&["resume", "killed", "--budget", "22000", "-q"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(json(&t.path().join("killed/summary.json"))["calls"], 22000);
}

#[test]
fn resume_and_export_reject_what_is_not_a_run() {
    let t = TestDir::new("not-a-run");
    fs::create_dir_all(t.path().join("empty")).unwrap();
    t.write("file.txt", "hello");
    let out = t.lgso(&["resume", "empty"]);
    assert_one_line_error(&out, &["empty", "not an lgso run directory", "run.sqlite"]);
    let out = t.lgso(&["resume", "missing"]);
    assert_one_line_error(&out, &["missing", "not an lgso run directory"]);
    let out = t.lgso(&["export", "file.txt"]);
    assert_one_line_error(&out, &["file.txt", "not an lgso run directory"]);
    // a file named run.sqlite that is not a database
    fs::write(
        t.path().join("empty/run.sqlite"),
        "not sqlite at all, just text",
    )
    .unwrap();
    let out = t.lgso(&["resume", "empty"]);
    assert_one_line_error(&out, &["empty", "not an lgso run"]);
}
