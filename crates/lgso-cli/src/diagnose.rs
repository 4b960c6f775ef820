//! `lgso diagnose PROBLEM --surrogate S --at PSI --fits R`: the gradient
//! fidelity of a surrogate at psi ([`lgso::diagnose`]), printed as tables
//! and written to a directory:
//!
//! | file | content |
//! | --- | --- |
//! | `diagnose.json` | the whole [`lgso::diagnose::Diagnosis`]: per-fit gradients, cosines, relative errors, per-coordinate bias with CI and p-value, the y samples |
//! | `gradient.png` | per psi coordinate: the reference gradient, each fit's surrogate gradient and their mean with its 95% CI |
//! | `y.png` | histograms of y at psi from the simulator and from the last fitted surrogate |

use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use lgso::diagnose::{diagnose as run_diagnose, DiagnoseSettings, Diagnosis};
use plotters::prelude::*;

use crate::args::DiagnoseArgs;
use crate::bench::check_surrogate;
use crate::chart::{register_font, DrawResult, HEIGHT, WIDTH};
use crate::run::load_config;
use crate::run_dir::{unix_seconds, write_atomic};
use crate::text;

/// Parses `--at`: `start` or comma-separated finite numbers.
///
/// # Errors
/// A message naming `--at` and the expected form.
pub fn parse_psi(text: &str, start: &[f64]) -> anyhow::Result<Vec<f64>> {
    let t = text.trim();
    if t == "start" {
        return Ok(start.to_vec());
    }
    t.split(',')
        .map(|v| {
            v.trim()
                .parse::<f64>()
                .ok()
                .filter(|x| x.is_finite())
                .with_context(|| {
                    format!(
                        "invalid --at {text:?}: `{}` is not a finite number; expected `start` or \
                         psi as comma-separated numbers, e.g. 2,0",
                        v.trim()
                    )
                })
        })
        .collect()
}

/// `lgso diagnose`.
///
/// # Errors
/// Unknown problem or surrogate, a bad `--at` or `--fits`, config errors,
/// simulator or surrogate errors, output errors.
pub fn diagnose(args: &DiagnoseArgs) -> anyhow::Result<ExitCode> {
    let mut cfg = load_config(args.config.as_deref())?;
    cfg.problem = args.problem.clone();
    if let Some(s) = &args.surrogate {
        check_surrogate(s)?;
        cfg.lgso.surrogate = Some(s.clone());
    }
    if let Some(seed) = args.seed {
        cfg.seed = seed;
    }
    cfg.method = "lgso".into();
    if args.fits < 2 || args.fits > 10_000 {
        bail!(
            "invalid --fits {}: expected an integer from 2 to 10000 (independent surrogate fits)",
            args.fits
        );
    }
    if !(args.fd_step.is_finite() && args.fd_step > 0.0) || args.fd_samples < 2 {
        bail!(
            "invalid --fd-step {} / --fd-samples {}: expected a step > 0 and at least 2 draws",
            args.fd_step,
            args.fd_samples
        );
    }
    let resolved = cfg.resolve()?;
    let psi = parse_psi(&args.at, resolved.start())?;
    if psi.len() != resolved.dim() {
        bail!(
            "invalid --at {:?}: psi of problem {} has {} coordinates, found {}",
            args.at,
            resolved.problem.name,
            resolved.dim(),
            psi.len()
        );
    }
    let settings = DiagnoseSettings {
        fits: args.fits,
        fd_samples: args.fd_samples,
        fd_step: args.fd_step,
        ..DiagnoseSettings::default()
    };
    let surrogate = resolved.lgso.surrogate.name();
    let out = args.out.clone().unwrap_or_else(|| {
        PathBuf::from("runs").join(format!(
            "diagnose-{}-{surrogate}-{}",
            resolved.problem.name,
            unix_seconds()
        ))
    });
    if out.join("diagnose.json").exists() {
        bail!(
            "{} already holds a diagnosis: choose another --out or move it away",
            out.display()
        );
    }
    let d = run_diagnose(&resolved, &psi, &settings)?;
    fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    let json = serde_json::to_vec_pretty(&d)?;
    write_atomic(&out.join("diagnose.json"), &json)
        .with_context(|| format!("cannot write {}", out.join("diagnose.json").display()))?;
    let mut warnings = String::new();
    for (name, f) in [
        (
            "gradient.png",
            gradient_png as fn(&Path, &Diagnosis) -> DrawResult,
        ),
        ("y.png", y_png),
    ] {
        if let Err(e) = register_font()
            .map_err(|e| e.into())
            .and_then(|()| f(&out.join(name), &d))
        {
            warnings.push_str(&format!("warning: cannot draw {name}: {e}\n"));
        }
    }
    let n = resolved.lgso.n_points;
    let header = format!(
        "problem    {}\nsurrogate  {}\npsi        {}\nreference  {}\nfits       {} (each on N + 1 = {} points x M = {} fresh samples, eps {}; K = {} gradient samples)\n\n",
        d.problem,
        d.surrogate,
        text::vector(&d.psi, 4),
        if d.reference_kind == "exact" {
            "the exact gradient of E[R]".to_string()
        } else {
            format!(
                "central finite differences, h = {}, {} paired draws per coordinate",
                settings.fd_step,
                text::calls(settings.fd_samples as u64)
            )
        },
        d.fits.len(),
        n + 1,
        resolved.lgso.samples_per_point,
        text::num(resolved.lgso.eps),
        resolved.lgso.gradient_samples,
    );
    text::out(&(header + &report_text(&d) + &format!("\nwritten to {}\n", out.display())))?;
    if !warnings.is_empty() {
        eprint!("{warnings}");
    }
    Ok(ExitCode::SUCCESS)
}

