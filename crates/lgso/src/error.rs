//! The library's error type.
//!
//! Every variant names the culprit (a setting, a problem, a request) and the
//! form that was expected, so that the command-line front end can print one
//! clear line. Nothing in the library panics on user input.

use thiserror::Error;

/// Errors returned by the `lgso` library.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// A configuration value is invalid: `key` names the setting, `expected`
    /// the accepted form, `found` what was given.
    #[error("invalid setting `{key}`: expected {expected}, found {found}")]
    Config {
        /// The configuration key, e.g. `lgso.eps`.
        key: String,
        /// The accepted form, e.g. `a number > 0`.
        expected: String,
        /// What was given.
        found: String,
    },
    /// The configuration file could not be parsed (syntax error, unknown key,
    /// wrong type). The message comes from the TOML parser and names the key.
    #[error("config: {0}")]
    ConfigParse(String),
    /// A problem name that is not one of the built-in problems.
    #[error("unknown problem `{name}`: expected one of {known}")]
    UnknownProblem {
        /// The name that was asked for.
        name: String,
        /// The known names, comma separated.
        known: String,
    },
    /// A vector (psi, a start point, a row of x) has the wrong length.
    #[error("{what} has dimension {found}, expected {expected}")]
    Dimension {
        /// What the vector is, e.g. `start point of problem rosenbrock`.
        what: String,
        /// The expected dimension.
        expected: usize,
        /// The dimension found.
        found: usize,
    },
    /// A vector holds NaN or an infinity.
    #[error("{what} holds a non-finite value at index {index} ({value}); every entry must be a finite number")]
    NonFinite {
        /// What the vector is.
        what: String,
        /// The first bad index.
        index: usize,
        /// The bad value.
        value: f64,
    },
    /// The simulator cannot be evaluated at the requested parameters.
    #[error("simulator `{problem}` cannot run at psi = {psi:?}: {reason}")]
    Simulator {
        /// The problem or simulator name.
        problem: String,
        /// The parameters of the failing request.
        psi: Vec<f64>,
        /// Why it failed.
        reason: String,
    },
    /// The call budget cannot pay for even one iteration.
    #[error("budget of {budget} simulator calls is smaller than one iteration ({per_iteration} calls: {detail})")]
    BudgetTooSmall {
        /// The budget in simulator calls.
        budget: u64,
        /// Calls one iteration needs.
        per_iteration: u64,
        /// How the per-iteration cost is made up.
        detail: String,
    },
    /// A data file shipped with the crate could not be parsed.
    #[error("data file `{file}`{}: {reason}", line_label(*line))]
    Data {
        /// The file name.
        file: String,
        /// 1-based line number; 0 when the file as a whole is at fault.
        line: usize,
        /// What was wrong.
        reason: String,
    },
    /// A binary data file (a NumPy `.npy` muon file), or one of its rows,
    /// is not valid.
    #[error("data file `{file}`{}: {reason}", row_label(*row))]
    DataRow {
        /// The file name.
        file: String,
        /// 1-based row number (row 1 is the array's first row); 0 when the
        /// file as a whole is at fault.
        row: usize,
        /// What was wrong.
        reason: String,
    },
    /// The optimizer was used out of order (tell without ask, or after it
    /// finished).
    #[error("optimizer protocol: {0}")]
    Protocol(String),
    /// An optimizer's step produced a non-finite psi; psi is kept at its
    /// previous value.
    #[error("method `{method}` diverged: {detail}; psi is kept at the previous value")]
    Diverged {
        /// The optimizer's name.
        method: String,
        /// What went non-finite.
        detail: String,
    },
    /// The surrogate could not be trained (e.g. empty or non-finite data).
    #[error("surrogate: {0}")]
    Surrogate(String),
    /// An error from the tensor library.
    #[error("tensor library: {0}")]
    Tensor(#[from] candle_core::Error),
    /// An external simulator could not be started or broke the protocol
    /// at start (docs/protocol.md): program not found or not executable,
    /// exit before its handshake, a handshake that is not protocol v1,
    /// workers that disagree.
    #[error("simulator `{command}`: {reason}{}", stderr_suffix(.stderr_tail))]
    External {
        /// The simulator's command line, as given.
        command: String,
        /// What went wrong and the expected form.
        reason: String,
        /// The last lines the simulator wrote to stderr (may be empty).
        stderr_tail: String,
    },
    /// An I/O error, with the path it concerns.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The run database cannot be read or written.
    #[error("run database {path}: {reason}")]
    Store {
        /// The database file.
        path: String,
        /// What went wrong.
        reason: String,
    },
    /// A directory given as a run directory does not hold an lgso run.
    #[error("{dir} is not an lgso run directory: {reason}")]
    NotARun {
        /// The directory.
        dir: String,
        /// Why not.
        reason: String,
    },
    /// Simulator requests failed beyond what the run tolerates
    /// (`simulator.max_failure_rate`, or a method that needs every
    /// requested point answered). Everything computed so far is saved.
    #[error("{reason}; last failure: {last}")]
    SimulatorFailures {
        /// Which rule stopped the run.
        reason: String,
        /// The last failure's message (request, psi, what was wrong,
        /// stderr tail).
        last: String,
    },
}

/// Result alias used throughout the library.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Shorthand for [`Error::Config`].
    pub fn config(
        key: impl Into<String>,
        expected: impl Into<String>,
        found: impl ToString,
    ) -> Self {
        Error::Config {
            key: key.into(),
            expected: expected.into(),
            found: found.to_string(),
        }
    }
}

/// `; its stderr ended with: a | b` for a non-empty stderr tail (lines
/// joined with ` | ` so that the message stays one line), else nothing.
fn stderr_suffix(tail: &str) -> String {
    let lines: Vec<&str> = tail
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.is_empty())
        .collect();
    if lines.is_empty() {
        String::new()
    } else {
        format!("; its stderr ended with: {}", lines.join(" | "))
    }
}

/// Checks that `v` has length `expected` and holds only finite numbers.
///
/// # Errors
/// [`Error::Dimension`] or [`Error::NonFinite`], naming `what`.
pub fn check_vector(what: &str, v: &[f64], expected: usize) -> Result<()> {
    if v.len() != expected {
        return Err(Error::Dimension {
            what: what.to_string(),
            expected,
            found: v.len(),
        });
    }
    if let Some((index, &value)) = v.iter().enumerate().find(|(_, x)| !x.is_finite()) {
        return Err(Error::NonFinite {
            what: what.to_string(),
            index,
            value,
        });
    }
    Ok(())
}

/// `", row N"` for a row of a data file, nothing for row 0 (the whole file).
fn row_label(row: usize) -> String {
    if row == 0 {
        String::new()
    } else {
        format!(", row {row} (numpy index {})", row - 1)
    }
}

/// `", line N"` for a line of a text data file, nothing for line 0 (the
/// whole file).
fn line_label(line: usize) -> String {
    if line == 0 {
        String::new()
    } else {
        format!(", line {line}")
    }
}
