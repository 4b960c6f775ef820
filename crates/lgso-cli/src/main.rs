//! `lgso`: the command-line front end of the `lgso` library (L-GSO,
//! black-box optimization of stochastic simulators with local generative
//! surrogates).
//!
//! A thin binary: `args` parses the command line (the arguments of every
//! subcommand), `run`, `resume`, `problems`, `bench`, `bench_protocol`,
//! `diagnose` and `shield` glue it to the library, `run_dir`, `progress`
//! and `plot` are the observers that record and show a run, `bench::plot`
//! draws a benchmark's comparison plots; `plot` and `bench::plot` say what
//! their charts show and `chart` draws them. Every error ends up here and
//! is printed as one line, `error: ...` with its causes, with exit code 2.

#![warn(missing_docs)]

use std::io::Write;
use std::process::ExitCode;

use clap::error::ErrorKind;
use clap::Parser;

mod args;
mod bench;
mod bench_protocol;
mod chart;
mod diagnose;
mod external;
mod plot;
mod problems;
mod progress;
mod resume;
mod run;
mod run_dir;
mod shield;
mod text;

use args::{Cli, Command};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc's `mi_option_e` (the 16th entry in
/// both the v2 and v3 headers of libmimalloc-sys 0.1.49, which names no
/// constant for it).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

fn main() -> ExitCode {
    lgso::threads::single_threaded_tensor_ops();
    // Never return freed memory to the OS: the page faults of re-touching
    // it cost a GAN training step ~26 ms -> ~33 ms.
    // SAFETY: called before any other thread exists (mi_option_set is not
    // thread safe); the option and value are valid for mimalloc.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) };
    match run() {
        Ok(code) => code,
        Err(err) => {
            if is_broken_pipe(&err) {
                return ExitCode::SUCCESS;
            }
            let line = format!("{err:#}").replace('\n', " ");
            let _ = writeln!(std::io::stderr(), "error: {line}");
            ExitCode::from(2)
        }
    }
}

fn run() -> anyhow::Result<ExitCode> {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return clap_error(e),
    };
    match &cli.command {
        Command::Run(a) => run::run(a),
        Command::Problems => problems::problems(),
        Command::Bench(a) => bench::bench(a),
        Command::BenchFit(a) => bench::bench_fit(a),
        Command::Resume(a) => resume::resume(a),
        Command::Export(a) => resume::export(a),
        Command::BenchProtocol(a) => bench_protocol::bench_protocol(a),
        Command::Shield(a) => shield::shield(a),
        Command::Diagnose(a) => diagnose::diagnose(a),
    }
}

/// Help and version go to stdout as clap prints them; a usage error
/// becomes one `error:` line (clap's first line, which names the culprit).
fn clap_error(e: clap::Error) -> anyhow::Result<ExitCode> {
    match e.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            e.print()?;
            Ok(ExitCode::from(if e.use_stderr() { 2 } else { 0 }))
        }
        _ => {
            let rendered = e.to_string();
            let first = rendered
                .lines()
                .next()
                .unwrap_or("invalid command line")
                .trim_start_matches("error: ");
            let hint = rendered
                .lines()
                .find_map(|l| l.trim().strip_prefix("[possible values: "))
                .map(|v| format!(" (expected one of: {})", v.trim_end_matches(']')))
                .unwrap_or_default();
            anyhow::bail!("{first}{hint}; see `lgso --help`")
        }
    }
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
