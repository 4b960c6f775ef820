//! End-to-end tests of `lgso bench --sweep`: bad sweeps are one error
//! naming the key and the value, before anything runs; a small sweep of
//! L-GSO and CMA-ES on three hump writes results.csv with the settings and
//! the metrics, and bench.md names each method's best setting, all checked
//! against values worked out here from the runs' own trace.csv files.

mod common;

use std::collections::HashMap;
use std::fs;
use std::path::Path;

use common::{assert_one_line_error, TestDir};

/// Three hump's target (the paper's `E[R] = -0.80`).
const TARGET: f64 = -0.80;

/// L-GSO with an MDN surrogate and tiny settings, from a start point near
/// the optimum so that some runs reach the target.
const CONFIG: &str = "start = [0.4, 1.0]

[lgso]
preset = \"paper\"
surrogate = \"mdn\"
gradient_samples = 200

[mdn]
epochs = 1

[monitor]
samples = 1000
";

/// A CSV file as its header and one map from column to value per row.
fn read_csv(path: &Path) -> (Vec<String>, Vec<HashMap<String, String>>) {
    let mut reader =
        csv::Reader::from_path(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    let rows = reader
        .records()
        .map(|r| {
            header
                .iter()
                .cloned()
                .zip(r.unwrap().iter().map(String::from))
                .collect()
        })
        .collect();
    (header, rows)
}

fn median(v: &[f64]) -> Option<f64> {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(v[n / 2]),
        _ => Some((v[n / 2 - 1] + v[n / 2]) / 2.0),
    }
}

