//! Diagnostics tests: Student-t quantiles and p-values against table values
//! and closed forms, the bias statistics on known values, the
//! finite-difference reference against the exact Rosenbrock gradient, and a
//! small diagnose run of the MDN on Rosenbrock-10.

use lgso::config::Config;
use lgso::diagnose::{
    coordinate_bias, cosine, diagnose, finite_difference_gradient, student_t_quantile,
    student_t_two_sided_p, DiagnoseSettings,
};

/// Two-sided 97.5% quantiles from a t table (e.g. Abramowitz & Stegun,
/// table 26.10): dof 1: 12.706, 2: 4.303, 4: 2.776, 10: 2.228, 30: 2.042;
/// the normal's 1.960 in the limit.
#[test]
fn t_quantiles_match_the_table() {
    for (dof, q) in [
        (1.0, 12.706_2),
        (2.0, 4.302_7),
        (4.0, 2.776_4),
        (10.0, 2.228_1),
        (30.0, 2.042_3),
        (1e6, 1.960_0),
    ] {
        let got = student_t_quantile(0.975, dof);
        assert!((got - q).abs() < 1e-3, "dof {dof}: {got} vs {q}");
    }
    assert!(student_t_quantile(0.975, 0.0).is_nan());
}

/// Closed forms: dof 1 (Cauchy) `p = 1 - (2 / pi) atan |t|`, dof 2
/// `p = 1 - |t| / sqrt(2 + t^2)`.
#[test]
fn t_p_values_match_closed_forms() {
    for t in [0.0, 0.3, 1.0, 2.5, 7.0, -4.0] {
        let cauchy = 1.0 - 2.0 / std::f64::consts::PI * f64::atan(f64::abs(t));
        let two = 1.0 - t.abs() / (2.0 + t * t).sqrt();
        assert!(
            (student_t_two_sided_p(t, 1.0) - cauchy).abs() < 1e-10,
            "t {t}"
        );
        assert!((student_t_two_sided_p(t, 2.0) - two).abs() < 1e-10, "t {t}");
    }
}

/// Fits [1, 2, 3] against an exact reference 0: mean 2, std 1, standard
/// error 1/sqrt(3), t = 2 sqrt(3), dof 2, p = 1 - t / sqrt(2 + t^2), CI
/// half-width 4.3027 / sqrt(3); against 2 the bias is 0 and p = 1.
#[test]
fn bias_statistics_on_known_values() {
    let b = coordinate_bias(&[1.0, 2.0, 3.0], 0.0, 0.0, 0);
    let t = 2.0 * 3f64.sqrt();
    assert!((b.mean - 2.0).abs() < 1e-12 && (b.std - 1.0).abs() < 1e-12);
    assert!((b.t_statistic - t).abs() < 1e-12);
    assert_eq!(b.dof, 2.0);
    assert!((b.p_value - (1.0 - t / (2.0 + t * t).sqrt())).abs() < 1e-10);
    assert!((b.ci_half_width - 4.302_65 / 3f64.sqrt()).abs() < 1e-4);
    assert!(!b.significant, "p = {} (0.074)", b.p_value);
    let b = coordinate_bias(&[1.0, 2.0, 3.0], 2.0, 0.0, 0);
    assert!(b.bias.abs() < 1e-12 && (b.p_value - 1.0).abs() < 1e-12);
    // a tight cluster far from the reference is a significant bias
    let b = coordinate_bias(&[10.1, 9.9, 10.0, 10.05], 9.0, 0.0, 0);
    assert!(b.significant && b.p_value < 1e-3, "p = {}", b.p_value);
    // with a noisy reference: Welch-Satterthwaite dof between the two
    // samples' (3 and 999)
    let b = coordinate_bias(&[1.0, 2.0, 3.0], 0.0, 0.5, 1000);
    assert!(b.dof > 2.0 && b.dof < 999.0, "dof {}", b.dof);
    assert!((b.t_statistic - 2.0 / (1.0 / 3.0 + 0.25f64).sqrt()).abs() < 1e-12);
    assert!((cosine(&[1.0, 0.0], &[1.0, 1.0]) - 0.5f64.sqrt()).abs() < 1e-12);
}

