//! A pool of simulator worker processes speaking protocol v1
//! (docs/protocol.md): chunking, batching, dispatch, failure detection and
//! retries.
//!
//! Each worker is a [`Process`] with three threads: a writer (batch lines
//! to its stdin, so a simulator that stops reading never blocks lgso), a
//! stdout reader and a stderr reader (keeping the last lines). The stdout
//! readers of all workers send their lines into one channel, and the pool
//! waits on it with a timeout, so it never hangs: a dead worker shows as
//! end of file on its stdout, a hanging one by its deadline.
//!
//! One evaluation ([`WorkerPool`]'s [`Evaluator::evaluate`]) runs in steps
//! around a [`Run`] (the per-evaluation bookkeeping, in run.rs):
//! 1. *plan* ([`Run::plan`]): chunks with seeds independent of the number
//!    of workers, grouped into batch messages;
//! 2. *report* ([`Run::report`]): every request whose chunks are all
//!    settled is assembled from them and handed to `on_result`;
//! 3. *dispatch* ([`Core::dispatch`]): while batches wait, idle workers
//!    take them and dead workers are respawned; when every worker is dead
//!    and none could be respawned, the queued chunks fail
//!    ([`FailureKind::Spawn`]);
//! 4. *wait* ([`Core::next_event`] until [`Core::deadline`]) and *handle*:
//!    a missed deadline ([`Core::expire`]: a timeout, or a respawned worker
//!    without handshake), or an event ([`Core::handle`]: an answer, end of
//!    file, a respawned worker's handshake, a line nobody asked for).
//!
//! Steps 2 to 4 repeat until every request is reported.
//!
//! Failure policy: a worker that exits, crashes, prints garbage or misses
//! its deadline is killed (if still alive; respawned while work is
//! queued), and its chunks are queued again, ahead of the rest and with
//! the same seeds, while they have attempts left
//! ([`PoolOptions::retries`]); wrong counts or dims, simulator errors and
//! non-finite samples are deterministic, so they are never retried and the
//! worker stays. A respawn that fails (no start, exit or a bad or
//! different handshake, no handshake in time) is not tried again in the
//! same evaluation.

use std::sync::mpsc::{self, Receiver, Sender};
use std::thread;
use std::time::{Duration, Instant};

use super::process::{Event, EventKind, Process};
use super::protocol::{self, Handshake};
use super::run::Run;
use crate::data::Request;
use crate::error::{check_vector, Error, Result};
use crate::evaluate::{Evaluator, FailureKind, RequestResult};

/// How long `Drop` waits for workers to exit after their stdin closed.
const SHUTDOWN_WAIT: Duration = Duration::from_millis(1000);

/// Settings of a [`WorkerPool`].
#[derive(Debug, Clone, PartialEq)]
pub struct PoolOptions {
    /// Number of simulator processes `W` (>= 1). Default: the number of
    /// cores (`std::thread::available_parallelism`).
    pub workers: usize,
    /// Longest wait for the answer to one batch message; `None` (default)
    /// waits forever. A worker past it is killed ([`FailureKind::Timeout`]).
    pub timeout: Option<Duration>,
    /// Re-sends of a chunk whose worker exited, crashed, timed out or
    /// printed garbage (each to the next free worker, the failed one being
    /// killed and respawned, with the same seed).
    /// Default 2. Wrong counts or dims, simulator errors and non-finite
    /// samples are deterministic and never retried.
    pub retries: u32,
    /// A request with more samples is split into chunks of this many (the
    /// last one smaller). Default 1000.
    pub chunk_samples: usize,
    /// Most samples per batch message (a larger chunk goes alone).
    /// Default 1000.
    pub batch_samples: usize,
    /// Longest wait for a worker's handshake. Default 30 s.
    pub handshake_timeout: Duration,
}

impl Default for PoolOptions {
    fn default() -> Self {
        PoolOptions {
            workers: thread::available_parallelism().map_or(1, |n| n.get()),
            timeout: None,
            retries: 2,
            chunk_samples: 1000,
            batch_samples: 1000,
            handshake_timeout: Duration::from_secs(30),
        }
    }
}

