//! bench.md: each method at its best setting, every setting, every run.
//!
//! The runs of one (problem, method, setting) over the seeds are a
//! [`Group`]; its [`Stats`] are what the tables show. A method's best
//! setting on a problem ([`best`]) is the one with the most seeds that
//! reached the target, then the lowest median calls to first reach it,
//! then the lowest median final objective; a tie keeps the setting given
//! first.

use std::cmp::Ordering;

use super::metric::{median, Judge};
use super::record::{Record, RUN_HEADERS};
use super::sweep::Sweep;
use super::Job;
use crate::text;

/// Columns of the tables per (problem, method, setting); the third is
/// "best setting" in the first table.
const SETTING_HEADERS: &[&str] = &[
    "problem",
    "method",
    "setting",
    "seeds reached",
    "median calls to first reach (min–max)",
    "median calls to stay below (seeds)",
    "median final objective",
    "judged on",
    "median time per run",
    "failed",
];

/// How the configured setting (no sweep for the method) is shown.
pub const CONFIGURED: &str = "configured";

/// What the tables show for the runs of one setting over the seeds.
#[derive(Debug, Clone, PartialEq)]
pub struct Stats {
    /// Runs (one per seed).
    pub runs: usize,
    /// Calls to first reach the target, of the runs that reached it.
    pub first: Vec<u64>,
    /// Calls to stay below the target, of the runs that stayed.
    pub stayed: Vec<u64>,
    /// The final objective as judged, of the successful runs.
    pub finals: Vec<f64>,
    /// Wall-clock seconds of the successful runs.
    pub seconds: Vec<f64>,
    /// Runs that failed.
    pub failed: usize,
}

impl Stats {
    pub fn of(records: &[&Record]) -> Stats {
        let ok = || records.iter().filter(|r| r.ok());
        Stats {
            runs: records.len(),
            first: records
                .iter()
                .filter_map(|r| r.calls_to_first_reach)
                .collect(),
            stayed: records
                .iter()
                .filter_map(|r| r.calls_to_stay_below)
                .collect(),
            finals: ok().filter_map(|r| r.final_judged()).collect(),
            seconds: ok().filter_map(|r| r.seconds_total).collect(),
            failed: records.iter().filter(|r| !r.ok()).count(),
        }
    }

    /// Median calls to first reach, over the runs that reached.
    pub fn median_first(&self) -> Option<f64> {
        median(&self.first.iter().map(|&c| c as f64).collect::<Vec<_>>())
    }

    /// Median final objective, over the successful runs.
    pub fn median_final(&self) -> Option<f64> {
        median(&self.finals)
    }
}

/// `a` before `b` when `a` is the better setting: more runs reached, then
/// lower median calls to first reach, then lower median final objective
/// (a missing median is worst).
pub fn rank(a: &Stats, b: &Stats) -> Ordering {
    let low = |x: Option<f64>, y: Option<f64>| match (x, y) {
        (Some(x), Some(y)) => x.total_cmp(&y),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    };
    b.first
        .len()
        .cmp(&a.first.len())
        .then_with(|| low(a.median_first(), b.median_first()))
        .then_with(|| low(a.median_final(), b.median_final()))
}

/// The index of the best of `stats` (the first of equals); `None` when
/// empty.
pub fn best(stats: &[Stats]) -> Option<usize> {
    (0..stats.len()).reduce(|best, i| {
        if rank(&stats[i], &stats[best]) == Ordering::Less {
            i
        } else {
            best
        }
    })
}

/// The runs of one (problem, method, setting) over the seeds.
pub struct Group<'a> {
    pub records: Vec<&'a Record>,
    pub stats: Stats,
}

