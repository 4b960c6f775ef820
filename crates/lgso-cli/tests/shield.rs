//! End-to-end tests of `lgso shield` (issue #6): `simulate` prints the
//! fractions per status, hits, objective, mass and length; `draw` writes a
//! PNG; bad psi files, muon files and options give one `error:` line naming
//! the culprit, exit code 2, no panic.

use std::fs;
use std::path::PathBuf;
use std::process::{Command, Output};

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("lgso-shield-test-{}-{name}", std::process::id()));
    let _ = fs::remove_dir_all(&d);
    fs::create_dir_all(&d).expect("create test dir");
    d
}

fn lgso(dir: &PathBuf, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lgso"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run lgso")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// `simulate`'s output without its (timing-dependent) wall-time line and
/// the line naming the psi's source.
fn without_wall_time(out: &str) -> String {
    out.lines()
        .filter(|l| !l.contains("wall time") && !l.starts_with("  psi: "))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Asserts exit code 2 and exactly one `error:` line containing every
/// string of `needles`.
fn assert_error(o: &Output, needles: &[&str]) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "stderr: {err}");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "stderr: {err}");
    assert!(lines[0].starts_with("error: "), "{err}");
    for n in needles {
        assert!(lines[0].contains(n), "`{n}` not in: {err}");
    }
    assert!(!err.contains("panicked"));
}

