//! What one bench run left ([`Record`]): its row of `results.csv` and of
//! bench.md's table of runs, its trace, and the metrics read from the trace
//! (`metric.rs`).

use std::fs;
use std::path::Path;

use lgso::report::IterationReport;

use super::metric::{calls_to_first_reach, calls_to_stay_below, median, Judge, TracePoint};
use super::setting::Setting;
use super::table::CONFIGURED;
use super::Job;
use crate::run::Finished;
use crate::text;

/// What a run left: a row of `results.csv`, its trace for the plot and,
/// when it succeeded, the whole run for the table of runs.
pub struct Record {
    pub problem: &'static str,
    pub method: String,
    /// The setting's label (empty: the configured setting).
    pub setting: String,
    /// The value of each swept key, by key (rendered).
    pub setting_values: Vec<(String, String)>,
    pub seed: u64,
    pub target: f64,
    pub judge: Judge,
    /// The error of a failed run (one line); `None` when it succeeded.
    pub error: Option<String>,
    pub stop_reason: String,
    pub calls: Option<u64>,
    pub iterations: Option<u64>,
    pub objective_start: Option<f64>,
    pub objective_final: Option<f64>,
    pub objective_final_stderr: Option<f64>,
    pub objective_final_exact: Option<f64>,
    /// Calls of the first row whose estimate is at or below the target
    /// (the rule of `stop.target`).
    pub calls_to_target: Option<u64>,
    pub calls_to_first_reach: Option<u64>,
    pub calls_to_stay_below: Option<u64>,
    pub seconds_total: Option<f64>,
    /// Every row, the start point first (up to the failure for a failed
    /// run).
    pub trace: Vec<TracePoint>,
    pub finished: Option<Finished>,
}

/// The fixed columns of `results.csv` before the swept keys' columns.
pub const RESULTS_LEAD: &[&str] = &["problem", "method", "setting"];

/// The fixed columns of `results.csv` after the swept keys' columns.
pub const RESULTS_TAIL: &[&str] = &[
    "seed",
    "status",
    "stop_reason",
    "calls",
    "iterations",
    "objective_start",
    "objective_final",
    "objective_final_stderr",
    "objective_final_exact",
    "target",
    "judged_on",
    "calls_to_first_reach",
    "calls_to_stay_below",
    "calls_to_target",
    "seconds_total",
    "error",
];

/// Columns of the table per run.
pub const RUN_HEADERS: &[&str] = &[
    "problem",
    "method",
    "setting",
    "seed",
    "calls",
    "iterations",
    "objective start",
    "objective final",
    "exact final",
    "calls to first reach",
    "calls to stay below",
    "s / iteration",
    "fit share",
    "fit s / it",
    "simulate s / it",
    "gradient s / it",
];

impl Record {
    pub fn new(
        job: &Job,
        setting: &Setting,
        result: anyhow::Result<Finished>,
        wall: f64,
    ) -> Record {
        let mut r = Record {
            problem: job.problem(),
            method: job.method().to_string(),
            setting: job.label.clone(),
            setting_values: setting
                .assignments
                .iter()
                .map(|a| (a.key.clone(), super::sweep::render(&a.value)))
                .collect(),
            seed: job.seed,
            target: job.cfg.problem.target,
            judge: Judge::of(&job.cfg.problem),
            error: None,
            stop_reason: String::new(),
            calls: None,
            iterations: None,
            objective_start: None,
            objective_final: None,
            objective_final_stderr: None,
            objective_final_exact: None,
            calls_to_target: None,
            calls_to_first_reach: None,
            calls_to_stay_below: None,
            seconds_total: Some(wall),
            trace: Vec::new(),
            finished: None,
        };
        match result {
            Ok(done) => {
                let s = &done.summary;
                r.stop_reason = s.stop_reason.name().to_string();
                r.calls = Some(s.calls);
                r.iterations = Some(s.iterations);
                r.objective_start = Some(s.objective_start);
                r.objective_final = Some(s.objective_final);
                r.objective_final_stderr = Some(s.objective_final_stderr);
                r.objective_final_exact = s.objective_final_exact;
                r.seconds_total = Some(s.seconds_total);
                r.trace = done.reports.iter().map(TracePoint::from).collect();
                r.finished = Some(done);
            }
            Err(e) => {
                r.error = Some(format!("{e:#}").replace('\n', " "));
                r.stop_reason = "failed".into();
                // summary.json records the failure, trace.csv the
                // iterations before it.
                if let Some(v) = fs::read_to_string(job.dir.join("summary.json"))
                    .ok()
                    .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
                {
                    let f = |key: &str| v[key].as_f64();
                    if let Some(reason) = v["stop_reason"].as_str() {
                        reason.clone_into(&mut r.stop_reason);
                    }
                    r.calls = v["calls"].as_u64();
                    r.iterations = v["iterations"].as_u64();
                    r.objective_start = f("objective_start");
                    r.objective_final = f("objective_final");
                    r.objective_final_stderr = f("objective_final_stderr");
                    r.objective_final_exact = f("objective_final_exact");
                    r.seconds_total = f("seconds_total").or(r.seconds_total);
                }
                r.trace = read_trace(&job.dir.join("trace.csv"));
            }
        }
        r.measure();
        r
    }

