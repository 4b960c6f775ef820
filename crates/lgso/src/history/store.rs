//! The run database: a SQLite file (`run.sqlite`) in the run directory that
//! holds everything needed to continue a run after a crash (design.md,
//! layer 3: the history is the most valuable data a user has).
//!
//! - Every simulator request is committed, with its samples, in its own
//!   transaction as soon as its result arrives ([`RunStore::commit_request`]),
//!   before the rest of its batch is back: a crash loses at most the
//!   requests still in flight.
//! - After each iteration, its trace row and the optimizer's full state
//!   (psi, Adam moments, iteration, the seed from which every random stream
//!   is derived) are committed together ([`RunStore::commit_iteration`]).
//! - Rejected samples (NaN or infinity) are kept, flagged `rejected`, and
//!   never enter the training history.
//!
//! The file is written in WAL mode with `synchronous = FULL`: a committed
//! request survives a killed process and a power cut.
//!
//! ## Schema (format `lgso-run/2`)
//! | table | one row per | columns |
//! | --- | --- | --- |
//! | `meta` | setting | `key`, `value` (format, config TOML, status, stop reason, evaluator) |
//! | `requests` | request | `id`, `iteration`, `kind` (`step` or `monitor`), `psi` (little-endian f64 `[n]`), `count`, `seed`, `good`, `rejected`, `failure_kind`, `failure`, `stderr_tail`, `attempts`, `seconds` |
//! | `samples` | request and status | `request_id`, `status` (`good` or `rejected`), `rows`, `x`, `y` (little-endian f64, row-major `[rows, d]`, `[rows, m]`) |
//! | `iterations` | completed iteration | `iteration`, `calls`, `report` (JSON trace row), `state` (JSON optimizer state: [`crate::optimizer::PsiState`] and the method's own part) |
//!
//! Format `lgso-run/1`, the same tables with a state for L-GSO only (NULL
//! for the baselines, which a resumed run then replays), is read too; a
//! new run is written as `lgso-run/2`, which an lgso that reads only
//! `lgso-run/1` refuses by name instead of failing to restore a
//! baseline's state.

use std::path::{Path, PathBuf};

use rusqlite::{params, Connection, OptionalExtension};

use super::History;
use crate::data::{Matrix, Request, Samples};
use crate::error::{Error, Result};
use crate::evaluate::{Failure, FailureKind, RequestResult};
use crate::report::IterationReport;

/// The database's file name inside a run directory.
pub const FILE: &str = "run.sqlite";

/// The format written in `meta.format`.
pub const FORMAT: &str = "lgso-run/2";

/// The formats read: [`FORMAT`] and `lgso-run/1` (the same tables, with an
/// optimizer state for L-GSO only).
pub const FORMATS_READ: [&str; 2] = [FORMAT, "lgso-run/1"];

/// Why a request was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestKind {
    /// Asked by the optimizer; its good samples enter the history.
    Step,
    /// Drawn to estimate the objective for the trace; never trained on.
    Monitor,
}

impl RequestKind {
    fn name(self) -> &'static str {
        match self {
            RequestKind::Step => "step",
            RequestKind::Monitor => "monitor",
        }
    }
}

/// The state of a run as recorded in `meta.status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunStatus {
    /// Started and not (yet) finished: running, or killed.
    Running,
    /// Ended by a stopping rule (budget, iterations, target).
    Finished,
    /// Ended by an error; resumable once the cause is fixed.
    Failed,
}

impl RunStatus {
    /// `running`, `finished` or `failed`.
    pub fn name(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Finished => "finished",
            RunStatus::Failed => "failed",
        }
    }

    fn parse(s: &str) -> Option<RunStatus> {
        match s {
            "running" => Some(RunStatus::Running),
            "finished" => Some(RunStatus::Finished),
            "failed" => Some(RunStatus::Failed),
            _ => None,
        }
    }
}

/// The last completed iteration as stored.
#[derive(Debug, Clone)]
pub struct Checkpoint {
    /// Its trace row.
    pub report: IterationReport,
    /// Simulator calls charged up to and including it.
    pub calls: u64,
    /// The optimizer's state after it, if the optimizer can save one.
    pub state: Option<serde_json::Value>,
}

/// An open run database.
pub struct RunStore {
    conn: Connection,
    path: PathBuf,
}

