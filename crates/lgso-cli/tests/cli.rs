//! End-to-end tests of the `lgso` binary, each in a fresh temporary
//! directory (issue "L-GSO core", item 5): bad inputs give one `error:`
//! line naming the culprit and the expected form, with exit code 2 and no
//! panic; a tiny run leaves a complete run directory.

mod common;

use std::fs;
use std::path::Path;

use common::{assert_one_line_error, TestDir, FAST};

/// Runs `lgso run --config <text> args...` and checks the one-line error.
fn config_error(name: &str, config: &str, args: &[&str], needles: &[&str]) {
    let dir = TestDir::new(name);
    dir.write("c.toml", config);
    let mut all = vec!["run", "--config", "c.toml"];
    all.extend(args);
    assert_one_line_error(&dir.lgso(&all), needles);
}

#[test]
fn unknown_problem_on_the_command_line() {
    let dir = TestDir::new("unknown-positional");
    let out = dir.lgso(&["run", "no-such-problem"]);
    assert_one_line_error(
        &out,
        &[
            "`no-such-problem`",
            "expected one of",
            "three-hump",
            "rosenbrock",
        ],
    );
}

#[test]
fn unknown_problem_in_the_config() {
    config_error(
        "unknown-config",
        "problem = \"no-such-problem\"\n",
        &[],
        &["`no-such-problem`", "expected one of", "three-hump"],
    );
}

#[test]
fn unknown_config_key() {
    config_error(
        "unknown-key",
        "[lgso]\nfoo = 1\n",
        &[],
        &[
            "c.toml",
            "line 2",
            "`foo`",
            "lgso.foo",
            "expected one of",
            "n_points",
        ],
    );
}

#[test]
fn config_value_of_the_wrong_type() {
    config_error(
        "wrong-type",
        "[lgso]\neps = \"wide\"\n",
        &[],
        &["c.toml", "lgso.eps", "expected f64"],
    );
}

#[test]
fn start_point_of_the_wrong_dimension() {
    config_error(
        "start-dim",
        "start = [1.0]\n",
        &[],
        &["start", "three-hump", "dimension 1", "expected 2"],
    );
}

#[test]
fn nan_in_the_start_point() {
    config_error(
        "start-nan",
        "start = [nan, 0.0]\n",
        &[],
        &["start", "index 0", "NaN", "finite number"],
    );
}

#[test]
fn eps_must_be_positive() {
    for (name, eps) in [("eps-zero", "0"), ("eps-negative", "-1")] {
        config_error(
            name,
            &format!("[lgso]\neps = {eps}\n"),
            &[],
            &["lgso.eps", "> 0", &format!("found {eps}")],
        );
    }
}

#[test]
fn budget_smaller_than_one_iteration() {
    let dir = TestDir::new("budget");
    let out = dir.lgso(&["run", "--budget", "5"]);
    // the default problem's (N + 1) * M calls per iteration
    let per_iteration = lgso::config::Config::default()
        .resolve()
        .unwrap()
        .calls_per_iteration()
        .to_string();
    assert_one_line_error(
        &out,
        &[
            "budget of 5",
            "one iteration",
            &per_iteration,
            "(N + 1) * M",
        ],
    );
}

#[test]
fn unparsable_budget() {
    let dir = TestDir::new("budget-parse");
    let out = dir.lgso(&["run", "--budget", "lots"]);
    assert_one_line_error(
        &out,
        &["--budget", "'lots'", "whole number of simulator calls"],
    );
}

#[test]
fn three_hump_at_the_origin() {
    let dir = TestDir::new("origin");
    dir.write("c.toml", "start = [0.0, 0.0]\n");
    let out = dir.lgso(&["run", "--config", "c.toml", "--out", "r"]);
    // refused as a setting before any run starts: no run directory, no
    // hint to resume
    assert_one_line_error(&out, &["`start`", "psi = (0, 0)", "non-zero"]);
    assert!(!String::from_utf8_lossy(&out.stderr).contains("resume"));
    assert!(!dir.path().join("r").exists());
}

#[test]
fn missing_config_file() {
    let dir = TestDir::new("missing");
    let out = dir.lgso(&["run", "--config", "absent.toml"]);
    assert_one_line_error(&out, &["cannot read config file", "absent.toml"]);
}

#[test]
fn out_directory_that_holds_a_run() {
    let dir = TestDir::new("taken");
    dir.write("c.toml", FAST);
    fs::create_dir(dir.path().join("r")).unwrap();
    dir.write("r/trace.csv", "precious\n");
    let out = dir.lgso(&[
        "run", "--config", "c.toml", "--budget", "2000", "--out", "r",
    ]);
    assert_one_line_error(&out, &["r", "already holds a run", "--out"]);
    assert_eq!(
        fs::read_to_string(dir.path().join("r/trace.csv")).unwrap(),
        "precious\n"
    );
}