impl<'a> Group<'a> {
    /// The groups of `records`, whose runs of one (problem, method,
    /// setting) follow each other, in their order.
    pub fn all(records: &'a [Record]) -> Vec<Group<'a>> {
        let mut groups: Vec<Vec<&Record>> = Vec::new();
        for r in records {
            match groups.last_mut() {
                Some(g) if same(g[0], r) => g.push(r),
                _ => groups.push(vec![r]),
            }
        }
        groups
            .into_iter()
            .map(|records| Group {
                stats: Stats::of(&records),
                records,
            })
            .collect()
    }

    fn first(&self) -> &Record {
        self.records[0]
    }

    /// The setting's label, or [`CONFIGURED`].
    pub fn setting(&self) -> &str {
        match self.first().setting.as_str() {
            "" => CONFIGURED,
            s => s,
        }
    }

    /// `lgso (samples_per_point=3)`, or the method alone for the configured
    /// setting: the plot's legend.
    pub fn legend(&self) -> String {
        let r = self.first();
        if r.setting.is_empty() {
            r.method.clone()
        } else {
            format!("{} ({})", r.method, r.setting)
        }
    }

    /// The row of a table per setting.
    pub fn row(&self) -> Vec<String> {
        let dash = || "—".to_string();
        let r = self.first();
        let s = &self.stats;
        let calls = |c: f64| text::calls(c.round() as u64);
        let first = match (s.median_first(), s.first.iter().min(), s.first.iter().max()) {
            (Some(m), Some(&lo), Some(&hi)) if lo < hi => {
                format!("{} ({}–{})", calls(m), text::calls(lo), text::calls(hi))
            }
            (Some(m), ..) => calls(m),
            _ => dash(),
        };
        let stayed = median(&s.stayed.iter().map(|&c| c as f64).collect::<Vec<_>>())
            .map_or_else(dash, |m| {
                format!("{} ({} of {})", calls(m), s.stayed.len(), s.runs)
            });
        vec![
            r.problem.to_string(),
            r.method.clone(),
            self.setting().to_string(),
            format!("{}/{}", s.first.len(), s.runs),
            first,
            stayed,
            s.median_final().map_or_else(dash, text::num),
            r.judge.name().to_string(),
            median(&s.seconds).map_or_else(dash, text::seconds),
            s.failed.to_string(),
        ]
    }
}

fn same(a: &Record, b: &Record) -> bool {
    a.problem == b.problem && a.method == b.method && a.setting == b.setting
}

/// The best group of each (problem, method), in order: indices into
/// `groups`.
pub fn best_groups(groups: &[Group]) -> Vec<usize> {
    let mut out = Vec::new();
    let mut start = 0;
    while start < groups.len() {
        let head = groups[start].first();
        let end = start
            + groups[start..]
                .iter()
                .take_while(|g| {
                    g.first().problem == head.problem && g.first().method == head.method
                })
                .count();
        let stats: Vec<Stats> = groups[start..end].iter().map(|g| g.stats.clone()).collect();
        out.extend(best(&stats).map(|i| start + i));
        start = end;
    }
    out
}

/// The table of each method at its best setting (also printed).
pub fn best_table(groups: &[Group], best: &[usize]) -> String {
    let rows: Vec<Vec<String>> = best.iter().map(|&i| groups[i].row()).collect();
    let mut headers = SETTING_HEADERS.to_vec();
    headers[2] = "best setting";
    text::markdown(&headers, &rows)
}

/// What ran: the header of bench.md.
pub struct Overview<'a> {
    pub jobs: &'a [Job],
    pub problems: &'a [&'a str],
    pub methods: &'a [&'a str],
    pub seeds: &'a [u64],
    pub sweeps: &'a [Sweep],
}

/// bench.md.
pub fn bench_md(
    overview: &Overview,
    records: &[Record],
    groups: &[Group],
    best: &[usize],
) -> String {
    let mut md = header_text(overview);
    md.push_str("\n## Each method at its best setting\n\n");
    md.push_str(&best_table(groups, best));
    if groups.len() > best.len() {
        md.push_str("\n## Every setting\n\n");
        let rows: Vec<Vec<String>> = groups.iter().map(Group::row).collect();
        md.push_str(&text::markdown(SETTING_HEADERS, &rows));
    }
    let run_rows: Vec<Vec<String>> = records.iter().map(Record::run_row).collect();
    md.push_str(&format!(
        "\n## Runs\n\nOne row per run (run directories `<problem>/<method>[-<setting>]-s<seed>/`, \
         every value also in results.csv). Objective: Monte Carlo estimate ± standard error; \
         calls to first reach and to stay below as judged above; times are medians over \
         iterations; the fit columns are L-GSO's surrogate fits.\n\n{}",
        text::markdown(RUN_HEADERS, &run_rows)
    ));
    md
}

