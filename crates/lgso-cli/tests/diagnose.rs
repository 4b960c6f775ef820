//! CLI tests of `lgso diagnose` and `lgso bench-fit --surrogate`: a small
//! diagnosis writes its report and plots; bad options are one `error:` line
//! with exit code 2.

mod common;

use std::fs;
use std::process::Output;

use common::TestDir;

/// A cheap three-hump setting: 5 points x 200 samples per fit.
const SMALL: &str =
    "[lgso]\npreset = \"paper\"\nsamples_per_point = 200\ngradient_samples = 2000\n[mdn]\nepochs = 5\nthreads = 1\n";

fn one_error_line(out: &Output) -> String {
    assert_eq!(out.status.code(), Some(2), "exit code");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(err.starts_with("error: "), "{err}");
    err
}

#[test]
fn diagnose_writes_the_report_and_plots() {
    let dir = TestDir::new("ok");
    fs::write(dir.path().join("small.toml"), SMALL).unwrap();
    let out = dir.lgso(&[
        "diagnose",
        "three-hump",
        "--surrogate",
        "mdn",
        "--at",
        "1,-0.5",
        "--fits",
        "2",
        "-c",
        "small.toml",
        "--out",
        "d",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for needle in [
        "surrogate  mdn",
        "psi        (1, -0.5)",
        "exact gradient",
        "median cosine",
        "psi_2",
    ] {
        assert!(stdout.contains(needle), "missing {needle:?} in\n{stdout}");
    }
    for f in ["diagnose.json", "gradient.png", "y.png"] {
        assert!(dir.path().join("d").join(f).is_file(), "{f} missing");
    }
    let json: serde_json::Value =
        serde_json::from_slice(&fs::read(dir.path().join("d/diagnose.json")).unwrap()).unwrap();
    assert_eq!(json["fits"].as_array().unwrap().len(), 2);
    assert_eq!(json["bias"].as_array().unwrap().len(), 2);
    assert_eq!(json["psi"], serde_json::json!([1.0, -0.5]));
    // the same directory is not overwritten
    let again = dir.lgso(&[
        "diagnose",
        "three-hump",
        "--surrogate",
        "mdn",
        "--fits",
        "2",
        "-c",
        "small.toml",
        "--out",
        "d",
    ]);
    assert!(one_error_line(&again).contains("already holds a diagnosis"));
}

#[test]
fn diagnose_rejects_bad_options() {
    let dir = TestDir::new("bad");
    fs::write(dir.path().join("small.toml"), SMALL).unwrap();
    let cases: [(&[&str], &str); 6] = [
        (&["--fd-step", "0"], "--fd-step 0"),
        (&["--fits", "1"], "--fits 1"),
        (&["--surrogate", "vae"], "expected one of gan, ffjord, mdn"),
        (&["--at", "1,2,3"], "has 2 coordinates, found 3"),
        (&["--at", "1,x"], "`x` is not a finite number"),
        (&["--at", "1,nan"], "expected `start` or psi"),
    ];
    for (extra, needle) in cases {
        let mut args = vec!["diagnose", "three-hump", "-c", "small.toml", "--out", "d"];
        args.extend_from_slice(extra);
        let err = one_error_line(&dir.lgso(&args));
        assert!(err.contains(needle), "{extra:?}: {err}");
    }
    let err = one_error_line(&dir.lgso(&["diagnose", "nope"]));
    assert!(err.contains("unknown problem `nope`"), "{err}");
}

#[test]
fn bench_fit_times_each_surrogate() {
    let dir = TestDir::new("fit");
    for s in ["mdn", "ffjord"] {
        let out = dir.lgso(&[
            "bench-fit",
            "--surrogate",
            s,
            "--samples",
            "600",
            "--epochs",
            "1",
        ]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{s}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.contains(&format!("surrogate     {s}")), "{stdout}");
        assert!(stdout.contains("one Adam update"), "{stdout}");
    }
    let err = one_error_line(&dir.lgso(&["bench-fit", "--surrogate", "vae"]));
    assert!(err.contains("--surrogate"), "{err}");
}
