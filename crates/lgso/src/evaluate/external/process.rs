//! One running simulator process and its I/O threads.
//!
//! A [`Process`] has three threads: a writer (batch lines to its stdin,
//! so a simulator that stops reading never blocks lgso), a stdout reader
//! (each line becomes an [`Event`] in the pool's one channel; answers are
//! parsed there, so the workers' answers are parsed in parallel; end of
//! file is an event too) and a stderr reader (keeping the last lines, the
//! [`Tail`] quoted in failure messages).

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use super::protocol::{self, Answer};
use crate::evaluate::FailureKind;

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
/// `errno` ETXTBSY ("text file busy", Linux 26).
const TEXT_FILE_BUSY: i32 = 26;

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
pub(super) enum EventKind {
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
pub(super) struct Event {
    pub(super) slot: usize,
    pub(super) gen: u64,
    pub(super) kind: EventKind,
}

/// One running simulator process.
pub(super) struct Process {
    child: Child,
    gen: u64,
    /// Lines for the writer thread; dropping it closes the stdin.
    input: Option<Sender<String>>,
    tail: SharedTail,
}

impl Process {
    /// Starts `argv` (never through a shell) as worker `slot`, process
    /// generation `gen`, with its three threads; its stdout lines and end
    /// of file go to `events`. A spawn that fails with ETXTBSY (text file
    /// busy: a just-written executable whose write descriptor another
    /// thread's fork still holds until that child execs) is retried after
    /// short waits (5, 20, 50, 100, 200 ms).
    ///
    /// # Errors
    /// A one-line reason: program not found, not executable, other spawn
    /// errors, pipes that cannot be opened.
    pub(super) fn spawn(
        argv: &[String],
        slot: usize,
        gen: u64,
        events: Sender<Event>,
    ) -> std::result::Result<Process, String> {
        let program = &argv[0];
        let start = || {
            Command::new(program)
                .args(&argv[1..])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
        };
        let mut started = start();
        for wait_ms in [5, 20, 50, 100, 200] {
            match &started {
                Err(e) if e.raw_os_error() == Some(TEXT_FILE_BUSY) => {
                    thread::sleep(Duration::from_millis(wait_ms));
                    started = start();
                }
                _ => break,
            }
        }
        let mut child = started.map_err(|e| spawn_error(program, &e))?;
        let (Some(stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("cannot open the pipes of `{program}`"));
        };
        let input = spawn_writer(stdin);
        let tail = spawn_stderr_reader(stderr);
        spawn_stdout_reader(stdout, slot, gen, events);
        Ok(Process {
            child,
            gen,
            input: Some(input),
            tail,
        })
    }

    /// The process id.
    pub(super) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The process generation given to [`Process::spawn`].
    pub(super) fn gen(&self) -> u64 {
        self.gen
    }

    /// Queues `line` for the process's stdin. A closed stdin shows up as
    /// end of file on stdout; nothing to do here.
    pub(super) fn send(&self, line: String) {
        if let Some(input) = &self.input {
            let _ = input.send(line);
        }
    }

    /// Closes the process's stdin (the protocol's shutdown).
    pub(super) fn close_stdin(&mut self) {
        self.input = None;
    }

    /// Waits up to `wait` for the process to exit, then kills it; returns
    /// its exit status (`None` when it had to be killed).
    pub(super) fn reap(&mut self, wait: Duration) -> Option<ExitStatus> {
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

    /// Kills the process and waits for it; returns its stderr tail.
    pub(super) fn kill(mut self) -> String {
        self.input = None;
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.tail_after(REAP_WAIT, u64::MAX)
    }

    /// Reaps the process after end of file on its stdout; returns the
    /// failure kind, a description of how it ended ([`describe_status`])
    /// and its stderr tail.
    pub(super) fn ended(mut self) -> (FailureKind, String, String) {
        let status = self.reap(REAP_WAIT);
        let (kind, how) = describe_status(status);
        (kind, how, self.tail_after(REAP_WAIT, u64::MAX))
    }

    /// Lines read from stderr so far.
    pub(super) fn tail_mark(&self) -> u64 {
        self.tail
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .total
    }

    /// The stderr tail of a live process, after waiting a little for a
    /// line written since `mark` ([`Process::tail_mark`]).
    pub(super) fn tail_since(&self, mark: u64) -> String {
        self.tail_after(TAIL_GRACE, mark)
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

/// Why `program` could not be started, in one line.
fn spawn_error(program: &str, e: &std::io::Error) -> String {
    match e.kind() {
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
