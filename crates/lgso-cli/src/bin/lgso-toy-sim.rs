//! `lgso-toy-sim`: a compiled example simulator speaking lgso simulator
//! protocol v1 (docs/protocol.md), with failure injection for tests.
//!
//! Models:
//! - `--model quadratic --dim N` (default, N = 2): `x ~ U(0, 1)` (d = 1),
//!   `y = sum_j (psi_j - 1)^2 + 0.1 N(0, 1)` (m = 1), so with `R(y) = y`,
//!   `E[R] = ||psi - 1||^2` ([`lgso::problem::Quadratic`]).
//! - `--model three-hump`: the probabilistic three-hump problem of the
//!   paper, section 4.1 ([`lgso::problem::ThreeHump`]); psi = (0, 0) is
//!   answered with a per-request error.
//!
//! Both draw exactly what lgso's in-process simulators draw from the
//! request's seed, so an external run and an in-process run give the same
//! samples.
//!
//! Failure injection (`--fail MODE`, on the K-th batch with
//! `--fail-after K`, default 1; with `--fail-once PATH` only when PATH does
//! not exist yet, which it then creates): `exit` (exit code 3), `crash`
//! (abort, SIGABRT), `malformed` (a line that is not JSON), `wrong-count`
//! (one sample short), `wrong-dims` (an extra x entry), `nan` (sample 0's y
//! is NaN, sample 1's y is Infinity, sample 2's x is -Infinity),
//! `hang` (sleeps forever), `error` (a per-request `error`),
//! `bad-handshake` (the first line is not a handshake). Each prints a line
//! on stderr first. `--delay-ms MS` sleeps before each answer;
//! `--psi-dim-handshake N` announces psi_dim N (a lie, for tests).

use std::fmt::Write as _;
use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use lgso::evaluate::external::{Handshake, PROTOCOL};
use lgso::problem::{draw, Quadratic, Simulator, ThreeHump};

/// A toy simulator speaking lgso simulator protocol v1 on stdin/stdout.
#[derive(Debug, Parser)]
#[command(name = "lgso-toy-sim", version)]
struct Args {
    /// The model to simulate.
    #[arg(long, value_enum, default_value = "quadratic")]
    model: Model,
    /// Dimension of psi for the quadratic model.
    #[arg(long, default_value_t = 2)]
    dim: usize,
    /// Fail on purpose, in this way.
    #[arg(long, value_enum, value_name = "MODE")]
    fail: Option<Fail>,
    /// Fail on the K-th batch (1-based).
    #[arg(long, value_name = "K", default_value_t = 1)]
    fail_after: u64,
    /// Fail only if PATH does not exist yet, and create it (a transient
    /// failure that a retry survives).
    #[arg(long, value_name = "PATH")]
    fail_once: Option<PathBuf>,
    /// Sleep this many milliseconds before each answer.
    #[arg(long, value_name = "MS", default_value_t = 0)]
    delay_ms: u64,
    /// Announce this psi dimension in the handshake (a lie, for tests).
    #[arg(long, value_name = "N")]
    psi_dim_handshake: Option<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, ValueEnum)]
enum Model {
    Quadratic,
    ThreeHump,
}

#[derive(Debug, Clone, Copy, PartialEq, ValueEnum)]
enum Fail {
    Exit,
    Crash,
    Malformed,
    WrongCount,
    WrongDims,
    Nan,
    Hang,
    Error,
    BadHandshake,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match serve(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lgso-toy-sim: error: {e}");
            ExitCode::from(2)
        }
    }
}

/// Writes `v` as a JSON number, non-finite values as the tokens Python's
/// json.dumps writes (`NaN`, `Infinity`, `-Infinity`).
fn number(out: &mut String, v: f64) {
    if v.is_nan() {
        out.push_str("NaN");
    } else if v.is_infinite() {
        out.push_str(if v > 0.0 { "Infinity" } else { "-Infinity" });
    } else {
        // Debug formatting is the shortest string that reads back exactly.
        let _ = write!(out, "{v:?}");
    }
}

fn rows(out: &mut String, data: &[f64], cols: usize, extra: bool) {
    out.push('[');
    for (i, row) in data.chunks(cols.max(1)).enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push('[');
        for (j, &v) in row.iter().enumerate() {
            if j > 0 {
                out.push(',');
            }
            number(out, v);
        }
        if extra {
            out.push_str(if row.is_empty() { "0.0" } else { ",0.0" });
        }
        out.push(']');
    }
    out.push(']');
}

