//! `objective.png`: the objective estimate against simulator calls.
//!
//! Drawn with plotters' bitmap backend and the DejaVu Sans font embedded in
//! the binary (no system fonts needed). The Monte Carlo estimate is drawn
//! with a band of ±2 standard errors, the closed-form objective (where the
//! problem has one) as a second line, and the problem's target as a dashed
//! horizontal line. The y axis is logarithmic when every value is positive
//! and they span more than two decades (the Rosenbrock problems).

use std::ops::Range;
use std::path::Path;
use std::sync::OnceLock;

use lgso::report::IterationReport;
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::FontStyle;

/// DejaVu Sans (assets/DejaVuSans.LICENSE).
static FONT: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");

/// Width of the plots, pixels.
pub(crate) const WIDTH: u32 = 960;
/// Height of the plots, pixels.
pub(crate) const HEIGHT: u32 = 600;

/// Registers the embedded font as `sans-serif` (once).
///
/// # Errors
/// When the font cannot be loaded.
pub(crate) fn register_font() -> Result<(), String> {
    static DONE: OnceLock<Result<(), String>> = OnceLock::new();
    DONE.get_or_init(|| {
        plotters::style::register_font("sans-serif", FontStyle::Normal, FONT)
            .map_err(|_| "the embedded font DejaVuSans.ttf could not be loaded".to_string())
    })
    .clone()
}

/// Draws `reports` (row 0 = start point) of a run on `problem` to `path`
/// (a PNG), through a temporary file renamed over it.
///
/// # Errors
/// A message saying what failed (font, drawing, writing).
pub fn objective_png(
    path: &Path,
    problem: &str,
    target: Option<f64>,
    reports: &[IterationReport],
) -> Result<(), String> {
    register_font()?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "objective.png".into());
    // The backend picks the format from the extension: keep `.png` last.
    let tmp = path.with_file_name(format!(".tmp-{name}"));
    draw(&tmp, problem, target, reports).map_err(|e| format!("{}: {e}", path.display()))?;
    std::fs::rename(&tmp, path).map_err(|e| format!("{}: {e}", path.display()))
}

/// What drawing with plotters returns.
pub(crate) type DrawResult = Result<(), Box<dyn std::error::Error>>;

fn draw(
    path: &Path,
    problem: &str,
    target: Option<f64>,
    reports: &[IterationReport],
) -> DrawResult {
    let x_max = reports.iter().map(|r| r.calls).max().unwrap_or(0).max(1) as f64 * 1.03;
    let finite = |v: f64| v.is_finite().then_some(v);
    let values: Vec<f64> = reports
        .iter()
        .flat_map(|r| {
            let band = 2.0 * r.objective_stderr.max(0.0);
            [
                finite(r.objective),
                finite(r.objective + band),
                finite(r.objective - band),
                r.objective_exact.and_then(finite),
            ]
        })
        .flatten()
        .chain(target.and_then(finite))
        .collect();
    let (lo, hi) = values
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    let centres: Vec<f64> = reports
        .iter()
        .flat_map(|r| [finite(r.objective), r.objective_exact.and_then(finite)])
        .flatten()
        .chain(target.and_then(finite))
        .collect();
    let c_lo = centres.iter().copied().fold(f64::INFINITY, f64::min);
    let c_hi = centres.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let log = c_lo > 0.0 && c_hi / c_lo > 100.0;

    let root = BitMapBackend::new(path, (WIDTH, HEIGHT)).into_drawing_area();
    root.fill(&WHITE)?;
    let title = format!("{problem}: objective against simulator calls");
    if log {
        // headroom for the legend in the upper right: a factor of 4
        let y = (c_lo / 1.5)..(c_hi.max(hi) * 6.0);
        let floor = y.start;
        chart(
            &root,
            &title,
            0.0..x_max,
            y.clone().log_scale(),
            floor,
            target,
            reports,
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
        let y = (lo - pad)..(hi + pad + 0.25 * (hi - lo));
        chart(
            &root,
            &title,
            0.0..x_max,
            y.clone(),
            y.start,
            target,
            reports,
            false,
        )?;
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
    reports: &[IterationReport],
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
        "objective E[R] (log scale)"
    } else {
        "objective E[R]"
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

    let blue = RGBColor(31, 119, 180);
    let red = RGBColor(214, 39, 40);
    let clamp = |v: f64| {
        if v.is_finite() {
            v.max(y_floor)
        } else {
            y_floor
        }
    };

    // ±2 standard errors band.
    let pts: Vec<&IterationReport> = reports.iter().filter(|r| r.objective.is_finite()).collect();
    if pts.len() >= 2 {
        let mut poly: Vec<(f64, f64)> = pts
            .iter()
            .map(|r| {
                (
                    r.calls as f64,
                    clamp(r.objective + 2.0 * r.objective_stderr),
                )
            })
            .collect();
        poly.extend(pts.iter().rev().map(|r| {
            (
                r.calls as f64,
                clamp(r.objective - 2.0 * r.objective_stderr),
            )
        }));
        chart
            .draw_series(std::iter::once(Polygon::new(poly, blue.mix(0.2).filled())))?
            .label("±2 standard errors")
            .legend(move |(x, y)| {
                Rectangle::new([(x, y - 5), (x + 20, y + 5)], blue.mix(0.2).filled())
            });
    }
    chart
        .draw_series(
            LineSeries::new(
                pts.iter().map(|r| (r.calls as f64, clamp(r.objective))),
                blue.stroke_width(2),
            )
            .point_size(3),
        )?
        .label("Monte Carlo estimate")
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], blue.stroke_width(2)));

    let exact: Vec<(f64, f64)> = reports
        .iter()
        .filter_map(|r| {
            r.objective_exact
                .filter(|v| v.is_finite())
                .map(|v| (r.calls as f64, clamp(v)))
        })
        .collect();
    if !exact.is_empty() {
        chart
            .draw_series(LineSeries::new(exact, red.stroke_width(2)))?
            .label("exact E[R]")
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], red.stroke_width(2)));
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

