//! Evaluation: turning a batch of simulator [`Request`]s ("draw `count`
//! samples at `psi_i`") into samples.
//!
//! An [`Evaluator`] answers every request of a batch with a
//! [`RequestResult`]: the good samples (`k <= count` rows: `psi [k, n]`,
//! `x [k, d]`, `y [k, m]`), the rejected ones (a non-finite x or y; kept
//! for the record, never trained on) and, when something went wrong, a
//! [`Failure`] saying what ([`FailureKind`]: the simulator could not be
//! started, exited, crashed, printed garbage, answered with the wrong
//! count or dims, returned non-finite samples, timed out, or reported an
//! error). A failing request is not an error of the evaluation and does
//! not abort the batch: the driver decides, from the failure rate of the
//! run, whether to go on. [`Evaluator::evaluate`] itself fails only when
//! the caller's `on_result` does or a request cannot be sent at all (the
//! worker pool: a psi that does not fit the simulator's handshake).
//!
//! ## The seam
//! Every way of running the simulator implements the same [`Evaluator`]:
//! - [`InProcess`]: a built-in [`Simulator`](crate::problem::Simulator)
//!   drawn in threads of this process;
//! - [`external::WorkerPool`]: user simulators speaking protocol v1
//!   (docs/protocol.md) in a pool of worker processes on this machine;
//! - later (issue "Slurm executor"), a cluster scheduler running the same
//!   simulators as jobs.
//!
//! The optimizer and the driver never know which one ran their requests:
//! they hand a batch to an `&mut dyn Evaluator` and get one
//! [`RequestResult`] per request back, in the order of the requests.

mod in_process;

pub mod external;

pub use in_process::InProcess;

use serde::{Deserialize, Serialize};

use crate::data::{Matrix, Request, Samples};
use crate::error::Result;

/// The kind of a failed request, for counting and for the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// The simulator process could not be started.
    Spawn,
    /// The simulator process exited (with a status) while the request was
    /// outstanding.
    Exit,
    /// The simulator process was killed by a signal (a crash).
    Crash,
    /// The simulator printed a line that is not a valid protocol message.
    Malformed,
    /// The answer holds a different number of samples than requested.
    WrongCount,
    /// The answer's x or y rows have the wrong dimension.
    WrongDims,
    /// Some samples hold NaN or an infinity (those samples are rejected,
    /// the finite ones are kept).
    NonFinite,
    /// No answer within the per-request timeout (the worker is killed).
    Timeout,
    /// The simulator itself reported an error for the request.
    Simulator,
}

impl FailureKind {
    /// The kind's name as stored in the database, e.g. `non_finite`.
    pub fn name(&self) -> &'static str {
        match self {
            FailureKind::Spawn => "spawn",
            FailureKind::Exit => "exit",
            FailureKind::Crash => "crash",
            FailureKind::Malformed => "malformed",
            FailureKind::WrongCount => "wrong_count",
            FailureKind::WrongDims => "wrong_dims",
            FailureKind::NonFinite => "non_finite",
            FailureKind::Timeout => "timeout",
            FailureKind::Simulator => "simulator",
        }
    }
}

/// What went wrong with one request (after any retries).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Failure {
    /// The kind of failure.
    pub kind: FailureKind,
    /// One line saying what was wrong, e.g. `answer has 999 samples,
    /// expected 1000`.
    pub message: String,
    /// The last lines the simulator wrote to stderr (empty for in-process
    /// simulators).
    pub stderr_tail: String,
}

impl Failure {
    /// A failure of `request`: the message starts with the request's id and
    /// psi, `request 7 at psi = [0.5, 2.0]: ` followed by `detail`, so that
    /// every evaluator's messages name the request the same way.
    pub fn of(request: &Request, kind: FailureKind, detail: &str, stderr_tail: String) -> Self {
        Failure {
            kind,
            message: format!(
                "request {} at psi = {:?}: {detail}",
                request.id, request.psi
            ),
            stderr_tail,
        }
    }
}