/// What a worker slot is doing.
enum State {
    /// No process (never started, exited, or killed).
    Dead,
    /// Started, waiting for its handshake until `deadline`.
    Starting { deadline: Instant },
    /// Ready for a batch.
    Idle,
    /// Working on batch `batch` (chunk indices `chunks`), to be answered
    /// by `deadline`.
    Busy {
        batch: u64,
        chunks: Vec<usize>,
        deadline: Option<Instant>,
        /// Stderr lines read when the batch was sent.
        mark: u64,
    },
}

struct Slot {
    process: Option<Process>,
    state: State,
    /// A respawn of this slot failed during the current evaluation: do not
    /// try again until the next one.
    respawn_failed: bool,
}

/// Processes and channels, without the handshake (so that `Drop` also
/// cleans up a pool whose start failed).
struct Core {
    argv: Vec<String>,
    command: String,
    options: PoolOptions,
    slots: Vec<Slot>,
    events_tx: Sender<Event>,
    events: Receiver<Event>,
    next_gen: u64,
    next_batch: u64,
    next_chunk: u64,
}

/// A pool of `W` simulator processes started from one argument vector; an
/// [`Evaluator`] for protocol v1 simulators (docs/protocol.md).
///
/// Requests are split into chunks of at most `chunk_samples` samples (chunk
/// `i` of a split request gets seed `derive_seed(request.seed, &[i])`; a
/// request that fits one chunk keeps its seed), so the samples do not
/// depend on `W` or on how chunks are grouped into batch messages. Chunks
/// are grouped into batch messages of at most `batch_samples` samples; each
/// idle worker takes the next batch.
///
/// Every answer is checked: x and y rows count and dims
/// ([`FailureKind::WrongCount`], [`FailureKind::WrongDims`]), a per-request
/// `error` ([`FailureKind::Simulator`]), non-finite samples (rejected,
/// [`FailureKind::NonFinite`]). A worker that exits
/// ([`FailureKind::Exit`]), dies by a signal ([`FailureKind::Crash`]),
/// prints a line that is not the answer ([`FailureKind::Malformed`]) or
/// misses its deadline ([`FailureKind::Timeout`]) is killed and respawned,
/// and its chunks re-sent up to `retries` times. A request whose chunk
/// failed for good has no samples.
pub struct WorkerPool {
    core: Core,
    handshake: Handshake,
}

fn start_error(command: &str, reason: String, stderr_tail: String) -> Error {
    Error::External {
        command: command.to_string(),
        reason,
        stderr_tail,
    }
}

impl Core {
    /// Starts a process in `slot` (state `Starting`).
    ///
    /// # Errors
    /// A one-line reason: program not found, not executable, other spawn
    /// errors.
    fn spawn(&mut self, slot: usize) -> std::result::Result<(), String> {
        let gen = self.next_gen;
        let process = Process::spawn(&self.argv, slot, gen, self.events_tx.clone())?;
        self.next_gen += 1;
        self.slots[slot].process = Some(process);
        self.slots[slot].state = State::Starting {
            deadline: Instant::now() + self.options.handshake_timeout,
        };
        Ok(())
    }

    /// Kills the process of `slot` (if any) and marks it dead; returns its
    /// stderr tail.
    fn kill(&mut self, slot: usize) -> String {
        self.slots[slot].state = State::Dead;
        self.slots[slot]
            .process
            .take()
            .map_or_else(String::new, Process::kill)
    }

    /// Reaps the process of `slot` after end of file on its stdout; returns
    /// the failure kind, a description of how it ended and the stderr tail.
    fn reap(&mut self, slot: usize) -> (FailureKind, String, String) {
        self.slots[slot].state = State::Dead;
        match self.slots[slot].process.take() {
            Some(p) => p.ended(),
            None => (FailureKind::Exit, "ended".into(), String::new()),
        }
    }