fn sql_err(path: &Path) -> impl Fn(rusqlite::Error) -> Error + '_ {
    move |e| Error::Store {
        path: path.display().to_string(),
        reason: e.to_string(),
    }
}

fn to_blob(m: &Matrix) -> Vec<u8> {
    m.as_slice().iter().flat_map(|v| v.to_le_bytes()).collect()
}

fn vec_blob(v: &[f64]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn blob_vec(bytes: &[u8]) -> Vec<f64> {
    bytes
        .chunks_exact(8)
        .map(|c| f64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
        .collect()
}

fn from_blob(bytes: &[u8], rows: usize, cols: usize) -> Option<Matrix> {
    if bytes.len() != rows * cols * 8 {
        return None;
    }
    let data = bytes
        .chunks_exact(8)
        .map(|c| f64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
        .collect();
    Matrix::from_vec(rows, cols, data).ok()
}

impl RunStore {
    /// Creates `dir/run.sqlite` for a new run and records the format and
    /// `config_toml`.
    ///
    /// # Errors
    /// [`Error::Store`] when the file exists already or cannot be written.
    pub fn create(dir: &Path, config_toml: &str, evaluator: &str) -> Result<RunStore> {
        let path = dir.join(FILE);
        if path.exists() {
            return Err(Error::Store {
                path: path.display().to_string(),
                reason: "a run database exists already; a run is never overwritten".into(),
            });
        }
        let conn = Connection::open(&path).map_err(sql_err(&path))?;
        let store = RunStore { conn, path };
        store.pragmas()?;
        store
            .conn
            .execute_batch(
                "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
                 CREATE TABLE requests(
                    id INTEGER PRIMARY KEY, iteration INTEGER NOT NULL, kind TEXT NOT NULL,
                    psi BLOB NOT NULL, count INTEGER NOT NULL, seed INTEGER NOT NULL,
                    good INTEGER NOT NULL, rejected INTEGER NOT NULL, failure_kind TEXT,
                    failure TEXT, stderr_tail TEXT, attempts INTEGER NOT NULL,
                    seconds REAL NOT NULL);
                 CREATE TABLE samples(
                    request_id INTEGER NOT NULL, status TEXT NOT NULL, rows INTEGER NOT NULL,
                    x BLOB NOT NULL, y BLOB NOT NULL, PRIMARY KEY(request_id, status));
                 CREATE TABLE iterations(
                    iteration INTEGER PRIMARY KEY, calls INTEGER NOT NULL,
                    report TEXT NOT NULL, state TEXT);",
            )
            .map_err(sql_err(&store.path))?;
        store.set_meta("format", FORMAT)?;
        store.set_meta("config", config_toml)?;
        store.set_meta("evaluator", evaluator)?;
        store.set_meta("status", RunStatus::Running.name())?;
        Ok(store)
    }

    /// Opens the database of an existing run directory.
    ///
    /// # Errors
    /// [`Error::NotARun`] when `dir` has no `run.sqlite` or the file is not
    /// an lgso run database of a known format.
    pub fn open(dir: &Path) -> Result<RunStore> {
        let path = dir.join(FILE);
        let not_a_run = |reason: String| Error::NotARun {
            dir: dir.display().to_string(),
            reason,
        };
        if !dir.is_dir() {
            return Err(not_a_run("it is not a directory".into()));
        }
        if !path.is_file() {
            return Err(not_a_run(format!(
                "it holds no {FILE} (runs made by lgso since format {FORMAT} have one)"
            )));
        }
        let conn = Connection::open_with_flags(&path, rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE)
            .map_err(|e| not_a_run(format!("{FILE} cannot be opened: {e}")))?;
        let store = RunStore { conn, path };
        let format: Option<String> = store
            .conn
            .query_row("SELECT value FROM meta WHERE key = 'format'", [], |r| {
                r.get(0)
            })
            .optional()
            .map_err(|e| not_a_run(format!("{FILE} is not an lgso run database ({e})")))?;
        match format.as_deref() {
            Some(f) if FORMATS_READ.contains(&f) => {}
            Some(other) => {
                return Err(not_a_run(format!(
                    "{FILE} has format {other:?}, this lgso reads {}",
                    FORMATS_READ.join(" and ")
                )))
            }
            None => return Err(not_a_run(format!("{FILE} records no format"))),
        }
        store.pragmas()?;
        Ok(store)
    }

    fn pragmas(&self) -> Result<()> {
        self.conn
            .execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;")
            .map_err(sql_err(&self.path))
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Sets a `meta` value.
    ///
    /// # Errors
    /// [`Error::Store`].
    pub fn set_meta(&self, key: &str, value: &str) -> Result<()> {
        self.conn
            .execute(
                "INSERT INTO meta(key, value) VALUES (?1, ?2)
                 ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                params![key, value],
            )
            .map(|_| ())
            .map_err(sql_err(&self.path))
    }

    /// A `meta` value, if set.
    ///
    /// # Errors
    /// [`Error::Store`].
    pub fn meta(&self, key: &str) -> Result<Option<String>> {
        self.conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()
            .map_err(sql_err(&self.path))
    }

    /// The run's status (`meta.status`).
    ///
    /// # Errors
    /// [`Error::Store`]; [`Error::NotARun`] for an unknown status.
    pub fn status(&self) -> Result<RunStatus> {
        let s = self.meta("status")?.unwrap_or_default();
        RunStatus::parse(&s).ok_or_else(|| Error::NotARun {
            dir: self.path.display().to_string(),
            reason: format!("unknown status {s:?}"),
        })
    }

    /// Records how the run ended (status, stop reason, error message).
    ///
    /// # Errors
    /// [`Error::Store`].
    pub fn set_status(
        &self,
        status: RunStatus,
        stop_reason: &str,
        error: Option<&str>,
    ) -> Result<()> {
        self.set_meta("status", status.name())?;
        self.set_meta("stop_reason", stop_reason)?;
        self.set_meta("error", error.unwrap_or(""))
    }

    /// Commits one request's result (its row and its good and rejected
    /// samples) in one transaction. A request that is already stored with
    /// good samples is left as it is (the first answer is kept); one stored
    /// without any (it failed) is replaced, so that a resumed run can
    /// simulate failed requests again.
    ///
    /// # Errors
    /// [`Error::Store`].
    pub fn commit_request(&mut self, kind: RequestKind, r: &RequestResult) -> Result<()> {
        let path = self.path.clone();
        let err = sql_err(&path);
        let tx = self.conn.transaction().map_err(&err)?;
        let stored_good: Option<i64> = tx
            .query_row(
                "SELECT good FROM requests WHERE id = ?1",
                [r.request.id as i64],
                |row| row.get(0),
            )
            .optional()
            .map_err(&err)?;
        if stored_good == Some(0) {
            tx.execute(
                "DELETE FROM samples WHERE request_id = ?1",
                [r.request.id as i64],
            )
            .map_err(&err)?;
            tx.execute("DELETE FROM requests WHERE id = ?1", [r.request.id as i64])
                .map_err(&err)?;
        }
        let psi = vec_blob(&r.request.psi);
        let (fk, fm, ft) = match &r.failure {
            Some(f) => (
                Some(f.kind.name()),
                Some(f.message.as_str()),
                Some(f.stderr_tail.as_str()),
            ),
            None => (None, None, None),
        };
        let inserted = tx
            .execute(
                "INSERT OR IGNORE INTO requests(id, iteration, kind, psi, count, seed, good,
                    rejected, failure_kind, failure, stderr_tail, attempts, seconds)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
                params![
                    r.request.id as i64,
                    r.request.iteration as i64,
                    kind.name(),
                    psi,
                    r.request.count as i64,
                    r.request.seed as i64,
                    r.samples.len() as i64,
                    r.rejected.len() as i64,
                    fk,
                    fm,
                    ft,
                    r.attempts as i64,
                    r.seconds
                ],
            )
            .map_err(&err)?;
        if inserted == 1 {
            for (status, s) in [("good", &r.samples), ("rejected", &r.rejected)] {
                if s.is_empty() {
                    continue;
                }
                tx.execute(
                    "INSERT INTO samples(request_id, status, rows, x, y) VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![
                        r.request.id as i64,
                        status,
                        s.len() as i64,
                        to_blob(&s.x),
                        to_blob(&s.y)
                    ],
                )
                .map_err(&err)?;
            }
        }
        tx.commit().map_err(&err)
    }

    /// The stored result of `request`, if it was committed before with the
    /// same id, seed, count and psi (a resumed run re-asks the requests of
    /// the interrupted iteration and gets these back instead of simulating
    /// them again).
    ///
    /// # Errors
    /// [`Error::Store`]; [`Error::Protocol`] when a request with the same
    /// id but a different seed, count or psi is stored (the run was resumed
    /// with a different configuration or binary).
    pub fn completed(
        &self,
        request: &Request,
        dims: (usize, usize, usize),
    ) -> Result<Option<RequestResult>> {
        let err = sql_err(&self.path);
        type Row = (
            i64,
            Vec<u8>,
            i64,
            Option<String>,
            Option<String>,
            Option<String>,
            i64,
            f64,
        );
        let row: Option<Row> = self
            .conn
            .query_row(
                "SELECT seed, psi, count, failure_kind, failure, stderr_tail, attempts, seconds
                 FROM requests WHERE id = ?1",
                [request.id as i64],
                |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                        r.get(6)?,
                        r.get(7)?,
                    ))
                },
            )
            .optional()
            .map_err(&err)?;
        let Some((seed, psi, count, fk, fm, ft, attempts, seconds)) = row else {
            return Ok(None);
        };
        let psi = blob_vec(&psi);
        if seed as u64 != request.seed || count as usize != request.count || psi != request.psi {
            return Err(Error::Protocol(format!(
                "request {} in {} was made with another seed, count or psi than the resumed run asks for; \
                 the run cannot be continued with this configuration",
                request.id,
                self.path.display()
            )));
        }
        let (n, d, m) = dims;
        let mut result = RequestResult {
            request: request.clone(),
            samples: Samples::empty(n, d, m),
            rejected: Samples::empty(n, d, m),
            failure: fk.map(|k| Failure {
                kind: parse_kind(&k),
                message: fm.unwrap_or_default(),
                stderr_tail: ft.unwrap_or_default(),
            }),
            attempts: attempts as u32,
            seconds,
        };
        let mut stmt = self
            .conn
            .prepare_cached("SELECT status, rows, x, y FROM samples WHERE request_id = ?1")
            .map_err(&err)?;
        let mut rows = stmt.query([request.id as i64]).map_err(&err)?;
        while let Some(row) = rows.next().map_err(&err)? {
            let status: String = row.get(0).map_err(&err)?;
            let k: i64 = row.get(1).map_err(&err)?;
            let x: Vec<u8> = row.get(2).map_err(&err)?;
            let y: Vec<u8> = row.get(3).map_err(&err)?;
            let k = k as usize;
            let (Some(x), Some(y)) = (from_blob(&x, k, d), from_blob(&y, k, m)) else {
                return Err(Error::Store {
                    path: self.path.display().to_string(),
                    reason: format!("samples of request {} have the wrong size", request.id),
                });
            };
            let s = Samples {
                psi: Matrix::repeat_row(&request.psi, k),
                x,
                y,
            };
            if status == "good" {
                result.samples = s;
            } else {
                result.rejected = s;
            }
        }
        Ok(Some(result))
    }

    /// Commits a completed iteration: its trace row, the calls charged so
    /// far and the optimizer state, in one transaction.
    ///
    /// # Errors
    /// [`Error::Store`].
    pub fn commit_iteration(
        &mut self,
        report: &IterationReport,
        calls: u64,
        state: Option<&serde_json::Value>,
    ) -> Result<()> {
        let path = self.path.clone();
        let json_err = |e: serde_json::Error| Error::Store {
            path: path.display().to_string(),
            reason: e.to_string(),
        };
        let report_json = serde_json::to_string(report).map_err(json_err)?;
        let state_json = state
            .map(serde_json::to_string)
            .transpose()
            .map_err(json_err)?;
        self.conn
            .execute(
                "INSERT OR REPLACE INTO iterations(iteration, calls, report, state) VALUES (?1, ?2, ?3, ?4)",
                params![report.iteration as i64, calls as i64, report_json, state_json],
            )
            .map(|_| ())
            .map_err(sql_err(&self.path))
    }

    /// Every stored trace row, in iteration order.
    ///
    /// # Errors
    /// [`Error::Store`] (also for a row that does not parse).
    pub fn reports(&self) -> Result<Vec<IterationReport>> {
        let err = sql_err(&self.path);
        let mut stmt = self
            .conn
            .prepare("SELECT report FROM iterations ORDER BY iteration")
            .map_err(&err)?;
        let rows = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(&err)?;
        let mut out = Vec::new();
        for row in rows {
            let text = row.map_err(&err)?;
            out.push(serde_json::from_str(&text).map_err(|e| Error::Store {
                path: self.path.display().to_string(),
                reason: format!("a trace row does not parse: {e}"),
            })?);
        }
        Ok(out)
    }

    /// The last completed iteration, if any.
    ///
    /// # Errors
    /// [`Error::Store`].
    pub fn last_checkpoint(&self) -> Result<Option<Checkpoint>> {
        let err = sql_err(&self.path);
        let row: Option<(i64, String, Option<String>)> = self
            .conn
            .query_row(
                "SELECT calls, report, state FROM iterations ORDER BY iteration DESC LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()
            .map_err(&err)?;
        let Some((calls, report, state)) = row else {
            return Ok(None);
        };
        let bad = |e: serde_json::Error| Error::Store {
            path: self.path.display().to_string(),
            reason: format!("the last checkpoint does not parse: {e}"),
        };
        Ok(Some(Checkpoint {
            report: serde_json::from_str(&report).map_err(bad)?,
            calls: calls as u64,
            state: state
                .map(|s| serde_json::from_str(&s))
                .transpose()
                .map_err(bad)?,
        }))
    }

    /// Rebuilds the training history: the good samples of every `step`
    /// request of iterations `< before`, in request order (the order in
    /// which an uninterrupted run appended them).
    ///
    /// # Errors
    /// [`Error::Store`].
    pub fn history(&self, dims: (usize, usize, usize), before: u64) -> Result<History> {
        let (n, d, m) = dims;
        let mut history = History::new(n, d, m);
        for result in self.results(dims, Some(before))? {
            history.append(&[crate::data::Outcome {
                request: result.request.clone(),
                samples: result.samples,
            }])?;
        }
        Ok(history)
    }

    /// Every stored `step` request (with iteration `< before`, if given) and
    /// its samples, in request order.
    ///
    /// # Errors
    /// [`Error::Store`].
    pub fn results(
        &self,
        dims: (usize, usize, usize),
        before: Option<u64>,
    ) -> Result<Vec<RequestResult>> {
        self.requests_of_kind(RequestKind::Step, dims, before)
    }

    /// Every stored request of `kind` (iteration `< before`, if given), in
    /// id order, with its samples.
    ///
    /// # Errors
    /// [`Error::Store`].
    pub fn requests_of_kind(
        &self,
        kind: RequestKind,
        dims: (usize, usize, usize),
        before: Option<u64>,
    ) -> Result<Vec<RequestResult>> {
        let err = sql_err(&self.path);
        let mut stmt = self
            .conn
            .prepare(
                "SELECT id, iteration, psi, count, seed FROM requests
                 WHERE kind = ?1 AND iteration < ?2 ORDER BY id",
            )
            .map_err(&err)?;
        let limit = before.map_or(i64::MAX, |b| b as i64);
        let requests: Vec<Request> = stmt
            .query_map(params![kind.name(), limit], |r| {
                let psi: Vec<u8> = r.get(2)?;
                Ok(Request {
                    id: r.get::<_, i64>(0)? as u64,
                    iteration: r.get::<_, i64>(1)? as u64,
                    psi: blob_vec(&psi),
                    count: r.get::<_, i64>(3)? as usize,
                    seed: r.get::<_, i64>(4)? as u64,
                })
            })
            .map_err(&err)?
            .collect::<rusqlite::Result<_>>()
            .map_err(&err)?;
        let mut out = Vec::with_capacity(requests.len());
        for r in &requests {
            if let Some(result) = self.completed(r, dims)? {
                out.push(result);
            }
        }
        Ok(out)
    }
}

fn parse_kind(s: &str) -> FailureKind {
    match s {
        "spawn" => FailureKind::Spawn,
        "exit" => FailureKind::Exit,
        "crash" => FailureKind::Crash,
        "malformed" => FailureKind::Malformed,
        "wrong_count" => FailureKind::WrongCount,
        "wrong_dims" => FailureKind::WrongDims,
        "non_finite" => FailureKind::NonFinite,
        "timeout" => FailureKind::Timeout,
        _ => FailureKind::Simulator,
    }
}