#[test]
fn simulate_reports_statuses_objective_mass_and_length() {
    let d = dir("simulate");
    let o = lgso(
        &d,
        &["shield", "simulate", "--muons", "2000", "--step", "20"],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = stdout(&o);
    for needle in [
        "2000 muons",
        "reached",
        "stopped",
        "left_tunnel",
        "backward",
        "objective L_hits",
        "mass:   1276197 kg",
        "length: 3544.0 cm",
        "wall time",
    ] {
        assert!(out.contains(needle), "`{needle}` not in:\n{out}");
    }
    // the four fractions add up to 1
    let total: f64 = out
        .lines()
        .filter(|l| {
            ["reached", "stopped", "left_tunnel", "backward"]
                .iter()
                .any(|s| l.trim_start().starts_with(s))
        })
        .map(|l| l.split_whitespace().nth(1).unwrap().parse::<f64>().unwrap())
        .sum();
    assert_eq!(total, 2000.0);
    // a psi file in the spec's notation (with `|`) gives the same numbers
    fs::write(
        d.join("psi.txt"),
        "208 207 281 248 305 242 | 72 51 29 46 10 7 | 54 38 46 192 14 9 | 10 31 35 31 51 11 |\n\
         3 32 54 24 8 8 | 22 32 209 35 8 13 | 33 77 85 241 9 26\n",
    )
    .unwrap();
    let o2 = lgso(
        &d,
        &[
            "shield", "simulate", "--muons", "2000", "--step", "20", "--psi", "psi.txt",
        ],
    );
    assert_eq!(without_wall_time(&stdout(&o2)), without_wall_time(&out));
    // the SHiP lines: the objective ship_fcn (N = 50 000) is SHiP's formula
    // (1 + exp(10 (W - W*) / W*)) (1 + N w) on the printed weight per muon
    let value = |label: &str| -> f64 {
        let line = out.lines().find(|l| l.contains(label)).expect(label);
        line.rsplit(' ').next().unwrap().parse().expect(label)
    };
    let w = value("SHiP weight per muon");
    let fcn = value("objective ship_fcn");
    let penalty = 1.0 + (10.0 * (1_276_197.0 - 1_915_820.0) / 1_915_820.0f64).exp();
    let expected = penalty * (1.0 + 50_000.0 * w);
    assert!(
        (fcn - expected).abs() < 1e-4 * expected,
        "{fcn} vs {expected}"
    );
}

#[test]
fn step_geo_option() {
    // `--step-geo`: slabs with the section of their middle, a little less
    // iron than the taper (midpoint rule on a convex area), and a drawing
    let d = dir("step-geo");
    let mass = |o: &Output| -> f64 {
        let out = stdout(o);
        let line = out
            .lines()
            .find(|l| l.contains("mass:"))
            .expect("mass line");
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    };
    let tapered = lgso(&d, &["shield", "simulate", "--muons", "500"]);
    let stepped = lgso(&d, &["shield", "simulate", "--muons", "500", "--step-geo"]);
    assert!(
        stepped.status.success(),
        "{}",
        String::from_utf8_lossy(&stepped.stderr)
    );
    let (wt, ws) = (mass(&tapered), mass(&stepped));
    assert!(ws < wt && ws > 0.999 * wt, "{ws} vs {wt}");
    let o = lgso(
        &d,
        &[
            "shield",
            "draw",
            "--step-geo",
            "--out",
            "s.png",
            "--tracks",
            "3",
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(fs::metadata(d.join("s.png")).unwrap().len() > 10_000);
}

#[test]
fn run_with_the_ship_objective() {
    // `[muon_shield] objective = "ship_fcn"`: an L-GSO run on SHiP's
    // mass-penalised FCN goes through (its gradient includes the mass term)
    let d = dir("ship-run");
    fs::write(
        d.join("ship.toml"),
        "problem = \"muon-shield\"\n[lgso]\npreset = \"paper\"\nn_points = 4\nsamples_per_point = 300\n\
         [gan]\nepochs = 1\n[monitor]\nsamples = 3000\n[stop]\nmax_iterations = 1\n\
         [muon_shield]\nobjective = \"ship_fcn\"\nhits_pool = 100000\nship_muons = 20\n",
    )
    .unwrap();
    let o = lgso(&d, &["run", "--config", "ship.toml", "--out", "run"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let trace = fs::read_to_string(d.join("run/trace.csv")).unwrap();
    let rows: Vec<Vec<f64>> = trace
        .lines()
        .skip(1)
        .map(|l| l.split(',').take(3).map(|v| v.parse().unwrap()).collect())
        .collect();
    assert_eq!(rows.len(), 2, "{trace}");
    // FCN >= its mass factor 1 + exp(...) > 1
    for r in &rows {
        assert!(r[2].is_finite() && r[2] > 1.0, "{trace}");
    }
    let config = fs::read_to_string(d.join("run/config.toml")).unwrap();
    assert!(config.contains("objective = \"ship_fcn\""), "{config}");
    // the hits pool is announced and described on stderr
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("building the hits pool") && err.contains("input muons: hits pool of"),
        "{err}"
    );
    // `shield simulate --psi RUN/psi.csv` takes the run's latest psi: the
    // same output as a psi file holding the last row's 42 values
    let csv = fs::read_to_string(d.join("run/psi.csv")).unwrap();
    let last: Vec<&str> = csv.lines().last().unwrap().split(',').skip(2).collect();
    assert_eq!(last.len(), 42);
    fs::write(d.join("last.txt"), last.join(" ")).unwrap();
    let from_run = lgso(
        &d,
        &[
            "shield",
            "simulate",
            "--muons",
            "300",
            "--psi",
            "run/psi.csv",
        ],
    );
    let from_file = lgso(
        &d,
        &["shield", "simulate", "--muons", "300", "--psi", "last.txt"],
    );
    assert!(
        from_run.status.success(),
        "{}",
        String::from_utf8_lossy(&from_run.stderr)
    );
    assert_eq!(
        without_wall_time(&stdout(&from_run)),
        without_wall_time(&stdout(&from_file))
    );
    // a typo in the objective name is one error line naming the key
    fs::write(
        d.join("bad.toml"),
        "problem = \"muon-shield\"\n[muon_shield]\nobjective = \"ship\"\n",
    )
    .unwrap();
    let o = lgso(&d, &["run", "--config", "bad.toml", "--out", "bad"]);
    assert_error(&o, &["muon_shield.objective", "ship_fcn", "\"ship\""]);
    // with a hits pool too: still one line (the pool is announced only
    // once the configuration has been checked)
    fs::write(
        d.join("bad2.toml"),
        "problem = \"muon-shield\"\n[muon_shield]\nhits_pool = 50000\nobjective = \"ship\"\n",
    )
    .unwrap();
    let o = lgso(&d, &["run", "--config", "bad2.toml", "--out", "bad2"]);
    assert_error(&o, &["muon_shield.objective"]);
}

#[test]
fn draw_writes_a_png() {
    let d = dir("draw");
    let o = lgso(
        &d,
        &["shield", "draw", "--out", "layout.png", "--tracks", "4"],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let bytes = fs::read(d.join("layout.png")).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
}

#[test]
fn bad_inputs_give_one_error_line() {
    let d = dir("bad");
    let mut psi: Vec<String> = [
        208, 207, 281, 248, 305, 242, 72, 51, 29, 46, 10, 7, 54, 38, 46, 192, 14, 9, 10, 31, 35,
        31, 51, 11, 3, 32, 54, 24, 8, 8, 22, 32, 209, 35, 8, 13, 33, 77, 85, 241, 9, 26,
    ]
    .iter()
    .map(|v| v.to_string())
    .collect();
    psi[18] = "500".into(); // dXIn_3
    fs::write(d.join("out_of_bounds.txt"), psi.join(" ")).unwrap();
    let simulate_psi =
        |file: &str| lgso(&d, &["shield", "simulate", "--muons", "10", "--psi", file]);
    let o = simulate_psi("out_of_bounds.txt");
    assert_error(&o, &["dXIn_3", "[3, 100]"]);
    psi[18] = "10".into();
    psi[41] = "0".into();
    fs::write(d.join("zero_gap.txt"), psi.join(" ")).unwrap();
    let o = simulate_psi("zero_gap.txt");
    assert_error(&o, &["gapOut_6", "not physical"]);
    fs::write(d.join("short.txt"), "1 2 3").unwrap();
    let o = lgso(&d, &["shield", "simulate", "--psi", "short.txt"]);
    assert_error(&o, &["short.txt", "found 3 numbers, expected 42"]);
    fs::write(
        d.join("muons.csv"),
        "0,0,50,0,0,-100,13\n0,0,50,0,0,-100,22\n",
    )
    .unwrap();
    let o = lgso(&d, &["shield", "simulate", "--spectrum", "muons.csv"]);
    assert_error(&o, &["muons.csv", "line 2", "unknown PDG code 22"]);
    fs::write(d.join("cols.csv"), "0,0,50,0,0\n").unwrap();
    let o = lgso(&d, &["shield", "simulate", "--spectrum", "cols.csv"]);
    assert_error(&o, &["line 1", "found 5 columns"]);
    let o = lgso(&d, &["shield", "simulate", "--step", "0"]);
    assert_error(&o, &["--step"]);
    let o = lgso(&d, &["shield", "simulate", "--spectrum", "missing.csv"]);
    assert_error(&o, &["missing.csv"]);
}

#[test]
fn muon_file_input_runs() {
    let d = dir("file");
    fs::write(
        d.join("muons.csv"),
        "px,py,pz,x0,y0,z0,pdg,weight\n0,0,1,0,0,-100,13,1\n0.5,0,300,0,0,-100,-13,1\n",
    )
    .unwrap();
    let o = lgso(
        &d,
        &[
            "shield",
            "simulate",
            "--spectrum",
            "muons.csv",
            "--muons",
            "4",
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = stdout(&o);
    assert!(out.contains("file (2 muons)"), "{out}");
    // two of the four rows are the 1 GeV/c muon, which ranges out
    let stopped = out
        .lines()
        .find(|l| l.trim_start().starts_with("stopped"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap();
    assert!(stopped >= 2, "{out}");
}
