//! A pool of simulator worker processes speaking protocol v1
//! (docs/protocol.md): chunking, batching, dispatch, failure detection and
//! retries.
//!
//! Each worker has three threads: a writer (batch lines to its stdin, so a
//! simulator that stops reading never blocks lgso), a stdout reader and a
//! stderr reader (keeping the last lines). The stdout readers of all
//! workers send their lines into one channel, and the pool waits on it with
//! a timeout, so it never hangs: a dead worker shows as end of file on its
//! stdout, a hanging one by its deadline.

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use super::protocol::{self, Answer, AnswerBody, Handshake, WireRequest};
use crate::data::{Matrix, Request};
use crate::error::{check_vector, Error, Result};
use crate::evaluate::{Evaluator, Failure, FailureKind, RequestResult};
use crate::seed::derive_seed;

/// Lines of a simulator's stderr kept for messages.
const TAIL_LINES: usize = 20;
/// Bytes of a simulator's stderr kept for messages.
const TAIL_BYTES: usize = 2048;
/// How long a worker that closed its stdout may take to exit before it is
/// killed, and how long its stderr reader may take to finish.
const REAP_WAIT: Duration = Duration::from_millis(1000);
/// Longest wait, when a live worker's answer fails a check (wrong count,
/// simulator error, ...), for the stderr reader to show a line written
/// since the batch was sent (the simulator usually logs why just before
/// answering; a silent one costs this wait once per failing batch).
const TAIL_GRACE: Duration = Duration::from_millis(200);
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
    /// printed garbage (each on a fresh worker, with the same seed).
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

/// The last lines a simulator wrote to stderr.
#[derive(Default)]
struct Tail {
    lines: VecDeque<String>,
    bytes: usize,
    closed: bool,
    /// Lines read since the process started.
    total: u64,
}

impl Tail {
    fn push(&mut self, line: String) {
        self.bytes += line.len() + 1;
        self.total += 1;
        self.lines.push_back(line);
        while self.lines.len() > TAIL_LINES || (self.bytes > TAIL_BYTES && self.lines.len() > 1) {
            if let Some(l) = self.lines.pop_front() {
                self.bytes -= l.len() + 1;
            }
        }
    }

    fn text(&self) -> String {
        let mut s = self.lines.iter().cloned().collect::<Vec<_>>().join("\n");
        if s.len() > TAIL_BYTES {
            // One very long line: keep its end.
            let mut cut = s.len() - TAIL_BYTES;
            while !s.is_char_boundary(cut) {
                cut += 1;
            }
            s = format!("...{}", &s[cut..]);
        }
        s
    }
}

type SharedTail = Arc<Mutex<Tail>>;

/// What a stdout reader reports.
enum EventKind {
    /// The first line of the process (its handshake).
    Line(String),
    /// A later line, parsed as an answer by the reader thread (so that the
    /// workers' answers are parsed in parallel), or why it is malformed.
    Answer(Box<std::result::Result<Answer, String>>),
    Eof,
}

/// A stdout line or end of file of worker `slot`, process generation
/// `gen` (a respawned worker gets a new generation, so that late events of
/// a killed process are ignored).
struct Event {
    slot: usize,
    gen: u64,
    kind: EventKind,
}

/// One running simulator process.
struct Process {
    child: Child,
    gen: u64,
    /// Lines for the writer thread; dropping it closes the stdin.
    input: Option<Sender<String>>,
    tail: SharedTail,
}