/// The tables of a diagnosis: one row per fit, then one per coordinate.
pub fn report_text(d: &Diagnosis) -> String {
    let fit_rows: Vec<Vec<String>> = d
        .fits
        .iter()
        .enumerate()
        .map(|(i, f)| {
            vec![
                (i + 1).to_string(),
                format!("{:.4}", f.cosine),
                text::sig(f.relative_error, 3),
                text::seconds(f.fit_seconds),
                text::calls(f.train_samples as u64),
            ]
        })
        .collect();
    let coord_rows: Vec<Vec<String>> = d
        .bias
        .iter()
        .enumerate()
        .map(|(i, b)| {
            vec![
                format!("psi_{}", i + 1),
                text::sig(b.reference, 4),
                text::sig(b.mean, 4),
                text::sig(b.std, 3),
                text::sig(b.bias, 3),
                format!(
                    "[{}, {}]",
                    text::sig(b.bias - b.ci_half_width, 3),
                    text::sig(b.bias + b.ci_half_width, 3)
                ),
                text::sig(b.p_value, 2),
                if b.significant { "yes" } else { "no" }.into(),
            ]
        })
        .collect();
    let biased = d.bias.iter().filter(|b| b.significant).count();
    format!(
        "{}\nmedian cosine {:.4}; cosine of the mean gradient {:.4}\n\n{}\n{biased} of {} coordinates with a bias different from 0 at the 5% level (two-sided t-test; expect ~5% by chance)\n",
        text::table(
            &["fit", "cosine", "rel. error", "fit time", "train samples"],
            &fit_rows
        ),
        d.median_cosine(),
        d.mean_gradient_cosine,
        text::table(
            &[
                "coordinate",
                "reference",
                "mean surrogate",
                "std",
                "bias",
                "95% CI",
                "p",
                "biased",
            ],
            &coord_rows
        ),
        d.bias.len()
    )
}

/// The series legend in the upper right corner.
fn legend<'a, DB, CT>(chart: &mut ChartContext<'a, DB, CT>) -> DrawResult
where
    DB: DrawingBackend + 'a,
    DB::ErrorType: 'static,
    CT: plotters::coord::CoordTranslate,
{
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .label_font(("sans-serif", 16))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .draw()?;
    Ok(())
}