/// An axis count as `500`, `25k`, `1.5M`.
pub(crate) fn short_count(v: f64) -> String {
    use crate::text::num;
    if v.abs() >= 1e6 {
        format!("{}M", num(v / 1e6))
    } else if v.abs() >= 1e3 {
        format!("{}k", num(v / 1e3))
    } else {
        num(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reports(values: &[(f64, Option<f64>)]) -> Vec<IterationReport> {
        values
            .iter()
            .enumerate()
            .map(|(i, &(objective, exact))| IterationReport {
                iteration: i as u64,
                calls: 48_000 * i as u64,
                objective,
                objective_stderr: 0.02 * objective.abs(),
                objective_exact: exact,
                step: Default::default(),
                seconds_simulate: 0.0,
                seconds_total: 0.0,
                psi: vec![0.0; 2],
            })
            .collect()
    }

    fn draw_to(name: &str, target: Option<f64>, r: &[IterationReport]) -> Vec<u8> {
        let dir = std::env::temp_dir().join(format!("lgso-plot-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("objective.png");
        objective_png(&path, "test", target, r).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        if std::env::var_os("LGSO_KEEP_PLOTS").is_none() {
            let _ = std::fs::remove_dir_all(&dir);
        }
        bytes
    }

    #[test]
    fn axis_counts() {
        assert_eq!(short_count(0.0), "0");
        assert_eq!(short_count(500.0), "500");
        assert_eq!(short_count(25_000.0), "25k");
        assert_eq!(short_count(1_500_000.0), "1.5M");
    }

    #[test]
    fn draws_linear_log_and_degenerate_plots() {
        // Rosenbrock-like: three decades, so a log axis; the target below.
        let log: Vec<(f64, Option<f64>)> = (0..15)
            .map(|i| {
                let v = 3600.0 * 0.6f64.powi(i);
                (v, Some(v * 1.05))
            })
            .collect();
        // one point, NaN and zero spread must not break the axes
        let cases = [
            ("log", Some(1.0), reports(&log)),
            ("single", Some(-0.8), reports(&[(-0.5, None)])),
            ("flat", None, reports(&[(0.0, None), (0.0, None)])),
            (
                "nan",
                Some(-0.8),
                reports(&[(-0.5, None), (f64::NAN, None)]),
            ),
            ("empty", None, Vec::new()),
        ];
        for (name, target, r) in cases {
            let png = draw_to(name, target, &r);
            assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "{name}");
        }
    }
}