impl Process {
    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits up to `wait` for the process to exit, then kills it; returns
    /// its exit status (`None` when it had to be killed).
    fn reap(&mut self, wait: Duration) -> Option<ExitStatus> {
        self.input = None;
        let until = Instant::now() + wait;
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => return Some(status),
                Ok(None) if Instant::now() < until => thread::sleep(Duration::from_millis(2)),
                _ => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    return None;
                }
            }
        }
    }

    /// Kills the process and waits for it.
    fn kill(&mut self) {
        self.input = None;
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Lines read from stderr so far.
    fn tail_mark(&self) -> u64 {
        self.tail
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .total
    }

    /// The stderr tail, after waiting up to `wait` for the stderr reader
    /// to reach end of file (a dead process) or to have read more than
    /// `mark` lines (`u64::MAX`: wait for end of file only).
    fn tail_after(&self, wait: Duration, mark: u64) -> String {
        let until = Instant::now() + wait;
        loop {
            let done = {
                let t = self.tail.lock().unwrap_or_else(PoisonError::into_inner);
                t.closed || (mark != u64::MAX && t.total > mark)
            };
            if done || Instant::now() >= until {
                break;
            }
            thread::sleep(Duration::from_millis(2));
        }
        self.tail
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .text()
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

/// One chunk of a request, as planned by `evaluate`.
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

fn start_error(command: &str, reason: String, stderr_tail: String) -> Error {
    Error::External {
        command: command.to_string(),
        reason,
        stderr_tail,
    }
}

/// `exited with status 3` / `was killed by signal 9 (SIGKILL)`, and whether
/// it was a signal.
fn describe_status(status: Option<ExitStatus>) -> (FailureKind, String) {
    let Some(status) = status else {
        return (
            FailureKind::Exit,
            "closed its stdout without exiting (killed by lgso)".to_string(),
        );
    };
    if let Some(code) = status.code() {
        return (FailureKind::Exit, format!("exited with status {code}"));
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(sig) = status.signal() {
            let name = match sig {
                6 => " (SIGABRT)",
                9 => " (SIGKILL)",
                11 => " (SIGSEGV)",
                15 => " (SIGTERM)",
                _ => "",
            };
            return (
                FailureKind::Crash,
                format!("was killed by signal {sig}{name}"),
            );
        }
    }
    (FailureKind::Crash, format!("ended abnormally ({status})"))
}

impl Core {
    /// Starts a process in `slot` (state `Starting`).
    ///
    /// # Errors
    /// A one-line reason: program not found, not executable, other spawn
    /// errors.
    fn spawn(&mut self, slot: usize) -> std::result::Result<(), String> {
        let program = &self.argv[0];
        let start = || {
            Command::new(program)
                .args(&self.argv[1..])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
        };
        // ETXTBSY ("text file busy", Linux 26): the executable was just
        // written and another thread's fork still holds a copy of the
        // write descriptor until that child execs; a short wait clears it
        const TEXT_FILE_BUSY: i32 = 26;
        let mut started = start();
        for wait_ms in [5, 20, 50, 100, 200] {
            match &started {
                Err(e) if e.raw_os_error() == Some(TEXT_FILE_BUSY) => {
                    std::thread::sleep(std::time::Duration::from_millis(wait_ms));
                    started = start();
                }
                _ => break,
            }
        }
        let mut child = started
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => {
                    if program.contains('/') {
                        format!("program `{program}` does not exist (expected the path of an executable file)")
                    } else {
                        format!("program `{program}` not found on PATH (expected an executable name on PATH or a path to one)")
                    }
                }
                std::io::ErrorKind::PermissionDenied => format!(
                    "`{program}` is not executable (a directory, or a file without execute permission: try `chmod +x {program}`, or run it through its interpreter, e.g. `python3 {program}`)"
                ),
                _ => format!("cannot start `{program}`: {e}"),
            })?;
        let gen = self.next_gen;
        self.next_gen += 1;
        let (Some(stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("cannot open the pipes of `{program}`"));
        };
        let input = spawn_writer(stdin);
        let tail = spawn_stderr_reader(stderr);
        spawn_stdout_reader(stdout, slot, gen, self.events_tx.clone());
        self.slots[slot].process = Some(Process {
            child,
            gen,
            input: Some(input),
            tail,
        });
        self.slots[slot].state = State::Starting {
            deadline: Instant::now() + self.options.handshake_timeout,
        };
        Ok(())
    }

    /// Kills the process of `slot` (if any) and marks it dead; returns its
    /// stderr tail.
    fn kill(&mut self, slot: usize) -> String {
        self.slots[slot].state = State::Dead;
        match self.slots[slot].process.take() {
            Some(mut p) => {
                p.kill();
                p.tail_after(REAP_WAIT, u64::MAX)
            }
            None => String::new(),
        }
    }

    /// Reaps the process of `slot` after end of file on its stdout; returns
    /// the failure kind, a description of how it ended and the stderr tail.
    fn reap(&mut self, slot: usize) -> (FailureKind, String, String, u32) {
        self.slots[slot].state = State::Dead;
        match self.slots[slot].process.take() {
            Some(mut p) => {
                let pid = p.pid();
                let status = p.reap(REAP_WAIT);
                let (kind, how) = describe_status(status);
                (kind, how, p.tail_after(REAP_WAIT, u64::MAX), pid)
            }
            None => (FailureKind::Exit, "ended".into(), String::new(), 0),
        }
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
            .is_some_and(|p| p.gen == event.gen)
    }
}

