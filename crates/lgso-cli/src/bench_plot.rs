//! `<problem>.png` of `lgso bench`: the objective estimate against
//! simulator calls for every method on one problem.
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
use std::ops::Range;
use std::path::Path;

use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use crate::plot::{register_font, short_count, DrawResult, HEIGHT, WIDTH};

/// The traces of one method on one problem.
pub struct MethodTraces {
    /// The method's name (legend).
    pub method: String,
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

/// A method's curve, ready to draw.
struct Curve {
    label: String,
    colour: RGBColor,
    points: Vec<Spread>,
    band: bool,
}

/// Draws the methods' traces on `problem` to `path` (a PNG), through a
/// temporary file renamed over it.
///
/// # Errors
/// A message saying what failed (font, drawing, writing).
pub fn comparison_png(
    path: &Path,
    problem: &str,
    target: Option<f64>,
    methods: &[MethodTraces],
) -> Result<(), String> {
    register_font()?;
    let curves: Vec<Curve> = methods
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let k = m.traces.len();
            let mut notes = Vec::new();
            if k > 1 {
                notes.push(format!("median, min..max of {k} seeds"));
            }
            if m.failed > 0 {
                notes.push(format!("{} failed", m.failed));
            }
            Curve {
                label: if notes.is_empty() {
                    m.method.clone()
                } else {
                    format!("{} ({})", m.method, notes.join("; "))
                },
                colour: colour(&m.method, i),
                points: spread(&m.traces),
                band: k > 1,
            }
        })
        .collect();
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "bench.png".into());
    // The backend picks the format from the extension: keep `.png` last.
    let tmp = path.with_file_name(format!(".tmp-{name}"));
    draw(&tmp, problem, target, &curves).map_err(|e| format!("{}: {e}", path.display()))?;
    std::fs::rename(&tmp, path).map_err(|e| format!("{}: {e}", path.display()))
}

fn draw(path: &Path, problem: &str, target: Option<f64>, curves: &[Curve]) -> DrawResult {
    let x_max = curves
        .iter()
        .flat_map(|c| c.points.iter().map(|p| p.calls))
        .max()
        .unwrap_or(0)
        .max(1) as f64
        * 1.03;
    let values: Vec<f64> = curves
        .iter()
        .flat_map(|c| c.points.iter().flat_map(|p| [p.min, p.max]))
        .chain(target.filter(|t| t.is_finite()))
        .collect();
    let (lo, hi) = values
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    let log = lo > 0.0 && hi / lo > 100.0;
    let entries = curves.len() + usize::from(target.is_some());

    let root = BitMapBackend::new(path, (WIDTH, HEIGHT)).into_drawing_area();
    root.fill(&WHITE)?;
    let title = format!("{problem}: objective against simulator calls");
    if log {
        // headroom for the legend in the upper right
        let y = (lo / 1.5)..(hi * 6.0 * 1.5f64.powi(entries as i32 / 3));
        let floor = y.start;
        chart(
            &root,
            &title,
            0.0..x_max,
            y.log_scale(),
            floor,
            target,
            curves,
            true,
        )?;
    } else {
        let (lo, hi) = if lo.is_finite() && hi.is_finite() {
            (lo, hi)
        } else {
            (-1.0, 1.0)
        };
        let pad = ((hi - lo) * 0.06).max(1e-9 * hi.abs().max(1.0)).max(1e-12);
        // headroom for the legend in the upper right
        let head = (0.1 + 0.06 * entries as f64) * (hi - lo);
        let y = (lo - pad)..(hi + pad + head);
        let floor = y.start;
        chart(&root, &title, 0.0..x_max, y, floor, target, curves, false)?;
    }
    root.present()?;
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn chart<DB, Y>(
    root: &DrawingArea<DB, plotters::coord::Shift>,
    title: &str,
    x: Range<f64>,
    y: Y,
    y_floor: f64,
    target: Option<f64>,
    curves: &[Curve],
    log: bool,
) -> DrawResult
where
    DB: DrawingBackend,
    DB::ErrorType: 'static,
    Y: AsRangedCoord<Value = f64>,
    Y::CoordDescType: ValueFormatter<f64>,
{
    // Tick values that are zero up to rounding (-1.1e-16) print as 0.
    let y_tiny = if log {
        0.0
    } else {
        (y_floor.abs() + 1.0) * 1e-9
    };
    let x_lo = x.start;
    let x_hi = x.end;
    let x_coord: RangedCoordf64 = x.into();
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 26))
        .margin(16)
        .x_label_area_size(52)
        .y_label_area_size(86)
        .build_cartesian_2d(x_coord, y)?;
    let y_desc = if log {
        "objective E[R], Monte Carlo estimate (log scale)"
    } else {
        "objective E[R], Monte Carlo estimate"
    };
    chart
        .configure_mesh()
        .x_desc("simulator calls")
        .y_desc(y_desc)
        .x_label_formatter(&|v| short_count(*v))
        .y_label_formatter(&|v| crate::text::num(if v.abs() < y_tiny { 0.0 } else { *v }))
        .label_style(("sans-serif", 16))
        .axis_desc_style(("sans-serif", 18))
        .light_line_style(WHITE.mix(0.0))
        .draw()?;

    let clamp = |v: f64| {
        if v.is_finite() {
            v.max(y_floor)
        } else {
            y_floor
        }
    };
    // Bands first, so that every line is drawn over every band.
    for c in curves.iter().filter(|c| c.band && c.points.len() >= 2) {
        let mut poly: Vec<(f64, f64)> = c
            .points
            .iter()
            .map(|p| (p.calls as f64, clamp(p.max)))
            .collect();
        poly.extend(
            c.points
                .iter()
                .rev()
                .map(|p| (p.calls as f64, clamp(p.min))),
        );
        chart.draw_series(std::iter::once(Polygon::new(
            poly,
            c.colour.mix(0.18).filled(),
        )))?;
    }
    for c in curves {
        let colour = c.colour;
        let band = if c.band { 0.18 } else { 0.0 };
        chart
            .draw_series(
                LineSeries::new(
                    c.points.iter().map(|p| (p.calls as f64, clamp(p.median))),
                    colour.stroke_width(2),
                )
                .point_size(2),
            )?
            .label(c.label.clone())
            .legend(move |(x, y)| {
                // the band's swatch behind the line
                EmptyElement::at((x, y))
                    + Rectangle::new([(0, -6), (20, 6)], colour.mix(band).filled())
                    + PathElement::new(vec![(0, 0), (20, 0)], colour.stroke_width(2))
            });
    }

    if let Some(t) = target.filter(|t| t.is_finite() && (!log || *t > 0.0)) {
        let style = BLACK.mix(0.7).stroke_width(2);
        chart
            .draw_series(DashedLineSeries::new(
                vec![(x_lo, t), (x_hi, t)],
                10,
                6,
                style,
            ))?
            .label(format!("target {}", crate::text::num(t)))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
    }

    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .label_font(("sans-serif", 16))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.4))
        .draw()?;
    Ok(())
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
                        traces: vec![decay(0.5, 12, 48_000), decay(0.55, 10, 48_000)],
                        failed: 0,
                    },
                    MethodTraces {
                        method: "numdiff".into(),
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
                    traces: vec![vec![(0, f64::NAN)], vec![]],
                    failed: 2,
                }],
            ),
        ];
        for (name, target, methods) in cases {
            let path = dir.join(format!("{name}.png"));
            comparison_png(&path, "test", target, &methods).unwrap();
            let png = std::fs::read(&path).unwrap();
            assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "{name}");
        }
        if std::env::var_os("LGSO_KEEP_PLOTS").is_none() {
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
}