    /// `worker 1, pid 4242`, for failure messages.
    fn worker(&self, slot: usize) -> String {
        let pid = self.slots[slot].process.as_ref().map_or(0, Process::pid);
        format!("worker {slot}, pid {pid}")
    }

    /// The earliest deadline of a worker: a handshake or an answer due.
    fn deadline(&self) -> Option<Instant> {
        self.slots
            .iter()
            .filter_map(|s| match &s.state {
                State::Starting { deadline } => Some(*deadline),
                State::Busy { deadline, .. } => *deadline,
                _ => None,
            })
            .min()
    }

    /// Waits for the next event until `deadline` (forever when `None`).
    fn next_event(&self, deadline: Option<Instant>) -> Option<Event> {
        match deadline {
            None => self.events.recv().ok(),
            Some(d) => {
                let wait = d.saturating_duration_since(Instant::now());
                self.events.recv_timeout(wait).ok()
            }
        }
    }

    /// True when `event` comes from the current process of its slot.
    fn is_current(&self, event: &Event) -> bool {
        self.slots
            .get(event.slot)
            .and_then(|s| s.process.as_ref())
            .is_some_and(|p| p.gen() == event.gen)
    }

    /// Marks the respawn of `slot` failed for this evaluation, `why`.
    fn respawn_failed(&mut self, slot: usize, run: &mut Run<'_>, why: String) {
        self.slots[slot].respawn_failed = true;
        run.last_spawn_error = why;
    }
}

impl Drop for Core {
    /// Closes every worker's stdin (the protocol's shutdown), waits up to a
    /// second for all of them to exit, then kills and reaps the rest: no
    /// process outlives the pool, no zombie is left.
    fn drop(&mut self) {
        for s in &mut self.slots {
            if let Some(p) = &mut s.process {
                p.close_stdin();
            }
        }
        let until = Instant::now() + SHUTDOWN_WAIT;
        for s in &mut self.slots {
            if let Some(mut p) = s.process.take() {
                p.reap(until.saturating_duration_since(Instant::now()));
            }
        }
    }
}

impl WorkerPool {
    /// Spawns `options.workers` processes from `argv` (`argv[0]` is the
    /// program, looked up on `PATH` unless it holds a `/`; never run
    /// through a shell) and reads and checks every handshake; all workers
    /// must send the same one.
    ///
    /// # Errors
    /// [`Error::Config`] for `workers`, `chunk_samples` or `batch_samples`
    /// of 0; [`Error::External`] (one line, with the stderr tail) when
    /// `argv` is empty, the program is not found or not executable, a
    /// worker exits before its handshake, sends no handshake within
    /// `handshake_timeout`, sends one that is not protocol v1 (the line and
    /// the expected form are quoted), or workers disagree.
    pub fn start(argv: &[String], options: PoolOptions) -> Result<WorkerPool> {
        for (key, value) in [
            ("simulator.workers", options.workers),
            ("simulator.chunk_samples", options.chunk_samples),
            ("simulator.batch_samples", options.batch_samples),
        ] {
            if value == 0 {
                return Err(Error::config(key, "an integer >= 1", value));
            }
        }
        let command = argv.join(" ");
        if argv.is_empty() || argv[0].is_empty() {
            return Err(start_error(
                &command,
                "empty command; expected a program and its arguments, e.g. `python3 sim.py`".into(),
                String::new(),
            ));
        }
        let (events_tx, events) = mpsc::channel();
        let workers = options.workers;
        let mut core = Core {
            argv: argv.to_vec(),
            command,
            options,
            slots: (0..workers)
                .map(|_| Slot {
                    process: None,
                    state: State::Dead,
                    respawn_failed: false,
                })
                .collect(),
            events_tx,
            events,
            next_gen: 0,
            next_batch: 1,
            next_chunk: 1,
        };
        for slot in 0..workers {
            core.spawn(slot)
                .map_err(|reason| start_error(&core.command, reason, String::new()))?;
        }
        let handshake = core.handshakes()?;
        Ok(WorkerPool { core, handshake })
    }