fn rosenbrock(extra: &str) -> lgso::config::ResolvedConfig {
    Config::from_toml_str(&format!(
        "problem = \"rosenbrock\"\nseed = 3\n[lgso]\npreset = \"paper\"\nsurrogate = \"mdn\"\nsamples_per_point = 1000\n\
         gradient_samples = 5000\n[mdn]\nthreads = 1\n{extra}"
    ))
    .unwrap()
    .resolve()
    .unwrap()
}

/// E[R] = g(psi) for Rosenbrock, so the finite-difference reference must
/// agree with the closed-form gradient within its standard error plus the
/// truncation error `h^2 / 6 |g'''|` (g is a quartic in each coordinate,
/// `p_i^4` being its only term of degree 3 or more in `p_i`:
/// `|d^3 g / d psi_i^3| = 24 p_i`, 36 at psi = 1.5, times 0.05^2 / 6).
#[test]
fn finite_difference_reference_matches_the_exact_rosenbrock_gradient() {
    let cfg = rosenbrock("");
    let psi = vec![1.5; 10];
    let settings = DiagnoseSettings {
        fd_samples: 20_000,
        ..DiagnoseSettings::default()
    };
    let (g, se) = finite_difference_gradient(&cfg, &psi, &settings).unwrap();
    let exact = cfg.problem.exact.clone().unwrap().gradient(&psi);
    let truncation = 0.05f64.powi(2) / 6.0 * 36.0;
    for i in 0..10 {
        assert!(
            (g[i] - exact[i]).abs() < 5.0 * se[i] + truncation,
            "coordinate {i}: {} ± {} vs {}",
            g[i],
            se[i],
            exact[i]
        );
    }
}

/// The MDN's gradients at the Rosenbrock start point point along the exact
/// gradient (cosine > 0.9 in every fit, as the GAN's surrogate test asks),
/// and the report is complete.
#[test]
fn diagnose_mdn_on_rosenbrock_start() {
    lgso::threads::single_threaded_tensor_ops();
    let cfg = rosenbrock("");
    let psi = vec![2.0; 10];
    let settings = DiagnoseSettings {
        fits: 3,
        y_samples: 2000,
        ..DiagnoseSettings::default()
    };
    let d = diagnose(&cfg, &psi, &settings).unwrap();
    assert_eq!(d.reference_kind, "exact");
    assert_eq!(
        d.reference,
        cfg.problem.exact.clone().unwrap().gradient(&psi)
    );
    assert_eq!(d.fits.len(), 3);
    assert_eq!(d.bias.len(), 10);
    for f in &d.fits {
        assert!(f.cosine > 0.9, "cosine {}", f.cosine);
        assert_eq!(f.train_samples, 16 * 1000);
    }
    assert_eq!(d.y_simulator.len(), 2000);
    assert_eq!(d.y_surrogate.len(), 2000);
    // y at psi = 2: E[y] = g(2) = 9 * ((2 - 4)^2 + (1 - 2)^2) = 45
    let mean_sim = d.y_simulator.iter().sum::<f64>() / 2000.0;
    let mean_sur = d.y_surrogate.iter().sum::<f64>() / 2000.0;
    eprintln!("E[y]: simulator {mean_sim}, surrogate {mean_sur}");
    assert!(
        (mean_sur - 45.0).abs() < 0.05 * 45.0,
        "surrogate E[y] {mean_sur}"
    );
    // fewer than 2 fits is a clear error naming the setting
    let err = diagnose(
        &cfg,
        &psi,
        &DiagnoseSettings {
            fits: 1,
            ..settings.clone()
        },
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("fits") && err.contains(">= 2"), "{err}");
    let err = diagnose(&cfg, &[2.0; 3], &settings)
        .unwrap_err()
        .to_string();
    assert!(err.contains("dimension 3, expected 10"), "{err}");
}