/// `1234567` -> `1,234,567`.
fn with_commas(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The cells of the Markdown table under `heading` in `md`.
fn table_under(md: &str, heading: &str) -> Vec<Vec<String>> {
    let start = md
        .find(heading)
        .unwrap_or_else(|| panic!("no {heading} in:\n{md}"));
    md[start..]
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .skip(2) // header and rule
        .map(|l| {
            l.trim_matches('|')
                .split(" | ")
                .map(|c| c.trim().to_string())
                .collect()
        })
        .collect()
}

#[test]
fn bench_sweep_rejects_bad_values_before_running() {
    let cases: &[(&str, &[&str], &[&str])] = &[
        (
            "zero",
            &["--sweep", "lgso.samples_per_point=3,0"],
            &[
                "--sweep lgso.samples_per_point=0",
                "expected an integer >= 1",
            ],
        ),
        (
            "string",
            &["--sweep", "lgso.samples_per_point=3,abc"],
            &["--sweep lgso.samples_per_point=abc", "expected usize"],
        ),
        (
            "unknown-key",
            &["--sweep", "lgso.nope=1"],
            &["--sweep lgso.nope=1", "unknown field `nope`"],
        ),
        (
            "unknown-table",
            &["--sweep", "nope.x=1"],
            &["--sweep nope.x=1", "unknown field `nope`"],
        ),
        (
            "no-equals",
            &["--sweep", "nokey"],
            &["--sweep nokey", "no `=`"],
        ),
        (
            "no-values",
            &["--sweep", "lgso.samples_per_point="],
            &["lgso.samples_per_point", "no values"],
        ),
        (
            "empty-value",
            &["--sweep", "lgso.samples_per_point=3,,10"],
            &["lgso.samples_per_point", "empty value"],
        ),
        (
            // the bracketed value parses; the bare 64 is not a list
            "brackets",
            &["--sweep", "gan.generator_hidden=[64,64],64"],
            &["--sweep gan.generator_hidden=64", "expected a sequence"],
        ),
        (
            "string-value",
            &["--sweep", "lgso.surrogate=mdn,vae"],
            &["--sweep lgso.surrogate=vae", "gan, ffjord, mdn"],
        ),
        (
            "method-not-run",
            &["--sweep", "cmaes.samples=3"],
            &["--sweep cmaes.samples", "--methods"],
        ),
        (
            "twice",
            &["--sweep", "lgso.eps=0.1", "--sweep", "lgso.eps=0.2"],
            &["lgso.eps", "twice"],
        ),
        ("seed", &["--sweep", "seed=1,2"], &["seed", "--seeds"]),
    ];
    for (name, args, needles) in cases {
        let dir = TestDir::new(&format!("sweep-bad-{name}"));
        let mut all = vec!["bench", "--problems", "three-hump", "--out", "b"];
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
fn bench_sweep_reports_each_method_at_its_best_setting() {
    let dir = TestDir::new("sweep");
    dir.write("c.toml", CONFIG);
    // lgso: 5 points x M calls per iteration; cmaes: population 6 x samples
    let out = dir.lgso(&[
        "bench",
        "--problems",
        "three-hump",
        "--methods",
        "lgso,cmaes",
        "--seeds",
        "2",
        "--budget",
        "300",
        "--sweep",
        "lgso.samples_per_point=3,10",
        "--sweep",
        "cmaes.samples=3,10",
        "--config",
        "c.toml",
        "--jobs",
        "2",
        "--out",
        "b",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let b = dir.path().join("b");

    // results.csv: a row per (method, setting, seed), a column per swept key
    let (header, rows) = read_csv(&b.join("results.csv"));
    assert_eq!(
        header[..5],
        [
            "problem",
            "method",
            "setting",
            "lgso.samples_per_point",
            "cmaes.samples"
        ]
    );
    for column in [
        "seed",
        "judged_on",
        "calls_to_first_reach",
        "calls_to_stay_below",
    ] {
        assert!(header.iter().any(|h| h == column), "{header:?}");
    }
    let got: Vec<[&str; 5]> = rows
        .iter()
        .map(|r| {
            [
                r["method"].as_str(),
                r["setting"].as_str(),
                r["lgso.samples_per_point"].as_str(),
                r["cmaes.samples"].as_str(),
                r["seed"].as_str(),
            ]
        })
        .collect();
    assert_eq!(
        got,
        [
            ["lgso", "samples_per_point=3", "3", "", "0"],
            ["lgso", "samples_per_point=3", "3", "", "1"],
            ["lgso", "samples_per_point=10", "10", "", "0"],
            ["lgso", "samples_per_point=10", "10", "", "1"],
            ["cmaes", "samples=3", "", "3", "0"],
            ["cmaes", "samples=3", "", "3", "1"],
            ["cmaes", "samples=10", "", "10", "0"],
            ["cmaes", "samples=10", "", "10", "1"],
        ]
    );
    // each run: its calls per iteration from its setting, and the metrics
    // worked out from its own trace.csv on the exact E[R]
    for r in &rows {
        assert_eq!(r["status"], "ok", "{r:?}");
        assert_eq!(
            r["stop_reason"], "budget",
            "no target stop in a sweep: {r:?}"
        );
        assert_eq!(r["judged_on"], "exact", "{r:?}");
        let per_iteration: u64 = if r["method"] == "lgso" {
            5 * r["lgso.samples_per_point"].parse::<u64>().unwrap()
        } else {
            6 * r["cmaes.samples"].parse::<u64>().unwrap()
        };
        let calls: u64 = r["calls"].parse().unwrap();
        assert_eq!(calls, 300 / per_iteration * per_iteration, "{r:?}");
        let run = b
            .join("three-hump")
            .join(format!("{}-{}-s{}", r["method"], r["setting"], r["seed"]));
        let (_, trace) = read_csv(&run.join("trace.csv"));
        let points: Vec<(u64, bool)> = trace
            .iter()
            .map(|t| {
                let exact: f64 = t["objective_exact"].parse().unwrap();
                (t["calls"].parse().unwrap(), exact <= TARGET)
            })
            .collect();
        assert_eq!(points.len() as u64, 1 + calls / per_iteration, "{r:?}");
        let first = points.iter().find(|p| p.1).map(|p| p.0);
        let mut stay = None;
        for p in points.iter().rev() {
            if !p.1 {
                break;
            }
            stay = Some(p.0);
        }
        let cell = |x: Option<u64>| x.map(|c| c.to_string()).unwrap_or_default();
        assert_eq!(r["calls_to_first_reach"], cell(first), "{}", run.display());
        assert_eq!(r["calls_to_stay_below"], cell(stay), "{}", run.display());
    }

    // the best setting per method, chosen here from results.csv
    let md = fs::read_to_string(b.join("bench.md")).unwrap();
    assert!(md.contains("do not stop at a target"), "{md}");
    let best = table_under(&md, "## Each method at its best setting");
    let every = table_under(&md, "## Every setting");
    assert_eq!(best.len(), 2, "{md}");
    assert_eq!(every.len(), 4, "{md}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    for (method, settings) in [
        ("lgso", ["samples_per_point=3", "samples_per_point=10"]),
        ("cmaes", ["samples=3", "samples=10"]),
    ] {
        // (setting, seeds reached, median calls to first reach, median final)
        let summaries: Vec<(&str, usize, Option<f64>, Option<f64>)> = settings
            .iter()
            .map(|&s| {
                let runs: Vec<&HashMap<String, String>> = rows
                    .iter()
                    .filter(|r| r["method"] == method && r["setting"] == s)
                    .collect();
                let first: Vec<f64> = runs
                    .iter()
                    .filter_map(|r| r["calls_to_first_reach"].parse().ok())
                    .collect();
                let finals: Vec<f64> = runs
                    .iter()
                    .map(|r| r["objective_final_exact"].parse().unwrap())
                    .collect();
                (s, first.len(), median(&first), median(&finals))
            })
            .collect();
        let better = |a: &(&str, usize, Option<f64>, Option<f64>),
                      b: &(&str, usize, Option<f64>, Option<f64>)| {
            if a.1 != b.1 {
                return a.1 > b.1;
            }
            let (x, y) = (a.2.unwrap_or(f64::INFINITY), b.2.unwrap_or(f64::INFINITY));
            if x != y {
                return x < y;
            }
            a.3.unwrap() < b.3.unwrap()
        };
        let want = if better(&summaries[1], &summaries[0]) {
            &summaries[1]
        } else {
            &summaries[0]
        };
        let row = best
            .iter()
            .find(|r| r[1] == method)
            .unwrap_or_else(|| panic!("no {method} row in:\n{md}"));
        assert_eq!(row[0], "three-hump");
        assert_eq!(row[2], want.0, "{method}: {summaries:?}\n{md}");
        assert_eq!(row[3], format!("{}/2", want.1), "{row:?}");
        match want.2 {
            Some(m) => assert!(
                row[4].starts_with(&with_commas(m.round() as u64)),
                "{row:?}"
            ),
            None => assert_eq!(row[4], "—", "{row:?}"),
        }
        let shown: f64 = row[6].parse().unwrap();
        let m = want.3.unwrap();
        assert!((shown - m).abs() <= 5e-4 * m.abs(), "{row:?}: median {m}");
        assert_eq!(row[7], "exact");
        assert_eq!(row[9], "0");
        // the same row among every setting, and printed
        assert!(every.contains(row), "{row:?}");
        assert!(
            stdout.contains(&format!("| {} |", row.join(" | "))),
            "{stdout}"
        );
        // every setting's seeds reached
        for s in &summaries {
            let r = every
                .iter()
                .find(|r| r[1] == method && r[2] == s.0)
                .unwrap_or_else(|| panic!("no {method} {} row in:\n{md}", s.0));
            assert_eq!(r[3], format!("{}/2", s.1), "{r:?}");
        }
    }
    let png = fs::read(b.join("three-hump.png")).unwrap();
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
}
