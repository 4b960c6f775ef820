//! `objective.png`: the objective estimate against simulator calls.
//!
//! The Monte Carlo estimate is drawn with a band of ±2 standard errors, the
//! closed-form objective (where the problem has one) as a second line, and
//! the problem's target as a dashed horizontal line, by [`crate::chart`].
//! The y axis is logarithmic when every value is positive and they span
//! more than two decades (the Rosenbrock problems).

use std::path::Path;

use lgso::report::IterationReport;
use plotters::style::RGBColor;

use crate::chart::{extent, Band, Chart, Line, YAxis};

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
    let (lo, hi) = extent(
        reports
            .iter()
            .flat_map(|r| {
                let band = 2.0 * r.objective_stderr.max(0.0);
                [r.objective, r.objective + band, r.objective - band]
                    .into_iter()
                    .chain(r.objective_exact)
            })
            .chain(target),
    );
    // The scale follows the lines and the target, not the band.
    let (c_lo, c_hi) = extent(
        reports
            .iter()
            .flat_map(|r| [Some(r.objective), r.objective_exact])
            .flatten()
            .chain(target),
    );
    // headroom for the legend in the upper right
    let y = if YAxis::wants_log(c_lo, c_hi) {
        YAxis::log(c_lo, c_hi.max(hi), 1.0)
    } else {
        YAxis::linear(lo, hi, 0.25)
    };

    let blue = RGBColor(31, 119, 180);
    let red = RGBColor(214, 39, 40);
    let pts: Vec<&IterationReport> = reports.iter().filter(|r| r.objective.is_finite()).collect();
    let band = Band {
        label: Some("±2 standard errors".into()),
        colour: blue,
        alpha: 0.2,
        points: pts
            .iter()
            .map(|r| {
                (
                    r.calls as f64,
                    r.objective - 2.0 * r.objective_stderr,
                    r.objective + 2.0 * r.objective_stderr,
                )
            })
            .collect(),
    };
    let estimate = Line {
        label: "Monte Carlo estimate".into(),
        colour: blue,
        points: pts.iter().map(|r| (r.calls as f64, r.objective)).collect(),
        marker: 3,
        swatch: None,
    };
    let exact: Vec<(f64, f64)> = reports
        .iter()
        .filter_map(|r| {
            r.objective_exact
                .filter(|v| v.is_finite())
                .map(|v| (r.calls as f64, v))
        })
        .collect();
    let exact = (!exact.is_empty()).then(|| Line {
        label: "exact E[R]".into(),
        colour: red,
        points: exact,
        marker: 0,
        swatch: None,
    });
    let max_calls = reports.iter().map(|r| r.calls).max().unwrap_or(0);
    Chart::objective(problem, max_calls)
        .y_axis("objective E[R]", y)
        .bands([band])
        .lines([estimate])
        .lines(exact)
        .target(target)
        .write_png(path)
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
