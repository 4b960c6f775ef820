//! Helpers shared by the `lgso` binary's test files.
#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

/// A fresh directory under the system temp dir, removed on drop.
pub struct TestDir(PathBuf);

impl TestDir {
    pub fn new(name: &str) -> TestDir {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let dir = std::env::temp_dir().join(format!(
            "lgso-cli-test-{}-{n}-{nanos}-{name}",
            std::process::id()
        ));
        fs::create_dir_all(&dir).expect("create test dir");
        TestDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.0.join(name);
        fs::write(&p, text).expect("write test file");
        p
    }

    /// Runs `lgso args...` in this directory.
    pub fn lgso(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_lgso"))
            .args(args)
            .current_dir(&self.0)
            .output()
            .expect("run lgso")
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// A config that makes a three-hump run take well under a second per
/// iteration: 5 points x 200 samples = 1000 calls per iteration.
pub const FAST: &str = "[lgso]
preset = \"paper\"
samples_per_point = 200
gradient_samples = 500

[gan]
epochs = 1

[monitor]
samples = 2000
";

/// Asserts exit code 2, no panic, and exactly one stderr line starting with
/// `error:` that contains every one of `needles`.
pub fn assert_one_line_error(out: &Output, needles: &[&str]) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "panic: {stderr}");
    assert_eq!(out.status.code(), Some(2), "exit code; stderr: {stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "expected one stderr line, got: {stderr}");
    assert!(
        lines[0].starts_with("error: "),
        "not an error line: {stderr}"
    );
    for n in needles {
        assert!(lines[0].contains(n), "{n:?} missing from: {stderr}");
    }
}

/// Starts `lgso args...` in `dir`, waits until `trace` (a run's
/// trace.csv) has `rows` lines, sleeps `extra`, and kills the process with
/// SIGKILL (panics if the run makes no progress within two minutes).
pub fn kill_run_after(
    dir: &Path,
    args: &[&str],
    trace: &Path,
    rows: usize,
    extra: std::time::Duration,
) {
    use std::time::{Duration, Instant};
    let mut child = Command::new(env!("CARGO_BIN_EXE_lgso"))
        .args(args)
        .current_dir(dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start lgso");
    let lines = |p: &Path| fs::read_to_string(p).map_or(0, |s| s.lines().count());
    let t0 = Instant::now();
    while lines(trace) < rows {
        assert!(
            t0.elapsed() < Duration::from_secs(120),
            "run did not progress"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(extra);
    child.kill().expect("SIGKILL");
    let _ = child.wait();
}
