//! The line charts of the command: the objective on a problem against
//! simulator calls, as shaded bands, lines, an optional dashed target line
//! and a legend.
//!
//! `plot.rs` (a run's `objective.png`) and `bench/plot.rs` (the comparison
//! per problem of `lgso bench`) say what to draw and pick the y axis;
//! [`Chart`] says how: the title, the frame, the count-labelled x axis, the
//! log or linear y axis, the fonts, the legend in the upper right, and
//! writing the PNG through a temporary file renamed over it. Values below the y axis, and values that are not
//! finite, are drawn at its bottom; a band of fewer than two points is left
//! out.
//!
//! It also holds what every picture of the command shares: the DejaVu Sans
//! font embedded in the binary (no system fonts needed), the plot size and
//! [`DrawResult`], used by `diagnose.rs` and `shield.rs` too.

use std::ops::Range;
use std::path::Path;
use std::sync::OnceLock;

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

/// What drawing with plotters returns.
pub(crate) type DrawResult = Result<(), Box<dyn std::error::Error>>;

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

/// The smallest and largest of the finite `values`; `(inf, -inf)` when
/// there are none.
pub(crate) fn extent(values: impl IntoIterator<Item = f64>) -> (f64, f64) {
    values
        .into_iter()
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        })
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

/// The y axis: its range and scale.
#[derive(Debug)]
pub(crate) struct YAxis {
    range: Range<f64>,
    log: bool,
}

impl YAxis {
    /// Whether values from `lo` to `hi` want a log axis: all positive, and
    /// spanning more than two decades.
    pub(crate) fn wants_log(lo: f64, hi: f64) -> bool {
        lo > 0.0 && hi / lo > 100.0
    }

    /// A log axis from `lo / 1.5` to `hi * 6 * head`: the factor 6 leaves
    /// room for the legend in the upper right, `head` (>= 1) more for a
    /// taller legend.
    pub(crate) fn log(lo: f64, hi: f64, head: f64) -> Self {
        Self {
            range: (lo / 1.5)..(hi * 6.0 * head),
            log: true,
        }
    }

    /// A linear axis over `lo..hi` (`-1..1` where either is not finite),
    /// padded by 6% of the span (at least a hair, so that a flat trace gets
    /// an axis), with `head` times the span on top: room for the legend in
    /// the upper right.
    pub(crate) fn linear(lo: f64, hi: f64, head: f64) -> Self {
        let (lo, hi) = if lo.is_finite() && hi.is_finite() {
            (lo, hi)
        } else {
            (-1.0, 1.0)
        };
        let pad = ((hi - lo) * 0.06).max(1e-9 * hi.abs().max(1.0)).max(1e-12);
        Self {
            range: (lo - pad)..(hi + pad + head * (hi - lo)),
            log: false,
        }
    }
}

/// A shaded band between a lower and an upper curve.
pub(crate) struct Band {
    /// Its legend entry (a swatch of the band); `None`: not in the legend.
    pub label: Option<String>,
    /// Its colour ...
    pub colour: RGBColor,
    /// ... and opacity.
    pub alpha: f64,
    /// `(x, lower, upper)`, by increasing x.
    pub points: Vec<(f64, f64, f64)>,
}

/// A line through points, 2 pixels wide.
pub(crate) struct Line {
    /// Its legend entry.
    pub label: String,
    /// Its colour.
    pub colour: RGBColor,
    /// `(x, y)`, by increasing x.
    pub points: Vec<(f64, f64)>,
    /// The radius of a dot at each point, pixels (0: none).
    pub marker: u32,
    /// The opacity of a swatch of the line's band behind the line in the
    /// legend, for a line drawn with a band of its own colour.
    pub swatch: Option<f64>,
}

/// A chart of the objective on a problem against simulator calls, built up
/// and then drawn by [`Chart::write_png`]: bands first, then the lines over
/// them, then the target line, each in the order given, which is also the
/// legend's order.
pub(crate) struct Chart {
    title: String,
    x: Range<f64>,
    y_desc: String,
    y: YAxis,
    bands: Vec<Band>,
    lines: Vec<Line>,
    target: Option<f64>,
}

impl Chart {
    /// An empty chart of the objective on `problem` against simulator
    /// calls, from 0 to `max_calls` (at least 1) and 3% more; its ticks are
    /// counts ([`short_count`]).
    pub(crate) fn objective(problem: &str, max_calls: u64) -> Self {
        Self {
            title: format!("{problem}: objective against simulator calls"),
            x: 0.0..max_calls.max(1) as f64 * 1.03,
            y_desc: String::new(),
            y: YAxis::linear(-1.0, 1.0, 0.0),
            bands: Vec::new(),
            lines: Vec::new(),
            target: None,
        }
    }