/// `(min, max)` of finite values with 6% padding (`(-1, 1)` when empty).
fn padded_range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
    if !lo.is_finite() {
        return (-1.0, 1.0);
    }
    let pad = ((hi - lo) * 0.06).max(1e-9 * hi.abs().max(1.0));
    (lo - pad, hi + pad)
}

/// Per coordinate: the reference (black diamond), each fit (blue dots) and
/// the mean with its 95% CI (red bar).
fn gradient_png(path: &Path, d: &Diagnosis) -> DrawResult {
    let n = d.reference.len();
    let (lo, hi) = padded_range(
        d.reference
            .iter()
            .copied()
            .chain(d.fits.iter().flat_map(|f| f.gradient.iter().copied()))
            .chain(
                d.bias
                    .iter()
                    .flat_map(|b| [b.mean - b.ci_half_width, b.mean + b.ci_half_width]),
            ),
    );
    let root = BitMapBackend::new(path, (WIDTH, HEIGHT)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!(
                "{} / {}: surrogate vs {} gradient",
                d.problem, d.surrogate, d.reference_kind
            ),
            ("sans-serif", 24),
        )
        .margin(16)
        .x_label_area_size(52)
        .y_label_area_size(86)
        .build_cartesian_2d(0.5f64..(n as f64 + 0.5), lo..(hi + 0.2 * (hi - lo)))?;
    chart
        .configure_mesh()
        .x_desc("psi coordinate")
        .y_desc("d E[R] / d psi_i")
        .x_labels(n.min(20))
        .x_label_formatter(&|v| format!("{:.0}", v))
        // ticks that are zero up to rounding (-2.8e-17) print as 0
        .y_label_formatter(&|v| text::num(if v.abs() < 1e-9 * (hi - lo) { 0.0 } else { *v }))
        .label_style(("sans-serif", 16))
        .axis_desc_style(("sans-serif", 18))
        .light_line_style(WHITE.mix(0.0))
        .draw()?;
    let blue = RGBColor(31, 119, 180);
    let red = RGBColor(214, 39, 40);
    let r = d.fits.len().max(1) as f64;
    chart
        .draw_series(d.fits.iter().enumerate().flat_map(|(k, f)| {
            f.gradient.iter().enumerate().map(move |(i, &g)| {
                // spread the fits horizontally so that they do not overlap
                let x = i as f64 + 1.0 - 0.2 + 0.4 * (k as f64 + 0.5) / r;
                Circle::new((x, g), 3, blue.mix(0.6).filled())
            })
        }))?
        .label("surrogate gradient, each fit")
        .legend(move |(x, y)| Circle::new((x + 10, y), 3, blue.filled()));
    chart
        .draw_series(d.bias.iter().enumerate().flat_map(|(i, b)| {
            let x = i as f64 + 1.0;
            let (a, c) = (b.mean - b.ci_half_width, b.mean + b.ci_half_width);
            let style = red.stroke_width(2);
            [
                PathElement::new(vec![(x, a), (x, c)], style),
                PathElement::new(vec![(x - 0.08, a), (x + 0.08, a)], style),
                PathElement::new(vec![(x - 0.08, c), (x + 0.08, c)], style),
                PathElement::new(vec![(x - 0.15, b.mean), (x + 0.15, b.mean)], style),
            ]
        }))?
        .label("mean over fits, 95% CI")
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], red.stroke_width(2)));
    chart
        .draw_series(
            d.reference
                .iter()
                .enumerate()
                .map(|(i, &g)| TriangleMarker::new((i as f64 + 1.0, g), 7, BLACK.filled())),
        )?
        .label(format!("{} gradient", d.reference_kind))
        .legend(|(x, y)| TriangleMarker::new((x + 10, y), 6, BLACK.filled()));
    legend(&mut chart)?;
    root.present()?;
    Ok(())
}