/// The answer to one [`Request`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestResult {
    /// The request this answers.
    pub request: Request,
    /// The good samples: finite, of the right shape; `k <= request.count`
    /// rows (`k = count` when nothing failed). Only these are trained on.
    pub samples: Samples,
    /// Samples the simulator returned but that were rejected (a non-finite
    /// x or y): stored, flagged, never trained on.
    pub rejected: Samples,
    /// Why the request is not a full, clean answer; `None` when it is.
    pub failure: Option<Failure>,
    /// How many times the request was sent (1 without retries).
    pub attempts: u32,
    /// Wall-clock seconds from first dispatch to the answer.
    pub seconds: f64,
}

impl RequestResult {
    /// Splits a returned `(x, y)` batch into good and rejected samples: a
    /// row is rejected when any entry of its x or y is not finite. Returns
    /// the result with a [`FailureKind::NonFinite`] failure naming the first
    /// bad sample when some row was rejected.
    pub fn from_rows(request: &Request, x: Matrix, y: Matrix, attempts: u32, seconds: f64) -> Self {
        let k = y.rows();
        let bad: Vec<usize> = (0..k)
            .filter(|&i| {
                x.row(i).iter().any(|v| !v.is_finite()) || y.row(i).iter().any(|v| !v.is_finite())
            })
            .collect();
        let all = Samples {
            psi: Matrix::repeat_row(&request.psi, k),
            x,
            y,
        };
        if bad.is_empty() {
            return RequestResult {
                request: request.clone(),
                rejected: Samples::empty(all.psi.cols(), all.x.cols(), all.y.cols()),
                samples: all,
                failure: None,
                attempts,
                seconds,
            };
        }
        let good: Vec<usize> = (0..k).filter(|i| !bad.contains(i)).collect();
        let first = bad[0];
        let detail = format!(
            "{} of {} samples hold NaN or infinity (first: sample {first}, x = {:?}, y = {:?}); they are kept flagged and not trained on",
            bad.len(),
            k,
            all.x.row(first),
            all.y.row(first)
        );
        RequestResult {
            request: request.clone(),
            samples: all.select(&good),
            rejected: all.select(&bad),
            failure: Some(Failure::of(
                request,
                FailureKind::NonFinite,
                &detail,
                String::new(),
            )),
            attempts,
            seconds,
        }
    }

    /// A request that produced no samples at all.
    pub fn failed(
        request: &Request,
        dims: (usize, usize, usize),
        failure: Failure,
        attempts: u32,
        seconds: f64,
    ) -> Self {
        let (n, d, m) = dims;
        RequestResult {
            request: request.clone(),
            samples: Samples::empty(n, d, m),
            rejected: Samples::empty(n, d, m),
            failure: Some(failure),
            attempts,
            seconds,
        }
    }

    /// Simulator calls this request cost: every sample returned, good or
    /// rejected.
    pub fn calls(&self) -> u64 {
        (self.samples.len() + self.rejected.len()) as u64
    }
}

/// Evaluates batches of simulator requests.
pub trait Evaluator: Send {
    /// A short description for messages and the run database, e.g.
    /// `in-process three-hump` or `2 workers: python3 sim.py`.
    fn describe(&self) -> String;

    /// Whether a request's answer is a pure function of the request (a
    /// built-in simulator in-process): then draws that are not trained on
    /// (the monitor's) need not be stored.
    fn reproducible(&self) -> bool {
        false
    }

    /// Evaluates `requests` (possibly concurrently) and returns one result
    /// per request, in the order of `requests`. `on_result` is called once
    /// per request as soon as its result is complete (in completion order),
    /// so that the caller can commit it before the rest of the batch
    /// arrives; an error from `on_result` stops the evaluation and is
    /// returned.
    ///
    /// A failing request is *not* an error: it comes back as a
    /// [`RequestResult`] with a [`Failure`].
    ///
    /// # Errors
    /// Errors of `on_result`; a request that cannot be sent at all (the
    /// worker pool: [`Error::Dimension`](crate::Error::Dimension) or
    /// [`Error::NonFinite`](crate::Error::NonFinite) for a psi that does not
    /// fit the handshake's `psi_dim`, before anything is sent). Workers that
    /// cannot be started are not an error: their requests fail with
    /// [`FailureKind::Spawn`].
    fn evaluate(
        &mut self,
        requests: &[Request],
        on_result: &mut dyn FnMut(&RequestResult) -> Result<()>,
    ) -> Result<Vec<RequestResult>>;
}
