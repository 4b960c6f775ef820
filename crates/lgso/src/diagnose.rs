//! Gradient-fidelity diagnostics: can the gradient L-GSO takes through a
//! surrogate be trusted on a given problem, at a given psi?
//!
//! [`diagnose`] fits the configured surrogate `R` times, each on fresh
//! trust-region data at psi (one L-GSO iteration's worth: `N + 1` points,
//! `M` draws each, lgso.md steps 1-3 and 5), takes the pathwise gradient
//! through each fit (lgso.md step 6, `K` draws), and compares them with a
//! reference gradient of `E[R]`:
//! - the exact gradient where the problem has one (Rosenbrock family: closed
//!   form; three hump and the hump problem: quadrature), or
//! - a central finite difference with common random numbers otherwise:
//!   `g_i = mean_j (R(y_j^+) - R(y_j^-)) / (2 h)` over `S` paired draws at
//!   `psi +- h e_i` from the same seed, with its standard error.
//!
//! Per fit it reports the cosine similarity and the relative error
//! `||g - g_ref|| / ||g_ref||`; per coordinate the bias `mean_r g_r - g_ref`
//! with a 95% confidence interval and a two-sided t-test of "bias = 0"
//! (Student's t with `R - 1` degrees of freedom for an exact reference,
//! Welch-Satterthwaite degrees of freedom when the reference's own standard
//! error is added). It also returns `y` drawn from the simulator at psi and
//! from the last fitted surrogate at psi, for a distribution plot.

use serde::Serialize;

use crate::bench::trust_region_data;
use crate::config::ResolvedConfig;
use crate::driver::surrogate_for;
use crate::error::{check_vector, Error, Result};
use crate::problem::{draw, mean_and_stderr, objective_values};
use crate::seed::{derive_seed, rng_from_seed};
use crate::surrogate::{mlp, pathwise_gradient};

/// Stream label of the diagnostics' random draws (distinct from the run
/// streams of [`crate::seed::stream`]).
const STREAM: u64 = 101;

/// Settings of [`diagnose`] beyond the run configuration (which gives the
/// problem, surrogate, `N`, `M`, `eps`, `K` and the seed).
#[derive(Debug, Clone, PartialEq)]
pub struct DiagnoseSettings {
    /// Independent fits `R`, each on fresh data; at least 2.
    pub fits: usize,
    /// Paired draws `S` per finite-difference coordinate (problems without
    /// an exact gradient). Default 200,000.
    pub fd_samples: usize,
    /// Finite-difference step `h` (psi units). Default 0.05.
    pub fd_step: f64,
    /// Draws of y at psi from the simulator and from the surrogate, for the
    /// distribution comparison. Default 5000.
    pub y_samples: usize,
}

impl Default for DiagnoseSettings {
    fn default() -> Self {
        DiagnoseSettings {
            fits: 5,
            fd_samples: 200_000,
            fd_step: 0.05,
            y_samples: 5000,
        }
    }
}

/// One fit's gradient against the reference.
#[derive(Debug, Clone, Serialize)]
pub struct FitDiagnosis {
    /// The surrogate gradient, `[n]`.
    pub gradient: Vec<f64>,
    /// Cosine similarity with the reference gradient.
    pub cosine: f64,
    /// `||g - g_ref|| / ||g_ref||`.
    pub relative_error: f64,
    /// Seconds of the fit.
    pub fit_seconds: f64,
    /// Samples trained on.
    pub train_samples: usize,
}

/// The bias of the surrogate gradient in one coordinate.
#[derive(Debug, Clone, Serialize)]
pub struct CoordinateBias {
    /// Mean surrogate gradient over the fits.
    pub mean: f64,
    /// Standard deviation of the surrogate gradient over the fits.
    pub std: f64,
    /// The reference gradient.
    pub reference: f64,
    /// Standard error of the reference (0 when exact).
    pub reference_stderr: f64,
    /// `mean - reference`.
    pub bias: f64,
    /// Half-width of the 95% confidence interval of the bias.
    pub ci_half_width: f64,
    /// Degrees of freedom of the t-test.
    pub dof: f64,
    /// `bias / standard error`.
    pub t_statistic: f64,
    /// Two-sided p-value of "bias = 0".
    pub p_value: f64,
    /// `p_value < 0.05`.
    pub significant: bool,
}