#[test]
fn bench_with_an_unknown_problem() {
    let dir = TestDir::new("bench-unknown");
    let out = dir.lgso(&["bench", "--problems", "rosenbrock,nope"]);
    assert_one_line_error(&out, &["`nope`", "--problems", "three-hump", "boston-nn"]);
}

#[test]
fn problems_lists_every_problem() {
    let dir = TestDir::new("problems");
    let out = dir.lgso(&["problems"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(lgso::problem::NAMES.len(), 6);
    for name in lgso::problem::NAMES {
        assert!(
            stdout.lines().any(|l| l.starts_with(&format!("{name} "))),
            "{name} missing from:\n{stdout}"
        );
    }
}

/// Parses a CSV file written by lgso into its header and rows.
fn read_csv(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut lines = text.lines();
    let header = lines
        .next()
        .unwrap_or_default()
        .split(',')
        .map(String::from)
        .collect();
    let rows = lines
        .map(|l| l.split(',').map(String::from).collect())
        .collect();
    (header, rows)
}

#[test]
fn tiny_three_hump_run() {
    let dir = TestDir::new("tiny-run");
    dir.write("fast.toml", FAST);
    let budget = 2000u64;
    let out = dir.lgso(&[
        "run",
        "three-hump",
        "--config",
        "fast.toml",
        "--budget",
        "2000",
        "--out",
        "r",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("three-hump") && stdout.contains("budget"),
        "{stdout}"
    );
    let r = dir.path().join("r");

    // config.toml: the resolved config, readable again
    let cfg =
        lgso::config::Config::from_toml_str(&fs::read_to_string(r.join("config.toml")).unwrap())
            .unwrap();
    assert_eq!(cfg.problem, "three-hump");
    assert_eq!(cfg.stop.budget, Some(budget));
    assert_eq!(cfg.lgso.n_points, Some(4));
    // (N + 1) * M with M = 200 from fast.toml
    assert_eq!(cfg.clone().resolve().unwrap().calls_per_iteration(), 1000);
    assert_eq!(cfg.start, Some(vec![2.0, 0.0]));

    // trace.csv: header + start row + at least one iteration
    let (header, rows) = read_csv(&r.join("trace.csv"));
    assert_eq!(header[..3], ["iteration", "calls", "objective"]);
    assert!(header.contains(&"seconds_fit".to_string()));
    assert!(rows.len() >= 2, "{rows:?}");
    let calls: Vec<u64> = rows.iter().map(|row| row[1].parse().unwrap()).collect();
    assert_eq!(calls[0], 0);
    assert!(calls.windows(2).all(|w| w[0] <= w[1]), "{calls:?}");
    assert!(calls.iter().all(|&c| c <= budget), "{calls:?}");
    for row in &rows {
        assert_eq!(row.len(), header.len());
        let objective: f64 = row[2].parse().unwrap();
        assert!(objective.is_finite());
    }

    // psi.csv: one row per trace row, n = 2
    let (header, psi_rows) = read_csv(&r.join("psi.csv"));
    assert_eq!(header, ["iteration", "calls", "psi_1", "psi_2"]);
    assert_eq!(psi_rows.len(), rows.len());
    assert_eq!(psi_rows[0][2..], ["2", "0"]);

    // summary.json
    let summary: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(r.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["stop_reason"], "budget", "{summary}");
    let used = summary["calls"].as_u64().unwrap();
    assert!(
        used <= budget && used == *calls.last().unwrap(),
        "{summary}"
    );
    assert_eq!(summary["iterations"].as_u64(), Some(rows.len() as u64 - 1));
    assert!(summary["run_dir"].as_str().unwrap().ends_with('r'));

    // objective.png
    let png = fs::read(r.join("objective.png")).unwrap();
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");

    // nothing half-written is left behind
    let names: Vec<String> = fs::read_dir(&r)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| !n.contains("tmp")), "{names:?}");
}

#[test]
fn tiny_bench() {
    let dir = TestDir::new("tiny-bench");
    dir.write("fast.toml", FAST);
    let out = dir.lgso(&[
        "bench",
        "--problems",
        "three-hump",
        "--config",
        "fast.toml",
        "--budget",
        "2000",
        "--out",
        "b",
        "--quiet",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let md = fs::read_to_string(dir.path().join("b/bench.md")).unwrap();
    // without --methods and --seeds: one L-GSO run, seed 0
    let row = md
        .lines()
        .find(|l| l.starts_with("| three-hump | lgso | configured | "))
        .unwrap_or_else(|| panic!("no three-hump row in:\n{md}"));
    assert!(stdout.contains(row), "{stdout}");
    assert!(row.ends_with("| 0 |"), "failed runs: {row}");
    assert!(stdout.contains("written to b/bench.md"), "{stdout}");
    assert!(dir
        .path()
        .join("b/three-hump/lgso-s0/summary.json")
        .exists());
    let rows = read_results(&dir.path().join("b/results.csv"));
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["method"], "lgso");
    assert_eq!(rows[0]["setting"], "", "no sweep: the configured setting");
    assert_eq!(rows[0]["judged_on"], "exact", "three hump has a quadrature");
    assert_eq!(rows[0]["seed"], "0");
    assert_eq!(rows[0]["status"], "ok");
    assert_eq!(rows[0]["calls"], "2000");
    // the table of runs keeps the timings
    assert!(
        md.lines()
            .any(|l| l.starts_with("| three-hump | lgso | configured | 0 | 2,000 |")),
        "{md}"
    );
}

/// Reads a bench's results.csv: one map from column to value per row.
fn read_results(path: &Path) -> Vec<std::collections::HashMap<String, String>> {
    let mut reader =
        csv::Reader::from_path(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(
        header,
        [
            "problem",
            "method",
            "setting",
            "seed",
            "status",
            "stop_reason",
            "calls",
            "iterations",
            "objective_start",
            "objective_final",
            "objective_final_stderr",
            "objective_final_exact",
            "target",
            "judged_on",
            "calls_to_first_reach",
            "calls_to_stay_below",
            "calls_to_target",
            "seconds_total",
            "error",
        ]
    );
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            header
                .iter()
                .cloned()
                .zip(r.iter().map(String::from))
                .collect()
        })
        .collect()
}

/// The bench.md row of (problem, method).
fn bench_row(md: &str, problem: &str, method: &str) -> String {
    md.lines()
        .find(|l| l.starts_with(&format!("| {problem} | {method} |")))
        .unwrap_or_else(|| panic!("no {problem} {method} row in:\n{md}"))
        .to_string()
}

#[test]
fn bench_compares_methods_over_seeds() {
    let dir = TestDir::new("bench-compare");
    // numdiff on rosenbrock: 2 n M = 60,000 calls per step, so two steps;
    // oracle: (N + 1) M = 48,000 per step, also two.
    let out = dir.lgso(&[
        "bench",
        "--problems",
        "rosenbrock",
        "--methods",
        "numdiff,oracle,numdiff",
        "--seeds",
        "2",
        "--budget",
        "120k",
        "--jobs",
        "2",
        "--out",
        "b",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    // one line per finished run with --jobs 2
    assert_eq!(
        stderr
            .lines()
            .filter(|l| l.starts_with("done rosenbrock "))
            .count(),
        4,
        "{stderr}"
    );
    let b = dir.path().join("b");

    let rows = read_results(&b.join("results.csv"));
    let got: Vec<(&str, &str, &str)> = rows
        .iter()
        .map(|r| {
            (
                r["method"].as_str(),
                r["seed"].as_str(),
                r["calls"].as_str(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("numdiff", "0", "120000"),
            ("numdiff", "1", "120000"),
            ("oracle", "0", "96000"),
            ("oracle", "1", "96000"),
        ]
    );
    for r in &rows {
        assert_eq!(r["problem"], "rosenbrock", "{r:?}");
        assert_eq!(r["status"], "ok", "{r:?}");
        assert_eq!(r["stop_reason"], "budget", "{r:?}");
        assert_eq!(r["iterations"], "2", "{r:?}");
        assert_eq!(r["target"], "1", "{r:?}");
        assert_eq!(r["setting"], "", "{r:?}");
        assert_eq!(r["judged_on"], "exact", "{r:?}");
        assert_eq!(r["error"], "", "{r:?}");
        let start: f64 = r["objective_start"].parse().unwrap();
        let end: f64 = r["objective_final"].parse().unwrap();
        assert!(end < start, "{r:?}");
        assert!(r["objective_final_exact"].parse::<f64>().is_ok(), "{r:?}");
        assert!(r["seconds_total"].parse::<f64>().unwrap() >= 0.0, "{r:?}");
    }
    // the two seeds start from differently drawn estimates
    assert_ne!(rows[0]["objective_start"], rows[1]["objective_start"]);

    let md = fs::read_to_string(b.join("bench.md")).unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    for method in ["numdiff", "oracle"] {
        let row = bench_row(&md, "rosenbrock", method);
        let reached = rows
            .iter()
            .filter(|r| r["method"] == method && !r["calls_to_first_reach"].is_empty())
            .count();
        assert!(
            row.starts_with(&format!(
                "| rosenbrock | {method} | configured | {reached}/2 |"
            )),
            "{row}"
        );
        assert!(row.ends_with("| 0 |"), "{row}");
        assert!(stdout.contains(&row), "{stdout}");
    }
    assert!(stdout.contains("written to b/bench.md"), "{stdout}");

    let png = fs::read(b.join("rosenbrock.png")).unwrap();
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    for run in ["numdiff-s0", "numdiff-s1", "oracle-s0", "oracle-s1"] {
        let run = b.join("rosenbrock").join(run);
        let (_, trace) = read_csv(&run.join("trace.csv"));
        assert_eq!(trace.len(), 3, "{}", run.display());
        // the run's config: its seed, and a share of the cores for the GAN
        let cfg = lgso::config::Config::from_toml_str(
            &fs::read_to_string(run.join("config.toml")).unwrap(),
        )
        .unwrap();
        assert!(cfg.gan.threads >= 1, "{}", run.display());
    }
    let names: Vec<String> = fs::read_dir(&b)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| !n.contains("tmp")), "{names:?}");

    // the same --out again is refused before anything runs
    let again = dir.lgso(&[
        "bench",
        "--problems",
        "rosenbrock",
        "--methods",
        "oracle",
        "--budget",
        "120k",
        "--out",
        "b",
    ]);
    assert_one_line_error(&again, &["bench.md", "already exists", "--out"]);
}

#[test]
fn bench_rejects_bad_input_before_running() {
    let cases: &[(&str, &[&str], &[&str])] = &[
        (
            "method",
            &["--methods", "lgso,foo"],
            &["`foo`", "--methods", "numdiff", "oracle"],
        ),
        (
            "seeds",
            &["--seeds", "0"],
            &["--seeds 0", "from 1 to 10000"],
        ),
        ("jobs", &["--jobs", "0"], &["--jobs 0", ">= 1"]),
        (
            "oracle",
            &["--methods", "oracle", "--problems", "boston-nn"],
            &["bench problem boston-nn, method oracle", "exact objective"],
        ),
        (
            "budget",
            &[
                "--methods",
                "numdiff",
                "--budget",
                "1000",
                "--problems",
                "rosenbrock",
            ],
            &[
                "bench problem rosenbrock, method numdiff",
                "budget of 1000",
                "one iteration",
                "60000",
            ],
        ),
        (
            "single-method",
            &["--method", "numdiff"],
            &["--methods", "--method"],
        ),
        ("empty", &["--methods", ","], &["--methods", "empty"]),
    ];
    for (name, args, needles) in cases {
        let dir = TestDir::new(&format!("bench-bad-{name}"));
        let mut all = vec!["bench", "--out", "b"];
        all.extend_from_slice(args);
        assert_one_line_error(&dir.lgso(&all), needles);
        assert!(
            !dir.path().join("b").exists(),
            "{name}: the bench left {}",
            dir.path().join("b").display()
        );
    }
}

#[test]
fn bench_records_a_failed_run_and_goes_on() {
    let dir = TestDir::new("bench-diverge");
    // numdiff's first Adam step of ~1e308 takes psi to infinity
    dir.write("c.toml", "[numdiff]\nlr = 1e308\n");
    let out = dir.lgso(&[
        "bench",
        "--config",
        "c.toml",
        "--problems",
        "rosenbrock",
        "--methods",
        "numdiff,oracle",
        "--budget",
        "120k",
        "--out",
        "b",
        "--quiet",
    ]);
    assert_one_line_error(
        &out,
        &[
            "1 of 2 bench runs failed",
            "problem rosenbrock, method numdiff, seed 0",
            "diverged",
        ],
    );
    let b = dir.path().join("b");
    let rows = read_results(&b.join("results.csv"));
    assert_eq!(rows.len(), 2, "{rows:?}");
    let (numdiff, oracle) = (&rows[0], &rows[1]);
    assert_eq!(numdiff["method"], "numdiff");
    assert_eq!(numdiff["status"], "failed", "{numdiff:?}");
    assert_eq!(numdiff["stop_reason"], "failed", "{numdiff:?}");
    assert!(numdiff["error"].contains("diverged"), "{numdiff:?}");
    assert_eq!(numdiff["iterations"], "0", "{numdiff:?}");
    assert_eq!(oracle["method"], "oracle");
    assert_eq!(oracle["status"], "ok", "{oracle:?}");
    assert_eq!(oracle["calls"], "96000", "{oracle:?}");
    assert_eq!(oracle["error"], "", "{oracle:?}");

    let md = fs::read_to_string(b.join("bench.md")).unwrap();
    let row = bench_row(&md, "rosenbrock", "numdiff");
    assert!(row.ends_with("| 1 |"), "{row}");
    assert!(row.contains("| — |"), "{row}");
    let row = bench_row(&md, "rosenbrock", "oracle");
    assert!(row.ends_with("| 0 |"), "{row}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains(&row), "{stdout}");
    let png = fs::read(b.join("rosenbrock.png")).unwrap();
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    assert!(b.join("rosenbrock/numdiff-s0/summary.json").exists());
}

#[test]
fn tiny_bench_fit() {
    let dir = TestDir::new("bench-fit");
    let out = dir.lgso(&["bench-fit", "--samples", "600", "--epochs", "1"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    for key in [
        "problem",
        "samples",
        "minibatches",
        "seconds",
        "ms/minibatch",
        "projected",
    ] {
        assert!(
            stdout.lines().any(|l| l.starts_with(key)),
            "{key} missing:\n{stdout}"
        );
    }
    let out = dir.lgso(&["bench-fit", "--epochs", "0"]);
    assert_one_line_error(&out, &["--epochs", ">= 1"]);
}

#[test]
fn run_a_baseline_with_method() {
    // numdiff on Rosenbrock-10: 2 n M = 2 * 10 * 3000 = 60,000 calls per
    // step, so a 120k budget pays for 2 steps.
    let dir = TestDir::new("method");
    let out = dir.lgso(&[
        "run",
        "rosenbrock",
        "--method",
        "numdiff",
        "--budget",
        "120k",
        "--out",
        "r",
        "--quiet",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("numdiff"), "{stdout}");
    let config = fs::read_to_string(dir.path().join("r/config.toml")).unwrap();
    assert!(config.contains("method = \"numdiff\""), "{config}");
    let (_, rows) = read_csv(&dir.path().join("r/trace.csv"));
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[2][1], "120000");
    // the exact E[R] falls from 45 (closed form at the start)
    let exact: f64 = rows[2][4].parse().unwrap();
    assert!(exact < 45.0, "{exact}");
}

#[test]
fn bad_methods_name_the_culprit() {
    let dir = TestDir::new("bad-method");
    let out = dir.lgso(&["run", "--method", "newton"]);
    assert_one_line_error(&out, &["method", "newton", "numdiff", "oracle"]);
    // Boston has no exact objective, so no oracle
    let out = dir.lgso(&["run", "boston-nn", "--method", "oracle"]);
    assert_one_line_error(&out, &["oracle", "boston-nn"]);
    config_error(
        "bad-ges",
        "method = \"ges\"\n[ges]\nalpha = 1.5\n",
        &[],
        &["ges.alpha", "[0, 1]", "1.5"],
    );
    config_error(
        "ges-budget",
        "method = \"ges\"\n",
        &["rosenbrock", "--budget", "1000"],
        &["budget of 1000", "2 P M = 2 * 10 * 3000"],
    );
}

#[test]
fn bench_without_a_budget_gives_every_run_of_a_problem_the_same_default() {
    // L-GSO auto alone: lgso run's default budget for the problem; beside a
    // baseline at its default samples: the paper-scale budget, for both
    let dir = TestDir::new("bench-budget");
    let budget_of = |out: &str, run: &str| -> String {
        let text = fs::read_to_string(dir.path().join(out).join(run).join("config.toml"))
            .unwrap_or_else(|e| panic!("{out}/{run}: {e}"));
        let cfg = lgso::config::Config::from_toml_str(&text).unwrap();
        cfg.stop.budget.unwrap().to_string()
    };
    for (out, methods) in [("a", "lgso"), ("b", "lgso,cmaes")] {
        let o = dir.lgso(&[
            "bench",
            "--problems",
            "rosenbrock",
            "--methods",
            methods,
            "--max-iterations",
            "1",
            "--out",
            out,
            "--quiet",
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let auto = lgso::config::default_budget("rosenbrock", true).to_string();
    assert_eq!(budget_of("a", "rosenbrock/lgso-s0"), auto);
    assert_eq!(budget_of("b", "rosenbrock/lgso-s0"), "700000");
    assert_eq!(budget_of("b", "rosenbrock/cmaes-s0"), "700000");
}
