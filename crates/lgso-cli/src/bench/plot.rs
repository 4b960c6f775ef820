//! `<problem>.png` of `lgso bench`: the objective against simulator calls
//! for every method (at its best setting) on one problem: the exact `E[R]`
//! where the problem has one, else the Monte Carlo estimate.
//!
//! Per method, the median over seeds is drawn as a line and the range
//! (min..max) over seeds as a translucent band, in the method's colour (the
//! same colour for a method in every plot); the problem's target is a
//! dashed horizontal line. Seeds of one method usually share their call
//! counts, but a run may stop early (target reached, failure): each seed's
//! trace is read as a step function (its last value at calls <= c) on the
//! union of the call counts of the method's seeds, using only the seeds
//! whose trace reaches c. The y axis is logarithmic when every value is
//! positive and they span more than two decades, as in `objective.png`.

use std::collections::BTreeSet;
use std::path::Path;

use plotters::style::RGBColor;

use crate::chart::{extent, Band, Chart, Line, YAxis};

/// The traces of one method on one problem.
pub struct MethodTraces {
    /// The method's name (its colour).
    pub method: String,
    /// The legend: the method and its setting.
    pub label: String,
    /// One trace per seed: `(calls, objective)` from the start point on
    /// (up to the failure for a failed run).
    pub traces: Vec<Vec<(u64, f64)>>,
    /// How many of the runs failed (named in the legend).
    pub failed: usize,
}

/// One point of a method's curve: the median and range over the seeds
/// whose trace reaches `calls`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spread {
    /// Simulator calls.
    pub calls: u64,
    /// Median over the seeds.
    pub median: f64,
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
    /// Seeds that reach `calls`.
    pub seeds: usize,
}

/// Median, min and max over seeds of step-function traces, on the union of
/// their call counts (non-finite values are left out).
pub fn spread(traces: &[Vec<(u64, f64)>]) -> Vec<Spread> {
    let clean: Vec<Vec<(u64, f64)>> = traces
        .iter()
        .map(|t| {
            let mut t: Vec<(u64, f64)> = t.iter().copied().filter(|p| p.1.is_finite()).collect();
            t.sort_by_key(|p| p.0); // stable: equal calls keep their order
            t
        })
        .filter(|t| !t.is_empty())
        .collect();
    let grid: BTreeSet<u64> = clean.iter().flatten().map(|p| p.0).collect();
    let mut out = Vec::with_capacity(grid.len());
    for c in grid {
        let mut values: Vec<f64> = clean
            .iter()
            .filter(|t| t[0].0 <= c && c <= t[t.len() - 1].0)
            .map(|t| t[t.partition_point(|p| p.0 <= c) - 1].1)
            .collect();
        if values.is_empty() {
            continue;
        }
        values.sort_by(f64::total_cmp);
        let n = values.len();
        let median = if n % 2 == 1 {
            values[n / 2]
        } else {
            0.5 * (values[n / 2 - 1] + values[n / 2])
        };
        out.push(Spread {
            calls: c,
            median,
            min: values[0],
            max: values[n - 1],
            seeds: n,
        });
    }
    out
}

/// The colour of `method`: fixed per method name, so a method looks the
/// same in every plot.
fn colour(method: &str, index: usize) -> RGBColor {
    const PALETTE: [RGBColor; 8] = [
        RGBColor(31, 119, 180),  // blue
        RGBColor(255, 127, 14),  // orange
        RGBColor(44, 160, 44),   // green
        RGBColor(214, 39, 40),   // red
        RGBColor(148, 103, 189), // purple
        RGBColor(140, 86, 75),   // brown
        RGBColor(227, 119, 194), // pink
        RGBColor(127, 127, 127), // grey
    ];
    let i = lgso::optimizer::METHODS
        .iter()
        .position(|&m| m == method)
        .unwrap_or(index);
    PALETTE[i % PALETTE.len()]
}

/// The opacity of a method's band.
const BAND_ALPHA: f64 = 0.18;