/// Histograms (densities, 60 bins over the central 99.8% of both samples)
/// of y at psi from the simulator and from the surrogate.
fn y_png(path: &Path, d: &Diagnosis) -> DrawResult {
    let mut all: Vec<f64> = d
        .y_simulator
        .iter()
        .chain(&d.y_surrogate)
        .copied()
        .filter(|v| v.is_finite())
        .collect();
    all.sort_by(f64::total_cmp);
    let (lo, hi) = if all.is_empty() {
        (-1.0, 1.0)
    } else {
        let q = |p: f64| all[((all.len() - 1) as f64 * p).round() as usize];
        let (a, b) = (q(0.001), q(0.999));
        if b > a {
            (a, b)
        } else {
            (a - 1.0, b + 1.0)
        }
    };
    let bins = 60;
    let width = (hi - lo) / bins as f64;
    let density = |v: &[f64]| -> Vec<f64> {
        let mut h = vec![0.0; bins];
        for &y in v {
            if y >= lo && y < hi {
                h[(((y - lo) / width) as usize).min(bins - 1)] += 1.0;
            }
        }
        let total = v.len().max(1) as f64 * width;
        h.iter().map(|c| c / total).collect()
    };
    let (hs, hg) = (density(&d.y_simulator), density(&d.y_surrogate));
    let top = hs
        .iter()
        .chain(&hg)
        .copied()
        .fold(0.0f64, f64::max)
        .max(1e-12)
        * 1.25;
    let root = BitMapBackend::new(path, (WIDTH, HEIGHT)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!(
                "{} at psi = {}: y from the simulator and the {} surrogate",
                d.problem,
                text::vector(&d.psi, 3),
                d.surrogate
            ),
            ("sans-serif", 22),
        )
        .margin(16)
        .x_label_area_size(52)
        .y_label_area_size(86)
        .build_cartesian_2d(lo..hi, 0.0..top)?;
    chart
        .configure_mesh()
        .x_desc("y (first coordinate)")
        .y_desc("density")
        .x_label_formatter(&|v| text::num(*v))
        .y_label_formatter(&|v| text::sig(*v, 2))
        .label_style(("sans-serif", 16))
        .axis_desc_style(("sans-serif", 18))
        .light_line_style(WHITE.mix(0.0))
        .draw()?;
    let steps = |h: &[f64]| -> Vec<(f64, f64)> {
        let mut pts = vec![(lo, 0.0)];
        for (i, &v) in h.iter().enumerate() {
            let x0 = lo + i as f64 * width;
            pts.push((x0, v));
            pts.push((x0 + width, v));
        }
        pts.push((hi, 0.0));
        pts
    };
    let grey = RGBColor(90, 90, 90);
    let orange = RGBColor(255, 127, 14);
    chart
        .draw_series(std::iter::once(Polygon::new(steps(&hs), grey.mix(0.25))))?
        .label(format!("simulator ({} draws)", d.y_simulator.len()))
        .legend(move |(x, y)| {
            Rectangle::new([(x, y - 5), (x + 20, y + 5)], grey.mix(0.4).filled())
        });
    chart
        .draw_series(std::iter::once(PathElement::new(
            steps(&hg),
            orange.stroke_width(2),
        )))?
        .label(format!(
            "{} surrogate ({} draws)",
            d.surrogate,
            d.y_surrogate.len()
        ))
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], orange.stroke_width(2)));
    legend(&mut chart)?;
    root.present()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn psi_forms() {
        assert_eq!(parse_psi("start", &[2.0, 0.0]).unwrap(), vec![2.0, 0.0]);
        assert_eq!(parse_psi("1.5, -2", &[]).unwrap(), vec![1.5, -2.0]);
        for bad in ["", "1,,2", "a", "1,nan", "inf"] {
            assert!(parse_psi(bad, &[]).is_err(), "{bad:?} accepted");
        }
    }
}