/// The result of [`diagnose`].
#[derive(Debug, Clone, Serialize)]
pub struct Diagnosis {
    /// Problem name.
    pub problem: String,
    /// Surrogate family.
    pub surrogate: String,
    /// Where the gradients were taken, `[n]`.
    pub psi: Vec<f64>,
    /// `exact` or `finite-difference`.
    pub reference_kind: String,
    /// The reference gradient, `[n]`.
    pub reference: Vec<f64>,
    /// One entry per fit.
    pub fits: Vec<FitDiagnosis>,
    /// One entry per psi coordinate.
    pub bias: Vec<CoordinateBias>,
    /// Cosine similarity of the mean surrogate gradient with the reference.
    pub mean_gradient_cosine: f64,
    /// First y coordinate of simulator draws at psi.
    pub y_simulator: Vec<f64>,
    /// First y coordinate of draws from the last fitted surrogate at psi
    /// (with `x ~ q(x)`).
    pub y_surrogate: Vec<f64>,
}

impl Diagnosis {
    /// Median cosine similarity over the fits.
    pub fn median_cosine(&self) -> f64 {
        let mut c: Vec<f64> = self.fits.iter().map(|f| f.cosine).collect();
        c.sort_by(f64::total_cmp);
        let n = c.len();
        if n == 0 {
            f64::NAN
        } else if n % 2 == 1 {
            c[n / 2]
        } else {
            0.5 * (c[n / 2 - 1] + c[n / 2])
        }
    }
}

/// Cosine similarity of two vectors (NaN if either is zero).
pub fn cosine(a: &[f64], b: &[f64]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    dot / (norm(a) * norm(b))
}

fn norm(a: &[f64]) -> f64 {
    a.iter().map(|v| v * v).sum::<f64>().sqrt()
}

/// Runs the diagnostics at `psi` for the configured problem and surrogate.
///
/// # Errors
/// [`Error::Config`] for fewer than 2 fits or other bad settings;
/// [`Error::Dimension`]/[`Error::NonFinite`] for a bad psi; simulator and
/// surrogate errors.
pub fn diagnose(
    cfg: &ResolvedConfig,
    psi: &[f64],
    settings: &DiagnoseSettings,
) -> Result<Diagnosis> {
    let problem = &cfg.problem;
    check_vector(&format!("psi of problem {}", problem.name), psi, cfg.dim())?;
    problem.check_within_bounds("--at", psi)?;
    if settings.fits < 2 {
        return Err(Error::config(
            "fits",
            "an integer >= 2 (the bias test needs a spread over fits)",
            settings.fits,
        ));
    }
    if !(settings.fd_step.is_finite() && settings.fd_step > 0.0) {
        return Err(Error::config(
            "fd_step",
            "a finite number > 0",
            settings.fd_step,
        ));
    }
    if settings.fd_samples < 2 || settings.y_samples < 1 {
        return Err(Error::config(
            "fd_samples, y_samples",
            "fd_samples >= 2 and y_samples >= 1",
            format!("{}, {}", settings.fd_samples, settings.y_samples),
        ));
    }
    let seed = cfg.seed;
    let (reference_kind, reference, reference_stderr) = match &problem.exact {
        Some(exact) => ("exact", exact.gradient(psi), vec![0.0; psi.len()]),
        None => {
            let (g, se) = finite_difference_gradient(cfg, psi, settings)?;
            ("finite-difference", g, se)
        }
    };
    let surrogate = surrogate_for(cfg.lgso.surrogate, cfg);
    let n_points = cfg.lgso.n_points;
    let samples = (n_points + 1) * cfg.lgso.samples_per_point;
    let mut fits = Vec::with_capacity(settings.fits);
    let mut last = None;
    for r in 0..settings.fits {
        let fit_seed = derive_seed(seed, &[STREAM, 1, r as u64]);
        let mut rng = rng_from_seed(fit_seed);
        let data = trust_region_data(
            problem,
            psi,
            cfg.lgso.eps,
            n_points,
            samples,
            fit_seed,
            &mut rng,
        )?;
        let fitted = surrogate.fit(&data, &mut rng)?;
        let x = problem
            .simulator
            .sample_x(cfg.lgso.gradient_samples, &mut rng);
        let (_, g) = pathwise_gradient(
            fitted.as_ref(),
            problem.objective.as_ref(),
            psi,
            &x,
            &mut rng,
        )?;
        let diff: Vec<f64> = g.iter().zip(&reference).map(|(a, b)| a - b).collect();
        let report = fitted.report();
        fits.push(FitDiagnosis {
            cosine: cosine(&g, &reference),
            relative_error: norm(&diff) / norm(&reference),
            gradient: g,
            fit_seconds: report.seconds,
            train_samples: report.train_samples,
        });
        last = Some(fitted);
    }
    let bias = (0..psi.len())
        .map(|i| {
            let gi: Vec<f64> = fits.iter().map(|f| f.gradient[i]).collect();
            coordinate_bias(&gi, reference[i], reference_stderr[i], settings.fd_samples)
        })
        .collect::<Vec<_>>();
    let mean: Vec<f64> = bias.iter().map(|b| b.mean).collect();

    // y at psi: the simulator against the last fitted surrogate
    let ys = draw(
        problem.simulator.as_ref(),
        psi,
        settings.y_samples,
        derive_seed(seed, &[STREAM, 2]),
    )?;
    let y_simulator: Vec<f64> = (0..ys.len()).map(|i| ys.y.row(i)[0]).collect();
    let y_surrogate = match &last {
        Some(fitted) => {
            let mut rng = rng_from_seed(derive_seed(seed, &[STREAM, 3]));
            let k = settings.y_samples;
            let x = problem.simulator.sample_x(k, &mut rng);
            let z = mlp::randn(k, fitted.noise_dim(), &mut rng)?;
            let xt = mlp::tensor_f32(x.to_f32(), k, x.cols())?;
            let pt = mlp::tensor_f32(
                (0..k).flat_map(|_| psi.iter().map(|&v| v as f32)).collect(),
                k,
                psi.len(),
            )?;
            let y = fitted.sample(&z, &xt, &pt)?;
            y.narrow(1, 0, 1)?
                .flatten_all()?
                .to_vec1::<f32>()?
                .into_iter()
                .map(f64::from)
                .collect()
        }
        None => Vec::new(),
    };
    Ok(Diagnosis {
        problem: problem.name.to_string(),
        surrogate: surrogate.name().to_string(),
        psi: psi.to_vec(),
        reference_kind: reference_kind.to_string(),
        mean_gradient_cosine: cosine(&mean, &reference),
        reference,
        fits,
        bias,
        y_simulator,
        y_surrogate,
    })
}