impl Drop for Core {
    /// Closes every worker's stdin (the protocol's shutdown), waits up to a
    /// second for all of them to exit, then kills and reaps the rest: no
    /// process outlives the pool, no zombie is left.
    fn drop(&mut self) {
        for s in &mut self.slots {
            if let Some(p) = &mut s.process {
                p.input = None;
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

fn spawn_writer(mut stdin: ChildStdin) -> Sender<String> {
    let (tx, rx) = mpsc::channel::<String>();
    thread::spawn(move || {
        for line in rx {
            if stdin.write_all(line.as_bytes()).is_err() || stdin.flush().is_err() {
                break;
            }
        }
        // Dropping stdin closes the pipe: end of file for the simulator.
    });
    tx
}

fn spawn_stderr_reader(stderr: impl Read + Send + 'static) -> SharedTail {
    let tail: SharedTail = Arc::new(Mutex::new(Tail::default()));
    let t = Arc::clone(&tail);
    thread::spawn(move || {
        let mut reader = BufReader::new(stderr);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match reader.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    let line = String::from_utf8_lossy(&buf).trim_end().to_string();
                    t.lock().unwrap_or_else(PoisonError::into_inner).push(line);
                }
            }
        }
        t.lock().unwrap_or_else(PoisonError::into_inner).closed = true;
    });
    tail
}

fn spawn_stdout_reader(
    stdout: impl Read + Send + 'static,
    slot: usize,
    gen: u64,
    events: Sender<Event>,
) {
    thread::spawn(move || {
        let mut reader = BufReader::with_capacity(1 << 16, stdout);
        let mut buf = Vec::new();
        let mut first = true;
        loop {
            buf.clear();
            match reader.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => {
                    let _ = events.send(Event {
                        slot,
                        gen,
                        kind: EventKind::Eof,
                    });
                    break;
                }
                Ok(_) => {
                    let line = String::from_utf8_lossy(&buf);
                    let line = line.trim();
                    if line.is_empty() {
                        continue;
                    }
                    let kind = if first {
                        first = false;
                        EventKind::Line(line.to_string())
                    } else {
                        EventKind::Answer(Box::new(protocol::parse_answer(line)))
                    };
                    let sent = events.send(Event { slot, gen, kind });
                    if sent.is_err() {
                        break;
                    }
                }
            }
        }
    });
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
        let mut first: Option<Handshake> = None;
        let mut ready = 0;
        while ready < workers {
            let deadline = core
                .slots
                .iter()
                .filter_map(|s| match s.state {
                    State::Starting { deadline } => Some(deadline),
                    _ => None,
                })
                .min();
            let Some(event) = core.next_event(deadline) else {
                // A handshake deadline passed.
                let now = Instant::now();
                let late = (0..workers).find(|&i| {
                    matches!(core.slots[i].state, State::Starting { deadline } if deadline <= now)
                });
                if let Some(i) = late {
                    let tail = core.kill(i);
                    return Err(start_error(
                        &core.command,
                        format!(
                            "sent no handshake within {:.1} s (worker {i}); expected {}",
                            core.options.handshake_timeout.as_secs_f64(),
                            protocol::HANDSHAKE_FORM
                        ),
                        tail,
                    ));
                }
                continue;
            };
            if !core.is_current(&event) {
                continue;
            }
            let i = event.slot;
            match event.kind {
                EventKind::Eof => {
                    let (_, how, tail, _) = core.reap(i);
                    return Err(start_error(
                        &core.command,
                        format!("{how} before sending its handshake (worker {i})"),
                        tail,
                    ));
                }
                // A line after the handshake, before any batch: handled
                // (the worker is killed) by the first evaluation.
                EventKind::Answer(_) => {}
                EventKind::Line(line) => {
                    let h = match protocol::parse_handshake(&line) {
                        Ok(h) => h,
                        Err(reason) => {
                            let tail = core.kill(i);
                            return Err(start_error(&core.command, reason, tail));
                        }
                    };
                    if let Some(f) = &first {
                        if *f != h {
                            let tail = core.kill(i);
                            return Err(start_error(
                                &core.command,
                                format!(
                                    "workers disagree: worker {i} sent handshake {} but another sent {}; every worker must send the same handshake",
                                    protocol::excerpt(&line),
                                    serde_json::to_string(f).unwrap_or_default()
                                ),
                                tail,
                            ));
                        }
                    } else {
                        first = Some(h);
                    }
                    core.slots[i].state = State::Idle;
                    ready += 1;
                }
            }
        }
        let handshake = first
            .ok_or_else(|| start_error(&core.command, "no worker started".into(), String::new()))?;
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

/// The state of one `evaluate` call.
struct Run<'a> {
    requests: &'a [Request],
    chunks: Vec<Chunk>,
    by_wire: HashMap<u64, usize>,
    queue: VecDeque<Vec<usize>>,
    /// Chunks of each request still without an outcome.
    remaining: Vec<usize>,
    /// The chunks of request `r` are `chunks[first[r]..first[r + 1]]`.
    first: Vec<usize>,
    results: Vec<Option<RequestResult>>,
    /// Requests whose result is complete but not yet reported.
    ready: Vec<usize>,
    started: Instant,
    max_attempts: u32,
    last_spawn_error: String,
    /// `(d, m)`: the dims of x and y from the handshake.
    xy: (usize, usize),
}