/// The header of bench.md: what ran and what the columns mean.
fn header_text(o: &Overview) -> String {
    let Overview {
        jobs,
        problems,
        methods,
        seeds,
        sweeps,
    } = *o;
    // `three-hump 1,000`, or `three-hump 1,000 or 2,000` where the jobs
    // of a problem differ (a swept budget)
    let per_problem = |f: &dyn Fn(&Job) -> String| -> String {
        problems
            .iter()
            .map(|&p| {
                let mut values: Vec<String> = Vec::new();
                for j in jobs.iter().filter(|j| j.problem() == p) {
                    let v = f(j);
                    if !values.contains(&v) {
                        values.push(v);
                    }
                }
                format!("{p} {}", values.join(" or "))
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let seeds_text = match seeds {
        [one] => format!("seed {one}"),
        [first, .., last] => format!(
            "seeds {first} to {last} ({} per problem, method and setting)",
            seeds.len()
        ),
        [] => "no seeds".into(),
    };
    let judged = per_problem(&|j| match Judge::of(&j.cfg.problem) {
        Judge::Exact => "on the exact E[R]".into(),
        Judge::Estimate => "on the Monte Carlo estimate".into(),
    });
    let sweep_text = if sweeps.is_empty() {
        String::new()
    } else {
        let list: Vec<String> = sweeps
            .iter()
            .map(|s| {
                let values: Vec<String> = s.values.iter().map(super::sweep::render).collect();
                format!(
                    "`{}` = {} ({})",
                    s.key,
                    values.join(", "),
                    s.method.unwrap_or("every method")
                )
            })
            .collect();
        format!(
            "Swept: {}; each method runs every combination of its values (a *setting*). \
             The runs of a sweep do not stop at a target (`stop.target` is cleared): each goes \
             on to its budget or iteration limit.\n\n",
            list.join("; ")
        )
    };
    format!(
        "# lgso bench\n\n\
         Methods {}; {seeds_text}. Budgets (simulator calls): {}. Targets: {}.\n\n{sweep_text}\
         A trace row (the start point, then one per iteration) *reaches* the target when the \
         exact E[R] there is at or below it, for problems that have one (closed form or \
         quadrature), else when the Monte Carlo estimate + 1.96 × its standard error is. \
         Judged: {judged}.\n\n\
         Columns: *seeds reached*: runs with a row that reached the target / runs; *median \
         calls to first reach*: simulator calls charged at the first row that reached it, \
         median (min–max) over the runs that reached it; *median calls to stay below*: calls \
         at the first row from which every later row reached it, median over the runs that \
         ran to their budget or iteration limit and ended below (how many, of all runs); \
         *median final objective*: at the final psi, the exact E[R] or the estimate as \
         judged, median over the successful runs; *median time per run*: wall-clock, over the \
         successful runs; *failed*: runs that ended with an error (see results.csv). A \
         method's *best setting* has the most seeds that reached the target, then the lowest \
         median calls to first reach, then the lowest median final objective (ties: the \
         setting given first). Plots: `<problem>.png`, each method at its best setting.\n",
        methods.join(", "),
        per_problem(&|j| text::calls(j.cfg.budget)),
        per_problem(&|j| text::num(j.cfg.problem.target)),
    )
}

#[cfg(test)]
mod tests {
    use super::super::metric::TracePoint;
    use super::*;

    /// A run whose exact objective is `values` at 0, 100, 200, ... calls.
    fn run(method: &str, setting: &str, seed: u64, values: &[f64], failed: bool) -> Record {
        let trace = TracePoint::exact_series(values, 0.01);
        Record::for_test(method, setting, seed, 1.0, trace, failed.then_some("boom"))
    }

    #[test]
    fn stats_count_reached_stayed_and_finals() {
        let a = run("lgso", "x=1", 0, &[5.0, 0.5, 2.0, 0.8], false); // first 100, stays 300
        let b = run("lgso", "x=1", 1, &[5.0, 4.0, 0.9, 3.0], false); // first 200, ends above
        let c = run("lgso", "x=1", 2, &[5.0, 0.7], true); // first 100, failed
        let s = Stats::of(&[&a, &b, &c]);
        assert_eq!(s.runs, 3);
        assert_eq!(s.first, [100, 200, 100]);
        assert_eq!(s.stayed, [300]);
        assert_eq!(s.finals, [0.8, 3.0]); // the successful runs
        assert_eq!(s.failed, 1);
        assert_eq!(s.median_first(), Some(100.0));
        assert_eq!(s.median_final(), Some(1.9));
    }

    #[test]
    fn best_setting_most_reached_then_calls_then_final() {
        let group = |setting: &str, runs: &[&[f64]]| -> Stats {
            let records: Vec<Record> = runs
                .iter()
                .enumerate()
                .map(|(i, v)| run("lgso", setting, i as u64, v, false))
                .collect();
            Stats::of(&records.iter().collect::<Vec<_>>())
        };
        // a: 1 of 2 reached, at 100 calls
        let a = group("a", &[&[5.0, 0.5], &[5.0, 4.0]]);
        // b: 2 of 2 reached, at 300 and 300 calls: more seeds beats fewer calls
        let b = group("b", &[&[5.0, 3.0, 2.0, 0.9], &[5.0, 3.0, 2.0, 0.1]]);
        assert_eq!(best(&[a.clone(), b.clone()]), Some(1));
        // c: 2 of 2 at 200 and 200: fewer calls wins among equals
        let c = group("c", &[&[5.0, 3.0, 0.9], &[5.0, 3.0, 0.95]]);
        assert_eq!(best(&[a.clone(), b.clone(), c.clone()]), Some(2));
        // d: 2 of 2 at 100 and 300 (median 200, as c) with a lower final
        // objective (median 0.2 against c's 0.925)
        let d = group("d", &[&[5.0, 0.3], &[5.0, 3.0, 2.0, 0.1]]);
        assert_eq!(best(&[c.clone(), d.clone()]), Some(1));
        assert_eq!(best(&[d.clone(), c.clone()]), Some(0));
        // a complete tie keeps the first given
        assert_eq!(best(&[c.clone(), c.clone()]), Some(0));
        // nothing reached: the lowest median final objective decides
        let e = group("e", &[&[5.0, 3.0], &[5.0, 2.0]]); // 2.5
        let f = group("f", &[&[5.0, 1.5], &[5.0, 4.0]]); // 2.75
        assert_eq!(best(&[f.clone(), e.clone()]), Some(1));
        // every run failed: no final objective, ranked last
        let g = Stats::of(&[&run("lgso", "g", 0, &[5.0], true)]);
        assert_eq!(g.median_final(), None);
        assert_eq!(best(&[g.clone(), f]), Some(1));
        assert_eq!(best(&[]), None);
    }

    #[test]
    fn best_groups_per_problem_and_method() {
        let records = vec![
            run("lgso", "m=3", 0, &[5.0, 2.0], false),
            run("lgso", "m=3", 1, &[5.0, 2.0], false),
            run("lgso", "m=10", 0, &[5.0, 0.5], false),
            run("lgso", "m=10", 1, &[5.0, 3.0], false),
            run("cmaes", "", 0, &[5.0, 4.0], false),
            run("cmaes", "", 1, &[5.0, 0.2], false),
        ];
        let groups = Group::all(&records);
        assert_eq!(groups.len(), 3);
        assert_eq!(best_groups(&groups), [1, 2]);
        assert_eq!(groups[1].legend(), "lgso (m=10)");
        assert_eq!(groups[2].legend(), "cmaes");
        let row = groups[1].row();
        assert_eq!(row[2..6], ["m=10", "1/2", "100", "100 (1 of 2)"]);
        assert_eq!(groups[2].row()[2], CONFIGURED);
        // min–max shown when the seeds differ
        let records = [
            run("lgso", "", 0, &[5.0, 0.5], false),
            run("lgso", "", 1, &[5.0, 3.0, 2.0, 0.5], false),
        ];
        let groups = Group::all(&records);
        assert_eq!(groups[0].row()[4], "200 (100–300)");
        assert_eq!(groups[0].row()[5], "200 (2 of 2)");
    }
}