/// Central finite-difference gradient of `E[R]` with common random numbers
/// and its per-coordinate standard error (see the module docs).
///
/// # Errors
/// Simulator errors (e.g. `psi +- h e_i` outside the simulator's domain).
pub fn finite_difference_gradient(
    cfg: &ResolvedConfig,
    psi: &[f64],
    settings: &DiagnoseSettings,
) -> Result<(Vec<f64>, Vec<f64>)> {
    let problem = &cfg.problem;
    let h = settings.fd_step;
    let mut g = Vec::with_capacity(psi.len());
    let mut se = Vec::with_capacity(psi.len());
    for i in 0..psi.len() {
        let seed = derive_seed(cfg.seed, &[STREAM, 4, i as u64]);
        let at = |sign: f64| -> Result<Vec<f64>> {
            let mut p = psi.to_vec();
            p[i] += sign * h;
            let s = draw(problem.simulator.as_ref(), &p, settings.fd_samples, seed)?;
            objective_values(problem.objective.as_ref(), &s)
        };
        let (plus, minus) = (at(1.0)?, at(-1.0)?);
        let d: Vec<f64> = plus
            .iter()
            .zip(&minus)
            .map(|(a, b)| (a - b) / (2.0 * h))
            .collect();
        let (m, s) = mean_and_stderr(&d);
        g.push(m);
        se.push(s);
    }
    Ok((g, se))
}

