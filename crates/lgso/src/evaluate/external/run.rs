//! The bookkeeping of one [`WorkerPool`](super::WorkerPool) evaluation,
//! apart from the processes: the plan (requests split into chunks, chunks
//! grouped into batch messages), each chunk's attempts and outcome, the
//! checks of an answer (docs/protocol.md, "Validation"), and a request's
//! result assembled from its chunks.

use std::collections::{HashMap, VecDeque};
use std::time::Instant;

use super::pool::PoolOptions;
use super::protocol::{self, Answer, AnswerBody, WireRequest};
use crate::data::{Matrix, Request};
use crate::error::Result;
use crate::evaluate::{Failure, FailureKind, RequestResult};
use crate::seed::derive_seed;

/// One chunk of a request, as planned by [`Run::plan`].
struct Chunk {
    request: usize,
    index: usize,
    of: usize,
    count: usize,
    seed: u64,
    wire: u64,
    attempts: u32,
    outcome: Option<ChunkOutcome>,
}

enum ChunkOutcome {
    Done {
        x: Vec<f64>,
        y: Vec<f64>,
        tail: String,
    },
    Failed(Failure),
}

/// A chunk's answer after the checks of docs/protocol.md, "Validation".
pub(super) enum Checked {
    Good {
        x: Vec<f64>,
        y: Vec<f64>,
        finite: bool,
    },
    Bad(FailureKind, String),
}

impl Checked {
    /// A full answer of finite samples: nothing to quote from stderr.
    pub(super) fn is_clean(&self) -> bool {
        matches!(self, Checked::Good { finite: true, .. })
    }
}

/// The state of one `evaluate` call.
pub(super) struct Run<'a> {
    requests: &'a [Request],
    chunks: Vec<Chunk>,
    by_wire: HashMap<u64, usize>,
    /// Batches (chunk indices) waiting for an idle worker.
    queue: VecDeque<Vec<usize>>,
    /// Chunks of each request still without an outcome.
    remaining: Vec<usize>,
    /// The chunks of request `r` are `chunks[first[r]..first[r + 1]]`.
    first: Vec<usize>,
    results: Vec<Option<RequestResult>>,
    /// Requests whose result is complete but not yet reported.
    ready: Vec<usize>,
    /// Requests reported to `on_result`.
    reported: usize,
    started: Instant,
    max_attempts: u32,
    /// Why the last (re)spawn of a worker failed, for
    /// [`Run::fail_queued`].
    pub(super) last_spawn_error: String,
    /// `(d, m)`: the dims of x and y from the handshake.
    xy: (usize, usize),
}

