//! Evaluation: turning a batch of simulator [`Request`]s ("draw `count`
//! samples at `psi_i`") into samples (design.md, layer 2).
//!
//! An [`Evaluator`] answers every request of a batch with a
//! [`RequestResult`]: the good samples, the rejected ones (kept for the
//! record, never trained on) and, when something went wrong, a [`Failure`]
//! saying what. A failing request does not abort the batch: the driver
//! decides, from the failure rate of the run, whether to go on. The
//! optimizer never knows which evaluator ran its requests:
//! [`InProcess`] draws from a built-in [`Simulator`] in threads;
//! `crate::external::WorkerPool` talks to user simulators in worker
//! processes.

use std::time::Instant;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::data::{Matrix, Request, Samples};
use crate::error::Result;
use crate::problem::{self, Simulator};

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
    /// Errors of `on_result`; errors that make the evaluator unusable as a
    /// whole (e.g. no worker can be started).
    fn evaluate(
        &mut self,
        requests: &[Request],
        on_result: &mut dyn FnMut(&RequestResult) -> Result<()>,
    ) -> Result<Vec<RequestResult>>;
}

/// Evaluates requests on a built-in [`Simulator`] in threads (rayon), each
/// request from an RNG seeded with its seed ([`problem::draw`]).
pub struct InProcess {
    simulator: std::sync::Arc<dyn Simulator>,
}

impl InProcess {
    /// An evaluator for `simulator`.
    pub fn new(simulator: std::sync::Arc<dyn Simulator>) -> Self {
        InProcess { simulator }
    }
}

impl Evaluator for InProcess {
    fn describe(&self) -> String {
        format!("in-process {}", self.simulator.name())
    }

    fn reproducible(&self) -> bool {
        true
    }

    fn evaluate(
        &mut self,
        requests: &[Request],
        on_result: &mut dyn FnMut(&RequestResult) -> Result<()>,
    ) -> Result<Vec<RequestResult>> {
        let sim = self.simulator.as_ref();
        let dims = sim.dims();
        let results: Vec<RequestResult> = crate::threads::simulation_pool().install(|| {
            requests
                .par_iter()
                .map(|r| {
                    let t = Instant::now();
                    match problem::draw(sim, &r.psi, r.count, r.seed) {
                        Ok(s) => {
                            RequestResult::from_rows(r, s.x, s.y, 1, t.elapsed().as_secs_f64())
                        }
                        Err(e) => RequestResult::failed(
                            r,
                            (dims.psi, dims.x, dims.y),
                            Failure::of(r, FailureKind::Simulator, &e.to_string(), String::new()),
                            1,
                            t.elapsed().as_secs_f64(),
                        ),
                    }
                })
                .collect()
        });
        for r in &results {
            on_result(r)?;
        }
        Ok(results)
    }
}