/// The bias of `values` (one per fit) against `reference` (with standard
/// error `reference_stderr` from `reference_samples` draws; 0 if exact).
pub fn coordinate_bias(
    values: &[f64],
    reference: f64,
    reference_stderr: f64,
    reference_samples: usize,
) -> CoordinateBias {
    let r = values.len() as f64;
    let (mean, se_mean) = mean_and_stderr(values);
    let std = se_mean * r.sqrt();
    let v1 = se_mean * se_mean;
    let v2 = reference_stderr * reference_stderr;
    let se = (v1 + v2).sqrt();
    // Welch-Satterthwaite; with an exact reference this is r - 1
    let dof = if v2 > 0.0 {
        (v1 + v2).powi(2)
            / (v1 * v1 / (r - 1.0) + v2 * v2 / (reference_samples as f64 - 1.0).max(1.0))
    } else {
        r - 1.0
    };
    let bias = mean - reference;
    let t = bias / se;
    let p_value = if se > 0.0 {
        student_t_two_sided_p(t, dof)
    } else if bias == 0.0 {
        1.0
    } else {
        0.0
    };
    CoordinateBias {
        mean,
        std,
        reference,
        reference_stderr,
        bias,
        ci_half_width: student_t_quantile(0.975, dof) * se,
        dof,
        t_statistic: t,
        p_value,
        significant: p_value < 0.05,
    }
}

/// `ln Gamma(x)`, `x > 0`, by the Lanczos approximation (g = 7, 9 terms;
/// Numerical Recipes 3rd ed., section 6.1; relative error < 1e-14).
fn ln_gamma(x: f64) -> f64 {
    const G: f64 = 7.0;
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // reflection: Gamma(x) Gamma(1 - x) = pi / sin(pi x)
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = C[0];
    let t = x + G + 0.5;
    for (i, c) in C.iter().enumerate().skip(1) {
        a += c / (x + i as f64);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

/// The regularized incomplete beta function `I_x(a, b)` by its continued
/// fraction (modified Lentz; Numerical Recipes 3rd ed., section 6.4).
fn incomplete_beta(x: f64, a: f64, b: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let ln_front = ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (1.0 - x).ln();
    // the continued fraction converges fast for x < (a + 1) / (a + b + 2)
    if x > (a + 1.0) / (a + b + 2.0) {
        return 1.0 - incomplete_beta(1.0 - x, b, a);
    }
    let tiny = 1e-300;
    let (mut c, mut d) = (1.0, 1.0 - (a + b) * x / (a + 1.0));
    if d.abs() < tiny {
        d = tiny;
    }
    d = 1.0 / d;
    let mut f = d;
    for m in 1..500 {
        let m = m as f64;
        let num = m * (b - m) * x / ((a + 2.0 * m - 1.0) * (a + 2.0 * m));
        for (k, numerator) in [
            num,
            -(a + m) * (a + b + m) * x / ((a + 2.0 * m) * (a + 2.0 * m + 1.0)),
        ]
        .into_iter()
        .enumerate()
        {
            d = 1.0 + numerator * d;
            if d.abs() < tiny {
                d = tiny;
            }
            c = 1.0 + numerator / c;
            if c.abs() < tiny {
                c = tiny;
            }
            d = 1.0 / d;
            let delta = c * d;
            f *= delta;
            if k == 1 && (delta - 1.0).abs() < 1e-15 {
                return ln_front.exp() * f / a;
            }
        }
    }
    ln_front.exp() * f / a
}

/// Two-sided p-value `P(|T| >= |t|)` of Student's t with `dof` degrees of
/// freedom: `I_{dof / (dof + t^2)}(dof / 2, 1 / 2)` (Abramowitz & Stegun
/// 26.5.27 and 26.7.1).
pub fn student_t_two_sided_p(t: f64, dof: f64) -> f64 {
    if !t.is_finite() {
        return 0.0;
    }
    incomplete_beta(dof / (dof + t * t), 0.5 * dof, 0.5)
}

/// The `q` quantile of Student's t with `dof > 0` degrees of freedom
/// (`0.5 < q < 1`), by bisection on [`student_t_two_sided_p`]. NaN for
/// `dof <= 0`.
pub fn student_t_quantile(q: f64, dof: f64) -> f64 {
    if dof.is_nan() || dof <= 0.0 || !(0.5..1.0).contains(&q) {
        return f64::NAN;
    }
    let target = 2.0 * (1.0 - q); // two-sided tail mass
    let (mut lo, mut hi) = (0.0f64, 1.0f64);
    while student_t_two_sided_p(hi, dof) > target {
        hi *= 2.0;
        if hi > 1e12 {
            return f64::INFINITY;
        }
    }
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if student_t_two_sided_p(mid, dof) > target {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}
