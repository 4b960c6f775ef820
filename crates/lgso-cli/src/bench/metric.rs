//! The metrics of a bench run, read from its trace: calls to first reach
//! the target and calls to stay below it, and the median.
//!
//! A trace row *reaches* the target when the exact `E[R]` there is at or
//! below it, on problems with an exact objective (closed form or
//! quadrature), and otherwise when the Monte Carlo estimate is below it
//! with room to spare: estimate + 1.96 x standard error <= target
//! ([`Judge`]).

use lgso::problem::Problem;
use lgso::report::IterationReport;

/// z of the one-sided 97.5% bound on the estimate.
pub const Z: f64 = 1.96;

/// One row of a run's trace: what the metrics read.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TracePoint {
    /// Simulator calls charged so far.
    pub calls: u64,
    /// Monte Carlo estimate of `E[R]` at psi.
    pub objective: f64,
    /// Its standard error.
    pub stderr: f64,
    /// The exact `E[R]` at psi, where the problem has one.
    pub exact: Option<f64>,
}

impl TracePoint {
    /// A test trace whose exact and estimated objective are `values` at 0,
    /// 100, 200, ... calls, each with standard error `stderr`.
    #[cfg(test)]
    pub fn exact_series(values: &[f64], stderr: f64) -> Vec<TracePoint> {
        values
            .iter()
            .enumerate()
            .map(|(i, &v)| TracePoint {
                calls: 100 * i as u64,
                objective: v,
                stderr,
                exact: Some(v),
            })
            .collect()
    }
}

impl From<&IterationReport> for TracePoint {
    fn from(r: &IterationReport) -> TracePoint {
        TracePoint {
            calls: r.calls,
            objective: r.objective,
            stderr: r.objective_stderr,
            exact: r.objective_exact,
        }
    }
}

/// What says whether a trace row reaches the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Judge {
    /// The exact `E[R]` at or below the target.
    Exact,
    /// estimate + 1.96 x standard error at or below the target.
    Estimate,
}

impl Judge {
    /// Exact where `problem` has an exact objective, else the estimate.
    pub fn of(problem: &Problem) -> Judge {
        if problem.exact.is_some() {
            Judge::Exact
        } else {
            Judge::Estimate
        }
    }

    /// `exact` or `estimate` (results.csv's `judged_on`).
    pub fn name(self) -> &'static str {
        match self {
            Judge::Exact => "exact",
            Judge::Estimate => "estimate",
        }
    }

    /// The objective it reads at a row: the exact value (NaN where the row
    /// has none) or the estimate.
    pub fn value(self, p: &TracePoint) -> f64 {
        match self {
            Judge::Exact => p.exact.unwrap_or(f64::NAN),
            Judge::Estimate => p.objective,
        }
    }

    /// Whether row `p` reaches `target` (never on NaN).
    pub fn reaches(self, p: &TracePoint, target: f64) -> bool {
        let bound = match self {
            Judge::Exact => self.value(p),
            Judge::Estimate => p.objective + Z * p.stderr,
        };
        bound <= target
    }
}

/// The calls of the first row that reaches `target`.
pub fn calls_to_first_reach(trace: &[TracePoint], judge: Judge, target: f64) -> Option<u64> {
    trace
        .iter()
        .find(|p| judge.reaches(p, target))
        .map(|p| p.calls)
}

/// The calls of the first row from which every later row reaches `target`,
/// for a run that ran to its end (`ran_to_end`: stopped by its budget or
/// iteration limit); `None` when the last row does not reach it or the run
/// did not run to its end.
pub fn calls_to_stay_below(
    trace: &[TracePoint],
    judge: Judge,
    target: f64,
    ran_to_end: bool,
) -> Option<u64> {
    if !ran_to_end {
        return None;
    }
    let stays = trace
        .iter()
        .rev()
        .take_while(|p| judge.reaches(p, target))
        .count();
    (stays > 0).then(|| trace[trace.len() - stays].calls)
}