    /// The y axis: its description (` (log scale)` is added on a log axis)
    /// and range.
    pub(crate) fn y_axis(mut self, desc: &str, axis: YAxis) -> Self {
        self.y_desc = desc.to_string();
        self.y = axis;
        self
    }

    /// Adds bands.
    pub(crate) fn bands(mut self, bands: impl IntoIterator<Item = Band>) -> Self {
        self.bands.extend(bands);
        self
    }

    /// Adds lines.
    pub(crate) fn lines(mut self, lines: impl IntoIterator<Item = Line>) -> Self {
        self.lines.extend(lines);
        self
    }

    /// A dashed horizontal line at `target`, labelled `target <value>`
    /// (left out when not finite, or not positive on a log axis).
    pub(crate) fn target(mut self, target: Option<f64>) -> Self {
        self.target = target;
        self
    }

    /// Draws the chart to `path` (a PNG), through a temporary file renamed
    /// over it.
    ///
    /// # Errors
    /// A message saying what failed (font, drawing, writing).
    pub(crate) fn write_png(&self, path: &Path) -> Result<(), String> {
        register_font()?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "plot.png".into());
        // The backend picks the format from the extension: keep `.png` last.
        let tmp = path.with_file_name(format!(".tmp-{name}"));
        self.draw(&tmp)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        std::fs::rename(&tmp, path).map_err(|e| format!("{}: {e}", path.display()))
    }

    fn draw(&self, path: &Path) -> DrawResult {
        let root = BitMapBackend::new(path, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE)?;
        let y = self.y.range.clone();
        if self.y.log {
            self.draw_on(&root, y.log_scale())?;
        } else {
            self.draw_on(&root, y)?;
        }
        root.present()?;
        Ok(())
    }

    /// Draws on `root` with the y coordinate `y` (linear or log).
    fn draw_on<DB, Y>(&self, root: &DrawingArea<DB, plotters::coord::Shift>, y: Y) -> DrawResult
    where
        DB: DrawingBackend,
        DB::ErrorType: 'static,
        Y: AsRangedCoord<Value = f64>,
        Y::CoordDescType: ValueFormatter<f64>,
    {
        let log = self.y.log;
        let y_floor = self.y.range.start;
        // Tick values that are zero up to rounding (-1.1e-16) print as 0.
        let y_tiny = if log {
            0.0
        } else {
            (y_floor.abs() + 1.0) * 1e-9
        };
        let x_coord: RangedCoordf64 = self.x.clone().into();
        let mut chart = ChartBuilder::on(root)
            .caption(&self.title, ("sans-serif", 26))
            .margin(16)
            .x_label_area_size(52)
            .y_label_area_size(86)
            .build_cartesian_2d(x_coord, y)?;
        let y_desc = if log {
            format!("{} (log scale)", self.y_desc)
        } else {
            self.y_desc.clone()
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
        for band in self.bands.iter().filter(|b| b.points.len() >= 2) {
            let fill = band.colour.mix(band.alpha).filled();
            let mut poly: Vec<(f64, f64)> = band
                .points
                .iter()
                .map(|&(x, _, hi)| (x, clamp(hi)))
                .collect();
            poly.extend(band.points.iter().rev().map(|&(x, lo, _)| (x, clamp(lo))));
            let drawn = chart.draw_series(std::iter::once(Polygon::new(poly, fill)))?;
            if let Some(label) = &band.label {
                drawn
                    .label(label.clone())
                    .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 20, y + 5)], fill));
            }
        }
        for line in &self.lines {
            let stroke = line.colour.stroke_width(2);
            let drawn = chart
                .draw_series(
                    LineSeries::new(line.points.iter().map(|&(x, y)| (x, clamp(y))), stroke)
                        .point_size(line.marker),
                )?
                .label(line.label.clone());
            if let Some(alpha) = line.swatch {
                let fill = line.colour.mix(alpha).filled();
                drawn.legend(move |(x, y)| {
                    EmptyElement::at((x, y))
                        + Rectangle::new([(0, -6), (20, 6)], fill)
                        + PathElement::new(vec![(0, 0), (20, 0)], stroke)
                });
            } else {
                drawn.legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], stroke));
            }
        }
        if let Some(t) = self.target.filter(|t| t.is_finite() && (!log || *t > 0.0)) {
            let style = BLACK.mix(0.7).stroke_width(2);
            chart
                .draw_series(DashedLineSeries::new(
                    vec![(self.x.start, t), (self.x.end, t)],
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_counts() {
        assert_eq!(short_count(0.0), "0");
        assert_eq!(short_count(500.0), "500");
        assert_eq!(short_count(25_000.0), "25k");
        assert_eq!(short_count(1_500_000.0), "1.5M");
    }
}