impl<'a> Run<'a> {
    /// Plans the evaluation of `requests`: each is split into chunks of at
    /// most `chunk_samples` samples whose boundaries and seeds depend only
    /// on the request and `chunk_samples`, never on the number of workers
    /// (chunk `i` of a split request gets seed `derive_seed(seed, &[i])`, a
    /// request that fits one chunk keeps its seed). Chunks get wire ids
    /// from `next_wire` on and are queued in batches ([`Run::batches`]).
    /// A request of 0 samples is complete at once.
    pub(super) fn plan(
        requests: &'a [Request],
        options: &PoolOptions,
        next_wire: &mut u64,
        xy: (usize, usize),
    ) -> Run<'a> {
        let mut run = Run {
            requests,
            chunks: Vec::new(),
            by_wire: HashMap::new(),
            queue: VecDeque::new(),
            remaining: vec![0; requests.len()],
            first: Vec::with_capacity(requests.len() + 1),
            results: vec![None; requests.len()],
            ready: Vec::new(),
            reported: 0,
            started: Instant::now(),
            max_attempts: 1 + options.retries,
            last_spawn_error: String::new(),
            xy,
        };
        let size = options.chunk_samples;
        for (ri, r) in requests.iter().enumerate() {
            run.first.push(run.chunks.len());
            let of = r.count.div_ceil(size);
            for index in 0..of {
                let count = size.min(r.count - index * size);
                let seed = if of == 1 {
                    r.seed
                } else {
                    derive_seed(r.seed, &[index as u64])
                };
                let wire = *next_wire;
                *next_wire += 1;
                run.by_wire.insert(wire, run.chunks.len());
                run.chunks.push(Chunk {
                    request: ri,
                    index,
                    of,
                    count,
                    seed,
                    wire,
                    attempts: 0,
                    outcome: None,
                });
            }
            run.remaining[ri] = of;
            if of == 0 {
                run.ready.push(ri);
            }
        }
        run.first.push(run.chunks.len());
        run.queue = run.batches(options.batch_samples);
        run
    }

    /// Batches: consecutive chunks up to `batch_samples` samples (a larger
    /// chunk goes alone).
    fn batches(&self, batch_samples: usize) -> VecDeque<Vec<usize>> {
        let mut queue = VecDeque::new();
        let mut batch: Vec<usize> = Vec::new();
        let mut samples = 0;
        for (c, chunk) in self.chunks.iter().enumerate() {
            if !batch.is_empty() && samples + chunk.count > batch_samples {
                queue.push_back(std::mem::take(&mut batch));
                samples = 0;
            }
            batch.push(c);
            samples += chunk.count;
        }
        if !batch.is_empty() {
            queue.push_back(batch);
        }
        queue
    }

    /// Whether a batch waits for a worker.
    pub(super) fn has_queued(&self) -> bool {
        !self.queue.is_empty()
    }

    /// The next batch to send (retries first).
    pub(super) fn next_batch(&mut self) -> Option<Vec<usize>> {
        self.queue.pop_front()
    }

    /// Counts a new attempt of each of `chunks`, about to be sent as batch
    /// message `batch`; returns the message's line.
    pub(super) fn attempt(&mut self, batch: u64, chunks: &[usize]) -> String {
        let wire: Vec<WireRequest> = chunks
            .iter()
            .map(|&c| {
                let ch = &self.chunks[c];
                WireRequest {
                    request: ch.wire,
                    psi: &self.requests[ch.request].psi,
                    samples: ch.count,
                    seed: ch.seed,
                }
            })
            .collect();
        let line = protocol::encode_batch(batch, &wire);
        for &c in chunks {
            self.chunks[c].attempts += 1;
        }
        line
    }

    /// Reports every request whose chunks are all settled to `on_result`,
    /// in completion order; returns whether every request is reported.
    ///
    /// # Errors
    /// The first error of `on_result`.
    pub(super) fn report(
        &mut self,
        dims: (usize, usize, usize),
        on_result: &mut dyn FnMut(&RequestResult) -> Result<()>,
    ) -> Result<bool> {
        for r in std::mem::take(&mut self.ready) {
            let result = self.assemble(r, dims);
            on_result(&result)?;
            self.results[r] = Some(result);
            self.reported += 1;
        }
        Ok(self.reported == self.requests.len())
    }

    /// The results, in the order of the requests (once [`Run::report`]
    /// said every request is reported).
    pub(super) fn into_results(self) -> Vec<RequestResult> {
        self.results.into_iter().flatten().collect()
    }

    /// The failure of a chunk: the message names the request, its psi, the
    /// chunk and the worker.
    fn failure(
        &self,
        c: usize,
        kind: FailureKind,
        what: &str,
        worker: &str,
        tail: String,
    ) -> Failure {
        let chunk = &self.chunks[c];
        let r = &self.requests[chunk.request];
        let part = if chunk.of > 1 {
            format!(
                "chunk {} of {} ({} samples): ",
                chunk.index + 1,
                chunk.of,
                chunk.count
            )
        } else {
            String::new()
        };
        let detail = format!(
            "{part}{what} ({worker}; attempt {} of {})",
            chunk.attempts, self.max_attempts
        );
        Failure::of(r, kind, &detail, tail)
    }

    /// Records the outcome of chunk `c`; queues its request when complete.
    fn settle(&mut self, c: usize, outcome: ChunkOutcome) {
        let r = self.chunks[c].request;
        if self.chunks[c].outcome.is_some() {
            // Settled already (cannot happen: a chunk is in one batch at a
            // time); never report a request twice.
            return;
        }
        self.remaining[r] -= 1;
        self.chunks[c].outcome = Some(outcome);
        if self.remaining[r] == 0 {
            self.ready.push(r);
        }
    }

    /// Settles `chunks` from the checked `bodies` of a live `worker`'s
    /// answer; `tail` (its stderr) is quoted by every failed chunk and
    /// every chunk with non-finite samples.
    pub(super) fn settle_answer(
        &mut self,
        chunks: &[usize],
        bodies: Vec<Checked>,
        tail: &str,
        worker: &str,
    ) {
        for (&c, body) in chunks.iter().zip(bodies) {
            let outcome = match body {
                Checked::Good { x, y, finite } => ChunkOutcome::Done {
                    x,
                    y,
                    tail: if finite {
                        String::new()
                    } else {
                        tail.to_string()
                    },
                },
                Checked::Bad(kind, what) => {
                    ChunkOutcome::Failed(self.failure(c, kind, &what, worker, tail.to_string()))
                }
            };
            self.settle(c, outcome);
        }
    }

    /// Handles a failure that kills the worker: each chunk is re-queued
    /// while it has attempts left, else it fails for good.
    pub(super) fn retry_or_fail(
        &mut self,
        chunks: Vec<usize>,
        kind: FailureKind,
        what: &str,
        worker: &str,
        tail: &str,
    ) {
        let mut again = Vec::new();
        for c in chunks {
            if self.chunks[c].attempts < self.max_attempts {
                again.push(c);
            } else {
                let f = self.failure(c, kind, what, worker, tail.to_string());
                self.settle(c, ChunkOutcome::Failed(f));
            }
        }
        if !again.is_empty() {
            self.queue.push_front(again);
        }
    }

    /// Fails every queued chunk for good ([`FailureKind::Spawn`], quoting
    /// the last spawn error): every worker is dead and could not be
    /// respawned.
    pub(super) fn fail_queued(&mut self) {
        let why = format!(
            "no simulator worker could be (re)started: {}",
            self.last_spawn_error
        );
        while let Some(chunks) = self.queue.pop_front() {
            for c in chunks {
                let f = self.failure(c, FailureKind::Spawn, &why, "no worker", String::new());
                self.settle(c, ChunkOutcome::Failed(f));
            }
        }
    }

    /// Builds the result of request `r` from its chunks: the first failed
    /// chunk fails the whole request (no samples); otherwise the chunks'
    /// rows in order, `x [count, d]`, `y [count, m]`, split into good and
    /// rejected samples ([`RequestResult::from_rows`]).
    fn assemble(&self, r: usize, dims: (usize, usize, usize)) -> RequestResult {
        let request = &self.requests[r];
        let seconds = self.started.elapsed().as_secs_f64();
        let chunks: Vec<&Chunk> = self.chunks[self.first[r]..self.first[r + 1]]
            .iter()
            .collect();
        let attempts = chunks.iter().map(|c| c.attempts).max().unwrap_or(0);
        if let Some(f) = chunks.iter().find_map(|c| match &c.outcome {
            Some(ChunkOutcome::Failed(f)) => Some(f.clone()),
            _ => None,
        }) {
            return RequestResult::failed(request, dims, f, attempts, seconds);
        }
        let (_, d, m) = dims;
        let mut x = Vec::with_capacity(request.count * d);
        let mut y = Vec::with_capacity(request.count * m);
        let mut tail = String::new();
        for c in &chunks {
            if let Some(ChunkOutcome::Done {
                x: cx,
                y: cy,
                tail: t,
            }) = &c.outcome
            {
                x.extend_from_slice(cx);
                y.extend_from_slice(cy);
                if !t.is_empty() {
                    tail.clone_from(t);
                }
            }
        }
        let rows = y.len() / m.max(1);
        let (x, y) = match (Matrix::from_vec(rows, d, x), Matrix::from_vec(rows, m, y)) {
            (Ok(x), Ok(y)) => (x, y),
            _ => (Matrix::zeros(0, d), Matrix::zeros(0, m)),
        };
        let mut result = RequestResult::from_rows(request, x, y, attempts, seconds);
        if let Some(f) = &mut result.failure {
            f.stderr_tail = tail;
        }
        result
    }

    /// Checks the parsed `answer` to batch `batch` (chunks `chunks`) and
    /// checks each chunk's count and dims.
    ///
    /// # Errors
    /// Why the line is malformed: not an answer, another batch id, a
    /// missing, unknown or repeated request id.
    pub(super) fn check_answer(
        &self,
        answer: std::result::Result<Answer, String>,
        batch: u64,
        chunks: &[usize],
    ) -> std::result::Result<Vec<Checked>, String> {
        let answer = answer?;
        if answer.batch != batch {
            return Err(format!(
                "answer names batch {}, expected {batch}",
                answer.batch
            ));
        }
        let mut bodies: HashMap<u64, AnswerBody> = HashMap::with_capacity(answer.results.len());
        for (id, body) in answer.results {
            let known = self.by_wire.get(&id).is_some_and(|c| chunks.contains(c));
            if !known {
                return Err(format!(
                    "answer holds request {id}, which batch {batch} did not ask for"
                ));
            }
            if bodies.insert(id, body).is_some() {
                return Err(format!("answer holds request {id} twice"));
            }
        }
        chunks
            .iter()
            .map(|&c| {
                let chunk = &self.chunks[c];
                let body = bodies.remove(&chunk.wire).ok_or_else(|| {
                    format!(
                        "answer to batch {batch} has no result for request {}",
                        chunk.wire
                    )
                })?;
                Ok(check_body(body, chunk.count, self.xy))
            })
            .collect()
    }
}