    /// The handshake every worker sent.
    pub fn handshake(&self) -> &Handshake {
        &self.handshake
    }

    /// Checks the handshake's dimensions against those `source` expects
    /// (e.g. `the config`).
    ///
    /// # Errors
    /// [`Error::External`] naming both sets of dimensions when they differ.
    pub fn expect_dims(&self, expected: crate::problem::Dims, source: &str) -> Result<()> {
        let h = &self.handshake;
        if (h.psi_dim, h.x_dim, h.y_dim) == (expected.psi, expected.x, expected.y) {
            return Ok(());
        }
        Err(start_error(
            &self.core.command,
            format!(
                "handshake announces psi_dim = {}, x_dim = {}, y_dim = {} but {source} expects psi_dim = {}, x_dim = {}, y_dim = {}",
                h.psi_dim, h.x_dim, h.y_dim, expected.psi, expected.x, expected.y
            ),
            String::new(),
        ))
    }

    /// The simulator's command line (argument vector joined by spaces).
    pub fn command(&self) -> &str {
        &self.core.command
    }

    /// The process ids of the running workers (for tests and diagnostics).
    pub fn pids(&self) -> Vec<u32> {
        self.core
            .slots
            .iter()
            .filter_map(|s| s.process.as_ref().map(Process::pid))
            .collect()
    }
}

impl Core {
    /// Waits for the handshake of every worker of a starting pool; returns
    /// it (all must be the same).
    ///
    /// # Errors
    /// [`Error::External`] as in [`WorkerPool::start`]: a worker exits
    /// before its handshake, sends none within `handshake_timeout`, sends
    /// one that is not protocol v1, or one that differs from another's.
    fn handshakes(&mut self) -> Result<Handshake> {
        let workers = self.slots.len();
        let mut first: Option<Handshake> = None;
        let mut ready = 0;
        while ready < workers {
            let Some(event) = self.next_event(self.deadline()) else {
                // A handshake deadline passed.
                let now = Instant::now();
                let late = (0..workers).find(|&i| {
                    matches!(self.slots[i].state, State::Starting { deadline } if deadline <= now)
                });
                if let Some(i) = late {
                    let tail = self.kill(i);
                    return Err(start_error(
                        &self.command,
                        format!(
                            "sent no handshake within {:.1} s (worker {i}); expected {}",
                            self.options.handshake_timeout.as_secs_f64(),
                            protocol::HANDSHAKE_FORM
                        ),
                        tail,
                    ));
                }
                continue;
            };
            if !self.is_current(&event) {
                continue;
            }
            let i = event.slot;
            match event.kind {
                EventKind::Eof => {
                    let (_, how, tail) = self.reap(i);
                    return Err(start_error(
                        &self.command,
                        format!("{how} before sending its handshake (worker {i})"),
                        tail,
                    ));
                }
                // A line after the handshake, before any batch: handled
                // (the worker is killed) by the first evaluation.
                EventKind::Answer(_) => {}
                EventKind::Line(line) => {
                    let h = self.check_handshake(i, &line, first.as_ref())?;
                    first.get_or_insert(h);
                    self.slots[i].state = State::Idle;
                    ready += 1;
                }
            }
        }
        first.ok_or_else(|| start_error(&self.command, "no worker started".into(), String::new()))
    }

    /// Parses the handshake `line` of starting worker `i` and compares it
    /// with the `first` one; kills the worker when it is wrong.
    ///
    /// # Errors
    /// [`Error::External`]: not a protocol v1 handshake, or different from
    /// `first`.
    fn check_handshake(
        &mut self,
        i: usize,
        line: &str,
        first: Option<&Handshake>,
    ) -> Result<Handshake> {
        let h = match protocol::parse_handshake(line) {
            Ok(h) => h,
            Err(reason) => {
                let tail = self.kill(i);
                return Err(start_error(&self.command, reason, tail));
            }
        };
        match first {
            Some(f) if *f != h => {
                let tail = self.kill(i);
                Err(start_error(
                    &self.command,
                    format!(
                        "workers disagree: worker {i} sent handshake {} but another sent {}; every worker must send the same handshake",
                        protocol::excerpt(line),
                        serde_json::to_string(f).unwrap_or_default()
                    ),
                    tail,
                ))
            }
            _ => Ok(h),
        }
    }
}