/// The median of `v`; `None` when empty.
pub fn median(v: &[f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    Some(if n % 2 == 1 {
        s[n / 2]
    } else {
        0.5 * (s[n / 2 - 1] + s[n / 2])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows at 0, 100, 200, ... with these estimates, standard error 0.1,
    /// and these exact values.
    fn trace(estimates: &[f64], exact: &[Option<f64>]) -> Vec<TracePoint> {
        estimates
            .iter()
            .zip(exact)
            .enumerate()
            .map(|(i, (&objective, &exact))| TracePoint {
                calls: 100 * i as u64,
                objective,
                stderr: 0.1,
                exact,
            })
            .collect()
    }

    #[test]
    fn exact_rows_reach_leave_and_reach_again() {
        // exact values: 5, 0.9 (reach), 1.2 (leave), 1.0 (reach, at the
        // target), 0.5, 0.7 (stay)
        let exact = [5.0, 0.9, 1.2, 1.0, 0.5, 0.7].map(Some);
        // the estimates say otherwise everywhere: the exact value decides
        let t = trace(&[0.0, 9.0, 0.0, 9.0, 9.0, 9.0], &exact);
        assert_eq!(calls_to_first_reach(&t, Judge::Exact, 1.0), Some(100));
        assert_eq!(calls_to_stay_below(&t, Judge::Exact, 1.0, true), Some(300));
        // a run stopped otherwise (failed, or at a target) has no "stays"
        assert_eq!(calls_to_stay_below(&t, Judge::Exact, 1.0, false), None);
        // the last row above the target: it does not stay
        assert_eq!(calls_to_stay_below(&t[..3], Judge::Exact, 1.0, true), None);
        // never reached
        assert_eq!(calls_to_first_reach(&t, Judge::Exact, 0.1), None);
        assert_eq!(calls_to_stay_below(&t, Judge::Exact, 0.1, true), None);
        // the start point already reaches: 0 calls, and it stays throughout
        assert_eq!(calls_to_first_reach(&t, Judge::Exact, 10.0), Some(0));
        assert_eq!(calls_to_stay_below(&t, Judge::Exact, 10.0, true), Some(0));
        // a row without an exact value never reaches on the exact judge
        let t = trace(&[0.0, 0.0], &[None, Some(0.0)]);
        assert_eq!(calls_to_first_reach(&t, Judge::Exact, 1.0), Some(100));
        assert!(calls_to_first_reach(&[], Judge::Exact, 1.0).is_none());
        assert!(calls_to_stay_below(&[], Judge::Exact, 1.0, true).is_none());
    }

    #[test]
    fn estimates_need_room_for_their_standard_error() {
        // target 1, standard error 0.1: an estimate reaches at <= 0.804
        let t = trace(
            &[2.0, 0.9, 0.80, 0.85, 0.5, 0.804, f64::NAN, 0.1],
            &[None; 8],
        );
        assert_eq!(calls_to_first_reach(&t, Judge::Estimate, 1.0), Some(200));
        // 0.85 leaves, 0.5 and 0.804 reach, NaN leaves, 0.1 reaches
        assert_eq!(
            calls_to_stay_below(&t, Judge::Estimate, 1.0, true),
            Some(700)
        );
        assert_eq!(
            calls_to_stay_below(&t[..6], Judge::Estimate, 1.0, true),
            Some(400)
        );
        // the plain estimate (stop.target's rule) would say 100
        assert_eq!(t.iter().find(|p| p.objective <= 1.0).unwrap().calls, 100);
        let p = |objective: f64, stderr: f64| TracePoint {
            calls: 0,
            objective,
            stderr,
            exact: Some(-100.0),
        };
        assert!(Judge::Estimate.reaches(&p(-1.0, 0.0), -1.0));
        assert!(!Judge::Estimate.reaches(&p(-1.0, 0.01), -1.0));
        assert!(Judge::Estimate.reaches(&p(-1.02, 0.01), -1.0));
        assert!(!Judge::Estimate.reaches(&p(-5.0, f64::NAN), -1.0));
        assert!(Judge::Exact.reaches(&p(5.0, 1.0), -1.0));
    }
}