/// Draws the methods' traces on `problem` to `path` (a PNG), through a
/// temporary file renamed over it.
///
/// # Errors
/// A message saying what failed (font, drawing, writing).
pub fn comparison_png(
    path: &Path,
    problem: &str,
    target: Option<f64>,
    y_label: &str,
    methods: &[MethodTraces],
) -> Result<(), String> {
    let spreads: Vec<Vec<Spread>> = methods.iter().map(|m| spread(&m.traces)).collect();
    let mut bands = Vec::new();
    let mut lines = Vec::new();
    for (i, (m, points)) in methods.iter().zip(&spreads).enumerate() {
        let k = m.traces.len();
        let mut notes = Vec::new();
        if k > 1 {
            notes.push(format!("median, min..max of {k} seeds"));
        }
        if m.failed > 0 {
            notes.push(format!("{} failed", m.failed));
        }
        let colour = colour(&m.method, i);
        let band = k > 1;
        if band {
            bands.push(Band {
                label: None,
                colour,
                alpha: BAND_ALPHA,
                points: points
                    .iter()
                    .map(|p| (p.calls as f64, p.min, p.max))
                    .collect(),
            });
        }
        lines.push(Line {
            label: if notes.is_empty() {
                m.label.clone()
            } else {
                format!("{} ({})", m.label, notes.join("; "))
            },
            colour,
            points: points.iter().map(|p| (p.calls as f64, p.median)).collect(),
            marker: 2,
            // the band's swatch behind the line
            swatch: band.then_some(BAND_ALPHA),
        });
    }

    let points = || spreads.iter().flatten();
    let (lo, hi) = extent(points().flat_map(|p| [p.min, p.max]).chain(target));
    // headroom for the legend in the upper right, growing with its entries
    let entries = methods.len() + usize::from(target.is_some());
    let y = if YAxis::wants_log(lo, hi) {
        YAxis::log(lo, hi, 1.5f64.powi(entries as i32 / 3))
    } else {
        YAxis::linear(lo, hi, 0.1 + 0.06 * entries as f64)
    };
    let max_calls = points().map(|p| p.calls).max().unwrap_or(0);
    Chart::objective(problem, max_calls)
        .y_axis(y_label, y)
        .bands(bands)
        .lines(lines)
        .target(target)
        .write_png(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_over_seeds_that_stop_early() {
        let a = vec![(0, 10.0), (100, 5.0), (200, 1.0)];
        let b = vec![(0, 12.0), (100, 3.0)]; // stopped at 100
        let c = vec![(0, 11.0), (150, 4.0), (200, f64::NAN), (300, 2.0)];
        let s = spread(&[a, b, c]);
        let at = |calls: u64| *s.iter().find(|p| p.calls == calls).unwrap();
        assert_eq!(s.len(), 5, "{s:?}"); // 0, 100, 150, 200, 300
        assert_eq!(at(0).median, 11.0);
        assert_eq!((at(0).min, at(0).max, at(0).seeds), (10.0, 12.0, 3));
        // c holds 11 until 150
        assert_eq!((at(100).median, at(100).min, at(100).max), (5.0, 3.0, 11.0));
        // b has stopped; a is at 5, c at 4
        assert_eq!((at(150).median, at(150).seeds), (4.5, 2));
        // c's NaN is dropped: it still reads 4 at 200
        assert_eq!((at(200).min, at(200).max), (1.0, 4.0));
        assert_eq!((at(300).median, at(300).seeds), (2.0, 1));
        assert!(spread(&[]).is_empty());
        assert!(spread(&[vec![(0, f64::NAN)]]).is_empty());
    }

    #[test]
    fn draws_methods_with_bands_and_degenerate_cases() {
        let dir = std::env::temp_dir().join(format!("lgso-bench-plot-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let decay = |rate: f64, n: u64, step: u64| -> Vec<(u64, f64)> {
            (0..n)
                .map(|i| (i * step, 3600.0 * rate.powi(i as i32)))
                .collect()
        };
        let cases: Vec<(&str, Option<f64>, Vec<MethodTraces>)> = vec![
            (
                "log",
                Some(1.0),
                vec![
                    MethodTraces {
                        method: "lgso".into(),
                        label: "lgso".into(),
                        traces: vec![decay(0.5, 12, 48_000), decay(0.55, 10, 48_000)],
                        failed: 0,
                    },
                    MethodTraces {
                        method: "numdiff".into(),
                        label: "numdiff".into(),
                        traces: vec![decay(0.8, 8, 60_000), decay(0.7, 8, 60_000)],
                        failed: 1,
                    },
                ],
            ),
            (
                "linear",
                Some(-0.8),
                vec![MethodTraces {
                    method: "oracle".into(),
                    label: "oracle".into(),
                    traces: vec![vec![(0, -0.5), (1000, -0.7)]],
                    failed: 0,
                }],
            ),
            ("empty", None, vec![]),
            (
                "nan",
                None,
                vec![MethodTraces {
                    method: "ges".into(),
                    label: "ges".into(),
                    traces: vec![vec![(0, f64::NAN)], vec![]],
                    failed: 2,
                }],
            ),
        ];
        for (name, target, methods) in cases {
            let path = dir.join(format!("{name}.png"));
            comparison_png(&path, "test", target, "objective", &methods).unwrap();
            let png = std::fs::read(&path).unwrap();
            assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "{name}");
        }
        if std::env::var_os("LGSO_KEEP_PLOTS").is_none() {
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
}