impl Evaluator for WorkerPool {
    fn describe(&self) -> String {
        let n = self.core.options.workers;
        format!(
            "{n} worker{}: {}",
            if n == 1 { "" } else { "s" },
            self.core.command
        )
    }

    fn evaluate(
        &mut self,
        requests: &[Request],
        on_result: &mut dyn FnMut(&RequestResult) -> Result<()>,
    ) -> Result<Vec<RequestResult>> {
        let h = &self.handshake;
        let dims = (h.psi_dim, h.x_dim, h.y_dim);
        for r in requests {
            check_vector(&format!("psi of request {}", r.id), &r.psi, h.psi_dim)?;
        }
        let core = &mut self.core;
        core.begin();
        let xy = (dims.1, dims.2);
        let mut run = Run::plan(requests, &core.options, &mut core.next_chunk, xy);
        while !run.report(dims, on_result)? {
            core.dispatch(&mut run);
            if run.has_queued() && core.slots.iter().all(|s| matches!(s.state, State::Dead)) {
                // Every worker is dead and could not be respawned.
                run.fail_queued();
                continue;
            }
            match core.next_event(core.deadline()) {
                None => core.expire(&mut run),
                Some(event) => core.handle(event, &mut run, &self.handshake),
            }
        }
        Ok(run.into_results())
    }
}

/// The steps of an evaluation ([`WorkerPool`]'s [`Evaluator::evaluate`]).
impl Core {
    /// Readies the workers for a new evaluation: failed respawns may be
    /// tried again, and a batch left over from an evaluation that
    /// `on_result` stopped is dropped with its worker (its answer would be
    /// out of step with this one).
    fn begin(&mut self) {
        for i in 0..self.slots.len() {
            self.slots[i].respawn_failed = false;
            if matches!(self.slots[i].state, State::Busy { .. }) {
                self.kill(i);
            }
        }
    }

    /// While batches are queued: sends the next one to each idle worker and
    /// respawns each dead worker (unless its respawn failed already in
    /// this evaluation).
    fn dispatch(&mut self, run: &mut Run<'_>) {
        for i in 0..self.slots.len() {
            if !run.has_queued() {
                break;
            }
            match self.slots[i].state {
                State::Idle => {
                    let Some(chunks) = run.next_batch() else {
                        break;
                    };
                    self.send(i, chunks, run);
                }
                State::Dead if !self.slots[i].respawn_failed => {
                    if let Err(e) = self.spawn(i) {
                        self.respawn_failed(i, run, e);
                    }
                }
                _ => {}
            }
        }
    }

    /// Sends `chunks` to idle worker `i` as the next batch message; the
    /// worker is busy until its answer or deadline.
    fn send(&mut self, i: usize, chunks: Vec<usize>, run: &mut Run<'_>) {
        let batch = self.next_batch;
        self.next_batch += 1;
        let line = run.attempt(batch, &chunks);
        let mut mark = 0;
        if let Some(p) = &self.slots[i].process {
            mark = p.tail_mark();
            p.send(line);
        }
        self.slots[i].state = State::Busy {
            batch,
            chunks,
            deadline: self.options.timeout.map(|t| Instant::now() + t),
            mark,
        };
    }