    /// Fills the calls to target, to first reach and to stay below from
    /// the trace, the target, the judge and the stop reason.
    pub fn measure(&mut self) {
        let target = self.target;
        self.calls_to_target = self
            .trace
            .iter()
            .find(|p| p.objective <= target)
            .map(|p| p.calls);
        self.calls_to_first_reach = calls_to_first_reach(&self.trace, self.judge, target);
        let ran_to_end = self.ok()
            && matches!(
                self.stop_reason.as_str(),
                "budget" | "max_iterations" | "converged"
            );
        self.calls_to_stay_below = calls_to_stay_below(&self.trace, self.judge, target, ran_to_end);
    }

    pub fn ok(&self) -> bool {
        self.error.is_none()
    }

    /// The final objective as judged: the exact value at the final psi,
    /// or the estimate there.
    pub fn final_judged(&self) -> Option<f64> {
        match self.judge {
            Judge::Exact => self.objective_final_exact,
            Judge::Estimate => self.objective_final,
        }
        .filter(|v| v.is_finite())
    }

    /// `(calls, judged objective)` per trace row, for the plot.
    pub fn judged_trace(&self) -> Vec<(u64, f64)> {
        self.trace
            .iter()
            .map(|p| (p.calls, self.judge.value(p)))
            .collect()
    }

    /// The row of `results.csv`, with a column per key of `keys`.
    pub fn csv_row(&self, keys: &[String]) -> Vec<String> {
        let f = |x: Option<f64>| x.map(|v| v.to_string()).unwrap_or_default();
        let u = |x: Option<u64>| x.map(|v| v.to_string()).unwrap_or_default();
        let mut row = vec![
            self.problem.to_string(),
            self.method.clone(),
            self.setting.clone(),
        ];
        row.extend(keys.iter().map(|k| {
            self.setting_values
                .iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        }));
        row.extend([
            self.seed.to_string(),
            if self.ok() { "ok" } else { "failed" }.to_string(),
            self.stop_reason.clone(),
            u(self.calls),
            u(self.iterations),
            f(self.objective_start),
            f(self.objective_final),
            f(self.objective_final_stderr),
            f(self.objective_final_exact),
            self.target.to_string(),
            self.judge.name().to_string(),
            u(self.calls_to_first_reach),
            u(self.calls_to_stay_below),
            u(self.calls_to_target),
            f(self.seconds_total),
            self.error.clone().unwrap_or_default(),
        ]);
        row
    }

    /// The row of bench.md's table of runs.
    pub fn run_row(&self) -> Vec<String> {
        let r = self;
        let dash = || "—".to_string();
        let setting = if r.setting.is_empty() {
            CONFIGURED.to_string()
        } else {
            r.setting.clone()
        };
        let head = [
            r.problem.to_string(),
            r.method.clone(),
            setting,
            r.seed.to_string(),
        ];
        let Some(done) = &r.finished else {
            let mut row = head.to_vec();
            row.push(r.calls.map_or_else(dash, text::calls));
            row.push(r.iterations.map_or_else(dash, |n| n.to_string()));
            row.push(r.objective_start.map_or_else(dash, text::num));
            row.push(format!(
                "failed: {}",
                r.error.as_deref().unwrap_or_default()
            ));
            row.resize(RUN_HEADERS.len(), dash());
            row[9] = r.calls_to_first_reach.map_or_else(dash, text::calls);
            return row;
        };
        let s = &done.summary;
        let steps: &[IterationReport] = done.reports.get(1..).unwrap_or(&[]);
        let med = |f: fn(&IterationReport) -> f64| {
            let v: Vec<f64> = steps.iter().map(f).collect();
            median(&v).map_or_else(dash, |m| text::sig(m, 3))
        };
        let objective = |x: Option<&IterationReport>, fallback: f64| match x {
            Some(x) => format!(
                "{} ± {}",
                text::num(x.objective),
                text::sig(x.objective_stderr, 2)
            ),
            None => text::num(fallback),
        };
        let lgso = r.method == lgso::optimizer::Method::Lgso.name();
        let mut row = head.to_vec();
        row.extend([
            text::calls(s.calls),
            s.iterations.to_string(),
            objective(done.reports.first(), s.objective_start),
            objective(done.reports.last(), s.objective_final),
            s.objective_final_exact.map_or_else(dash, text::num),
            r.calls_to_first_reach.map_or_else(dash, text::calls),
            r.calls_to_stay_below.map_or_else(dash, text::calls),
            if steps.is_empty() {
                dash()
            } else {
                text::sig(s.median_seconds_per_iteration, 3)
            },
            if lgso {
                format!("{:.0}%", 100.0 * s.fit_share)
            } else {
                dash()
            },
            if lgso {
                med(|x| x.step.seconds_fit)
            } else {
                dash()
            },
            med(|x| x.seconds_simulate),
            med(|x| x.step.seconds_gradient),
        ]);
        row
    }