impl Run<'_> {
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

    /// Handles a failure that kills the worker: each chunk is re-queued
    /// while it has attempts left, else it fails for good.
    fn retry_or_fail(
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

    /// Builds the result of request `r` from its chunks.
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
        let opts = core.options.clone();
        for i in 0..core.slots.len() {
            core.slots[i].respawn_failed = false;
            // A batch left over from an evaluation that `on_result` stopped:
            // its answer would be out of step with this one.
            if matches!(core.slots[i].state, State::Busy { .. }) {
                core.kill(i);
            }
        }
        let mut run = Run {
            requests,
            chunks: Vec::new(),
            by_wire: HashMap::new(),
            queue: VecDeque::new(),
            remaining: vec![0; requests.len()],
            first: Vec::with_capacity(requests.len() + 1),
            results: vec![None; requests.len()],
            ready: Vec::new(),
            started: Instant::now(),
            max_attempts: 1 + opts.retries,
            last_spawn_error: String::new(),
            xy: (dims.1, dims.2),
        };
        // Chunks: boundaries and seeds depend only on the request and
        // chunk_samples, never on the number of workers.
        for (ri, r) in requests.iter().enumerate() {
            run.first.push(run.chunks.len());
            let of = r.count.div_ceil(opts.chunk_samples);
            for index in 0..of {
                let count = opts.chunk_samples.min(r.count - index * opts.chunk_samples);
                let seed = if of == 1 {
                    r.seed
                } else {
                    derive_seed(r.seed, &[index as u64])
                };
                let wire = core.next_chunk;
                core.next_chunk += 1;
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
        // Batches: consecutive chunks up to batch_samples samples.
        let mut batch: Vec<usize> = Vec::new();
        let mut samples = 0;
        for (c, chunk) in run.chunks.iter().enumerate() {
            if !batch.is_empty() && samples + chunk.count > opts.batch_samples {
                run.queue.push_back(std::mem::take(&mut batch));
                samples = 0;
            }
            batch.push(c);
            samples += chunk.count;
        }
        if !batch.is_empty() {
            run.queue.push_back(batch);
        }

        let mut reported = 0;
        while reported < requests.len() {
            // Report complete requests.
            for r in std::mem::take(&mut run.ready) {
                let result = run.assemble(r, dims);
                on_result(&result)?;
                run.results[r] = Some(result);
                reported += 1;
            }
            if reported == requests.len() {
                break;
            }
            // Dispatch queued batches to idle workers; respawn dead ones.
            for i in 0..core.slots.len() {
                if run.queue.is_empty() {
                    break;
                }
                match core.slots[i].state {
                    State::Idle => {
                        let Some(chunks) = run.queue.pop_front() else {
                            break;
                        };
                        let id = core.next_batch;
                        core.next_batch += 1;
                        let wire: Vec<WireRequest> = chunks
                            .iter()
                            .map(|&c| {
                                let ch = &run.chunks[c];
                                WireRequest {
                                    request: ch.wire,
                                    psi: &requests[ch.request].psi,
                                    samples: ch.count,
                                    seed: ch.seed,
                                }
                            })
                            .collect();
                        let line = protocol::encode_batch(id, &wire);
                        for &c in &chunks {
                            run.chunks[c].attempts += 1;
                        }
                        let mut mark = 0;
                        if let Some(p) = &core.slots[i].process {
                            mark = p.tail_mark();
                            if let Some(input) = &p.input {
                                // A closed stdin shows up as end of file
                                // on stdout; nothing to do here.
                                let _ = input.send(line);
                            }
                        }
                        core.slots[i].state = State::Busy {
                            batch: id,
                            chunks,
                            deadline: opts.timeout.map(|t| Instant::now() + t),
                            mark,
                        };
                    }
                    State::Dead if !core.slots[i].respawn_failed => {
                        if let Err(e) = core.spawn(i) {
                            core.slots[i].respawn_failed = true;
                            run.last_spawn_error = e;
                        }
                    }
                    _ => {}
                }
            }
            let working = core.slots.iter().any(|s| !matches!(s.state, State::Dead));
            if !working && !run.queue.is_empty() {
                // Every worker is dead and could not be respawned.
                let why = format!(
                    "no simulator worker could be (re)started: {}",
                    run.last_spawn_error
                );
                while let Some(chunks) = run.queue.pop_front() {
                    for c in chunks {
                        let f =
                            run.failure(c, FailureKind::Spawn, &why, "no worker", String::new());
                        run.settle(c, ChunkOutcome::Failed(f));
                    }
                }
                continue;
            }
            // Wait for the next line, end of file or deadline.
            let deadline = core
                .slots
                .iter()
                .filter_map(|s| match &s.state {
                    State::Starting { deadline } => Some(*deadline),
                    State::Busy { deadline, .. } => *deadline,
                    _ => None,
                })
                .min();
            let Some(event) = core.next_event(deadline) else {
                let now = Instant::now();
                for i in 0..core.slots.len() {
                    match &core.slots[i].state {
                        State::Busy {
                            deadline: Some(d),
                            chunks,
                            ..
                        } if *d <= now => {
                            let chunks = chunks.clone();
                            let pid = core.slots[i].process.as_ref().map_or(0, Process::pid);
                            let tail = core.kill(i);
                            let what = format!(
                                "no answer within the timeout of {:.3} s; the worker was killed",
                                opts.timeout.map_or(0.0, |t| t.as_secs_f64())
                            );
                            run.retry_or_fail(
                                chunks,
                                FailureKind::Timeout,
                                &what,
                                &format!("worker {i}, pid {pid}"),
                                &tail,
                            );
                        }
                        State::Starting { deadline } if *deadline <= now => {
                            let tail = core.kill(i);
                            core.slots[i].respawn_failed = true;
                            run.last_spawn_error = format!(
                                "a respawned worker sent no handshake within {:.1} s; stderr: {}",
                                opts.handshake_timeout.as_secs_f64(),
                                tail.replace('\n', " | ")
                            );
                        }
                        _ => {}
                    }
                }
                continue;
            };
            if !core.is_current(&event) {
                continue;
            }
            let i = event.slot;
            let pid = core.slots[i].process.as_ref().map_or(0, Process::pid);
            let worker = format!("worker {i}, pid {pid}");
            let state = std::mem::replace(&mut core.slots[i].state, State::Dead);
            match (state, event.kind) {
                (State::Busy { chunks, .. }, EventKind::Eof) => {
                    let (kind, how, tail, _) = core.reap(i);
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
                ) => match check_answer(*answer, batch, &chunks, &run) {
                    Err(why) => {
                        let tail = core.kill(i);
                        let what = format!("malformed answer, the worker was killed: {why}");
                        run.retry_or_fail(chunks, FailureKind::Malformed, &what, &worker, &tail);
                    }
                    Ok(bodies) => {
                        core.slots[i].state = State::Idle;
                        let needs_tail = bodies
                            .iter()
                            .any(|b| !matches!(b, Checked::Good { finite: true, .. }));
                        let tail = match (&core.slots[i].process, needs_tail) {
                            (Some(p), true) => p.tail_after(TAIL_GRACE, mark),
                            _ => String::new(),
                        };
                        for (&c, body) in chunks.iter().zip(bodies) {
                            let outcome = match body {
                                Checked::Good { x, y, finite } => ChunkOutcome::Done {
                                    x,
                                    y,
                                    tail: if finite { String::new() } else { tail.clone() },
                                },
                                Checked::Bad(kind, what) => ChunkOutcome::Failed(run.failure(
                                    c,
                                    kind,
                                    &what,
                                    &worker,
                                    tail.clone(),
                                )),
                            };
                            run.settle(c, outcome);
                        }
                    }
                },
                (State::Starting { .. }, EventKind::Line(line)) => {
                    match protocol::parse_handshake(&line) {
                        Ok(hs) if hs == self.handshake => core.slots[i].state = State::Idle,
                        Ok(_) => {
                            let tail = core.kill(i);
                            core.slots[i].respawn_failed = true;
                            run.last_spawn_error = format!(
                                "a respawned worker sent a different handshake: {}; stderr: {}",
                                protocol::excerpt(&line),
                                tail.replace('\n', " | ")
                            );
                        }
                        Err(reason) => {
                            let tail = core.kill(i);
                            core.slots[i].respawn_failed = true;
                            run.last_spawn_error =
                                format!("{reason}; stderr: {}", tail.replace('\n', " | "));
                        }
                    }
                }
                (State::Starting { .. }, EventKind::Eof) => {
                    let (_, how, tail, _) = core.reap(i);
                    core.slots[i].respawn_failed = true;
                    run.last_spawn_error = format!(
                        "a respawned worker {how} before its handshake; stderr: {}",
                        tail.replace('\n', " | ")
                    );
                }
                (_, EventKind::Eof) => {
                    // An idle worker ended: respawned when needed.
                    core.reap(i);
                }
                (_, EventKind::Line(_) | EventKind::Answer(_)) => {
                    // A line nobody asked for: the stream is out of sync.
                    core.kill(i);
                }
            }
        }
        Ok(run.results.into_iter().flatten().collect())
    }
}

/// A chunk's answer after the checks of docs/protocol.md, "Validation".
enum Checked {
    Good {
        x: Vec<f64>,
        y: Vec<f64>,
        finite: bool,
    },
    Bad(FailureKind, String),
}

/// Checks the parsed `answer` to batch `batch` (chunks `chunks`) and checks
/// each chunk's count and dims.
///
/// # Errors
/// Why the line is malformed: not an answer, another batch id, a missing,
/// unknown or repeated request id.
fn check_answer(
    answer: std::result::Result<Answer, String>,
    batch: u64,
    chunks: &[usize],
    run: &Run<'_>,
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
        let known = run.by_wire.get(&id).is_some_and(|c| chunks.contains(c));
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
            let chunk = &run.chunks[c];
            let body = bodies.remove(&chunk.wire).ok_or_else(|| {
                format!(
                    "answer to batch {batch} has no result for request {}",
                    chunk.wire
                )
            })?;
            Ok(check_body(body, chunk.count, run.xy))
        })
        .collect()
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