    /// A deadline passed: each busy worker past its timeout is killed and
    /// its chunks retried or failed ([`FailureKind::Timeout`]); each
    /// respawned worker without a handshake in time is killed and not
    /// respawned again in this evaluation.
    fn expire(&mut self, run: &mut Run<'_>) {
        let now = Instant::now();
        for i in 0..self.slots.len() {
            match &self.slots[i].state {
                State::Busy {
                    deadline: Some(d),
                    chunks,
                    ..
                } if *d <= now => {
                    let chunks = chunks.clone();
                    let worker = self.worker(i);
                    let tail = self.kill(i);
                    let what = format!(
                        "no answer within the timeout of {:.3} s; the worker was killed",
                        self.options.timeout.map_or(0.0, |t| t.as_secs_f64())
                    );
                    run.retry_or_fail(chunks, FailureKind::Timeout, &what, &worker, &tail);
                }
                State::Starting { deadline } if *deadline <= now => {
                    let tail = self.kill(i);
                    let why = format!(
                        "a respawned worker sent no handshake within {:.1} s; stderr: {}",
                        self.options.handshake_timeout.as_secs_f64(),
                        tail.replace('\n', " | ")
                    );
                    self.respawn_failed(i, run, why);
                }
                _ => {}
            }
        }
    }

    /// Handles a stdout line or end of file of a worker (ignored when it
    /// comes from a process already replaced): an answer settles or
    /// retries its batch's chunks, end of file of a busy worker retries
    /// them, a respawned worker's handshake makes it idle (or fails its
    /// respawn), a line nobody asked for kills the worker.
    fn handle(&mut self, event: Event, run: &mut Run<'_>, handshake: &Handshake) {
        if !self.is_current(&event) {
            return;
        }
        let i = event.slot;
        let worker = self.worker(i);
        let state = std::mem::replace(&mut self.slots[i].state, State::Dead);
        match (state, event.kind) {
            (State::Busy { chunks, .. }, EventKind::Eof) => {
                let (kind, how, tail) = self.reap(i);
                let what = format!("the simulator {how} while the request was outstanding");
                run.retry_or_fail(chunks, kind, &what, &worker, &tail);
            }
            (
                State::Busy {
                    batch,
                    chunks,
                    mark,
                    ..
                },
                EventKind::Answer(answer),
            ) => match run.check_answer(*answer, batch, &chunks) {
                Err(why) => {
                    let tail = self.kill(i);
                    let what = format!("malformed answer, the worker was killed: {why}");
                    run.retry_or_fail(chunks, FailureKind::Malformed, &what, &worker, &tail);
                }
                Ok(bodies) => {
                    self.slots[i].state = State::Idle;
                    let tail = match &self.slots[i].process {
                        Some(p) if !bodies.iter().all(|b| b.is_clean()) => p.tail_since(mark),
                        _ => String::new(),
                    };
                    run.settle_answer(&chunks, bodies, &tail, &worker);
                }
            },
            (State::Starting { .. }, EventKind::Line(line)) => {
                self.respawned(i, &line, handshake, run);
            }
            (State::Starting { .. }, EventKind::Eof) => {
                let (_, how, tail) = self.reap(i);
                let why = format!(
                    "a respawned worker {how} before its handshake; stderr: {}",
                    tail.replace('\n', " | ")
                );
                self.respawn_failed(i, run, why);
            }
            (_, EventKind::Eof) => {
                // An idle worker ended: respawned when needed.
                self.reap(i);
            }
            (_, EventKind::Line(_) | EventKind::Answer(_)) => {
                // A line nobody asked for: the stream is out of sync.
                self.kill(i);
            }
        }
    }

    /// The first `line` of respawned worker `i`: the pool's `handshake`
    /// makes it idle; anything else kills it and fails its respawn.
    fn respawned(&mut self, i: usize, line: &str, handshake: &Handshake, run: &mut Run<'_>) {
        let why = match protocol::parse_handshake(line) {
            Ok(hs) if hs == *handshake => {
                self.slots[i].state = State::Idle;
                return;
            }
            Ok(_) => format!(
                "a respawned worker sent a different handshake: {}",
                protocol::excerpt(line)
            ),
            Err(reason) => reason,
        };
        let tail = self.kill(i);
        let why = format!("{why}; stderr: {}", tail.replace('\n', " | "));
        self.respawn_failed(i, run, why);
    }
}