    /// `problem rosenbrock, method lgso, setting samples_per_point=3, seed
    /// 1`: the run, for messages.
    pub fn name(&self) -> String {
        let setting = if self.setting.is_empty() {
            String::new()
        } else {
            format!(", setting {}", self.setting)
        };
        format!(
            "problem {}, method {}{setting}, seed {}",
            self.problem, self.method, self.seed
        )
    }

    /// The line printed when the run ends (with `--jobs` above 1):
    /// `done rosenbrock lgso samples_per_point=3 seed 1: ...`.
    pub fn done_line(&self) -> String {
        let time = self.seconds_total.map_or("—".into(), text::seconds);
        let mut run = format!("{} {}", self.problem, self.method);
        if !self.setting.is_empty() {
            run.push_str(&format!(" {}", self.setting));
        }
        run.push_str(&format!(" seed {}", self.seed));
        match &self.error {
            None => format!(
                "done {run}: objective {} after {} calls in {time}",
                self.objective_final.map_or("—".into(), text::num),
                self.calls.map_or("—".into(), text::calls),
            ),
            Some(e) => format!("failed {run} after {time}: {e}"),
        }
    }
}

/// Every row of a run's `trace.csv` (calls, objective, its standard error,
/// the exact objective where the cell is not empty); empty when it cannot
/// be read.
pub fn read_trace(path: &Path) -> Vec<TracePoint> {
    let Ok(mut reader) = csv::Reader::from_path(path) else {
        return Vec::new();
    };
    let Ok(header) = reader.headers().cloned() else {
        return Vec::new();
    };
    let col = |name: &str| header.iter().position(|h| h == name);
    let (Some(c), Some(o), Some(se), Some(ex)) = (
        col("calls"),
        col("objective"),
        col("objective_stderr"),
        col("objective_exact"),
    ) else {
        return Vec::new();
    };
    let number = |cell: Option<&str>| cell.and_then(|s| s.parse::<f64>().ok());
    reader
        .records()
        .map_while(Result::ok)
        .filter_map(|row| {
            Some(TracePoint {
                calls: row.get(c)?.parse().ok()?,
                objective: number(row.get(o)).unwrap_or(f64::NAN),
                stderr: number(row.get(se)).unwrap_or(f64::NAN),
                exact: number(row.get(ex)),
            })
        })
        .collect()
}

#[cfg(test)]
impl Record {
    /// A record of `method` in setting `setting` with seed `seed`, judged
    /// on the exact objective against `target`, with this trace; failed
    /// with `error` or stopped by its budget.
    pub fn for_test(
        method: &str,
        setting: &str,
        seed: u64,
        target: f64,
        trace: Vec<TracePoint>,
        error: Option<&str>,
    ) -> Record {
        let last = trace.last().copied();
        let mut r = Record {
            problem: "test",
            method: method.into(),
            setting: setting.into(),
            setting_values: Vec::new(),
            seed,
            target,
            judge: Judge::Exact,
            error: error.map(String::from),
            stop_reason: if error.is_some() { "failed" } else { "budget" }.into(),
            calls: last.map(|p| p.calls),
            iterations: Some(trace.len().saturating_sub(1) as u64),
            objective_start: trace.first().map(|p| p.objective),
            objective_final: last.map(|p| p.objective),
            objective_final_stderr: last.map(|p| p.stderr),
            objective_final_exact: last.and_then(|p| p.exact),
            calls_to_target: None,
            calls_to_first_reach: None,
            calls_to_stay_below: None,
            seconds_total: Some(1.0),
            trace,
            finished: None,
        };
        r.measure();
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_run_reaches_but_never_stays() {
        let t = TracePoint::exact_series(&[2.0, 0.5, 0.4], 0.1);
        let failed = Record::for_test("numdiff", "", 0, 1.0, t.clone(), Some("diverged"));
        assert_eq!(failed.calls_to_first_reach, Some(100));
        assert_eq!(failed.calls_to_stay_below, None);
        let ok = Record::for_test("numdiff", "", 0, 1.0, t.clone(), None);
        assert_eq!(ok.calls_to_first_reach, Some(100));
        assert_eq!(ok.calls_to_stay_below, Some(100));
        assert_eq!(ok.final_judged(), Some(0.4));
        // a run that stopped at a target did not run to its end
        let mut target = Record::for_test("numdiff", "", 0, 1.0, t, None);
        target.stop_reason = "target".into();
        target.measure();
        assert_eq!(target.calls_to_stay_below, None);
        target.stop_reason = "max_iterations".into();
        target.measure();
        assert_eq!(target.calls_to_stay_below, Some(100));
    }
}