fn serve(args: &Args) -> Result<(), String> {
    let sim: Box<dyn Simulator> = match args.model {
        Model::Quadratic => {
            if args.dim == 0 {
                return Err("--dim must be >= 1".into());
            }
            Box::new(Quadratic { dim: args.dim })
        }
        Model::ThreeHump => Box::new(ThreeHump),
    };
    let dims = sim.dims();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut say = |line: &str| -> Result<(), String> {
        out.write_all(line.as_bytes())
            .and_then(|()| out.write_all(b"\n"))
            .and_then(|()| out.flush())
            .map_err(|e| format!("cannot write to stdout: {e}"))
    };
    if args.fail == Some(Fail::BadHandshake) {
        eprintln!("lgso-toy-sim: failing on purpose: bad handshake");
        say("hello from lgso-toy-sim (this is not a handshake)")?;
    } else {
        let handshake = Handshake {
            protocol: PROTOCOL.to_string(),
            psi_dim: args.psi_dim_handshake.unwrap_or(dims.psi),
            x_dim: dims.x,
            y_dim: dims.y,
            name: Some(format!("lgso-toy-sim {}", sim.name())),
            psi_names: None,
            bounds: None,
        };
        say(&serde_json::to_string(&handshake).map_err(|e| e.to_string())?)?;
    }
    let stdin = std::io::stdin();
    let mut batch_no = 0u64;
    for line in stdin.lock().lines() {
        let line = line.map_err(|e| format!("cannot read stdin: {e}"))?;
        if line.trim().is_empty() {
            continue;
        }
        batch_no += 1;
        let msg: serde_json::Value =
            serde_json::from_str(&line).map_err(|e| format!("batch line is not JSON: {e}"))?;
        let batch = msg["batch"]
            .as_u64()
            .ok_or("batch message without an integer `batch`")?;
        let requests = msg["requests"]
            .as_array()
            .ok_or("batch message without a `requests` array")?;
        if args.delay_ms > 0 {
            std::thread::sleep(Duration::from_millis(args.delay_ms));
        }
        let mut fail = args.fail.filter(|_| batch_no == args.fail_after);
        if let (Some(_), Some(path)) = (fail, &args.fail_once) {
            if path.exists() {
                fail = None;
            } else {
                std::fs::write(path, "failed once\n")
                    .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
            }
        }
        if let Some(mode) = fail {
            eprintln!(
                "lgso-toy-sim: failing on purpose ({mode:?}) on batch {batch} (message {batch_no})"
            );
            match mode {
                Fail::Exit => std::process::exit(3),
                Fail::Crash => std::process::abort(),
                Fail::Malformed => {
                    say("this is not JSON {")?;
                    continue;
                }
                Fail::Hang => loop {
                    std::thread::sleep(Duration::from_secs(3600));
                },
                _ => {}
            }
        }
        let mut answer = format!("{{\"batch\":{batch},\"results\":[");
        for (k, r) in requests.iter().enumerate() {
            if k > 0 {
                answer.push(',');
            }
            let id = r["request"]
                .as_u64()
                .ok_or("request without an integer `request`")?;
            let psi: Vec<f64> = r["psi"]
                .as_array()
                .ok_or("request without a `psi` array")?
                .iter()
                .map(|v| v.as_f64().ok_or("psi entry that is not a number"))
                .collect::<Result<_, _>>()?;
            let samples = r["samples"]
                .as_u64()
                .ok_or("request without integer `samples`")? as usize;
            let seed = r["seed"].as_u64().ok_or("request without integer `seed`")?;
            if fail == Some(Fail::Error) {
                let _ = write!(
                    answer,
                    "{{\"request\":{id},\"error\":\"refused on purpose (--fail error)\"}}"
                );
                continue;
            }
            match draw(sim.as_ref(), &psi, samples, seed) {
                Err(e) => {
                    let msg = serde_json::to_string(&e.to_string()).map_err(|e| e.to_string())?;
                    let _ = write!(answer, "{{\"request\":{id},\"error\":{msg}}}");
                }
                Ok(s) => {
                    let mut x = s.x.into_vec();
                    let mut y = s.y.into_vec();
                    match fail {
                        Some(Fail::WrongCount) => {
                            x.truncate(x.len().saturating_sub(dims.x));
                            y.truncate(y.len().saturating_sub(dims.y));
                        }
                        Some(Fail::Nan) if samples >= 3 && dims.x >= 1 => {
                            y[0] = f64::NAN;
                            y[dims.y] = f64::INFINITY;
                            x[2 * dims.x] = f64::NEG_INFINITY;
                        }
                        _ => {}
                    }
                    let _ = write!(answer, "{{\"request\":{id},\"x\":");
                    rows(&mut answer, &x, dims.x, fail == Some(Fail::WrongDims));
                    answer.push_str(",\"y\":");
                    rows(&mut answer, &y, dims.y, false);
                    answer.push('}');
                }
            }
        }
        answer.push_str("]}");
        say(&answer)?;
    }
    Ok(())
}