/// Checks the rows of one chunk's answer: `count` rows of x with `d`
/// entries and of y with `m`.
fn check_body(body: AnswerBody, count: usize, (d, m): (usize, usize)) -> Checked {
    match body {
        AnswerBody::Error(e) => Checked::Bad(
            FailureKind::Simulator,
            format!("the simulator reported an error: {e}"),
        ),
        AnswerBody::Samples { x, y } => {
            if x.len() != count || y.len() != count {
                return Checked::Bad(
                    FailureKind::WrongCount,
                    format!(
                        "answer has {} x rows and {} y rows, expected {count} samples",
                        x.len(),
                        y.len()
                    ),
                );
            }
            if let Some((i, r)) = x.iter().enumerate().find(|(_, r)| r.len() != d) {
                return Checked::Bad(
                    FailureKind::WrongDims,
                    format!("x row {i} has {} entries, expected x_dim = {d}", r.len()),
                );
            }
            if let Some((i, r)) = y.iter().enumerate().find(|(_, r)| r.len() != m) {
                return Checked::Bad(
                    FailureKind::WrongDims,
                    format!("y row {i} has {} entries, expected y_dim = {m}", r.len()),
                );
            }
            let x: Vec<f64> = x.into_iter().flatten().collect();
            let y: Vec<f64> = y.into_iter().flatten().collect();
            let finite = x.iter().chain(&y).all(|v| v.is_finite());
            Checked::Good { x, y, finite }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(id: u64, count: usize) -> Request {
        Request {
            id,
            iteration: 0,
            psi: vec![0.5, 2.0],
            count,
            seed: 100 + id,
        }
    }

    #[test]
    fn plan_chunks_and_batches() {
        let requests = [request(0, 2500), request(1, 10), request(2, 0)];
        let options = PoolOptions {
            workers: 3,
            ..PoolOptions::default()
        };
        let mut next_wire = 7;
        let mut run = Run::plan(&requests, &options, &mut next_wire, (1, 1));
        let counts: Vec<usize> = run.chunks.iter().map(|c| c.count).collect();
        assert_eq!(counts, [1000, 1000, 500, 10]);
        let seeds: Vec<u64> = run.chunks.iter().map(|c| c.seed).collect();
        let split = |i: u64| derive_seed(100, &[i]);
        assert_eq!(seeds, [split(0), split(1), split(2), 101]);
        assert_eq!(next_wire, 11);
        assert_eq!(run.first, [0, 3, 4, 4]);
        // The empty request is complete at once; 500 + 10 samples share a
        // batch of at most 1000.
        assert_eq!(run.ready, [2]);
        assert_eq!(run.queue, [vec![0], vec![1], vec![2, 3]]);
        let batch = run.next_batch().unwrap();
        let line = run.attempt(5, &batch);
        let sent: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(sent["batch"], 5);
        assert_eq!(sent["requests"][0]["request"], 7);
        assert_eq!(sent["requests"][0]["samples"], 1000);
        assert_eq!(sent["requests"][0]["seed"], split(0));
        assert_eq!(run.chunks[0].attempts, 1);
        assert_eq!(run.chunks[1].attempts, 0);
    }
}
