//! SHiP's mass-penalised objective (muon_shield.md §7.2, §7.3) as an
//! optimizable option of the `muon-shield` problem (issue #6): the mass and
//! its gradient against the per-magnet volumes and finite differences, the
//! per-sample FCN against its formula written out by hand, its psi gradient
//! against finite differences of the f64 FCN, the hard cut above 3e6 kg,
//! the 1 GeV/c hit cut, and the `[muon_shield]` settings.

use candle_core::{DType, Device, Tensor, Var};
use lgso::config::Config;
use lgso::problem::muon_shield::objective::{
    SHIP_DEFAULT_MUONS, SHIP_FCN_HEAVY, SHIP_MIN_HIT_MOMENTUM, SHIP_W_STAR,
};
use lgso::problem::muon_shield::{
    mass_and_gradient, problem_with, ship_fcn, ship_weight, GeometryOptions, Shield,
    ShieldObjective, ShieldSimulator, ShipFcnObjective, Status, BASELINE, NOT_REACHED_Y_CM,
};
use lgso::problem::{estimate_objective, Objective, Simulator};
use lgso::seed::rng_from_seed;
use lgso::Error;

fn geometry(rounding: bool, step_geo: bool) -> GeometryOptions {
    GeometryOptions {
        gap_rounding: rounding,
        step_geo,
    }
}

fn mass_with(psi: &[f64], options: GeometryOptions) -> f64 {
    Shield::from_psi(psi, options).unwrap().mass_kg()
}

fn mass(psi: &[f64], rounding: bool) -> f64 {
    mass_with(psi, geometry(rounding, false))
}

/// A psi away from the baseline's integer gaps (so the gap rounding has no
/// jump within a finite-difference step), with Magn1's entrance gap below
/// the gap rule's 100 / dY so that the dY branch of the rule is active.
fn off_grid_psi() -> Vec<f64> {
    let mut psi: Vec<f64> = BASELINE.iter().map(|v| v * 1.013 + 0.37).collect();
    psi[6 + 4] = 2.3; // gapIn_1, with dYIn_1 = 29.7: 100 / dY = 3.37 > 2.3
    psi
}

#[test]
fn mass_gradient_matches_volumes_and_finite_differences() {
    // value: the same mass as the shield's own (§7.3: 1 276 197 kg)
    let (w, g) = mass_and_gradient(&BASELINE, GeometryOptions::default()).unwrap();
    assert!((w - 1_276_197.0).abs() < 2.0, "{w}");
    // dW/d dZ_k = 2 rho Vol_k / L_k = (mass of Magn_k) / (dZ_k - 5): each
    // magnet's volume is linear in its half-length
    let shield = Shield::from_psi(&BASELINE, GeometryOptions::default()).unwrap();
    for k in 0..6 {
        let m = &shield.magnets[k + 1];
        let magnet_kg = 7.87e-3 * m.volume();
        let expected = magnet_kg / (BASELINE[k] - 5.0);
        assert!((g[k] - expected).abs() < 1e-9 * expected, "dZ_{}", k + 1);
    }
    // every coordinate against central differences (the mass is quadratic
    // in each coordinate off the gap rule's kinks and the slab count's
    // jumps, so h = 1e-3 is exact up to rounding), with and without
    // FairShip's gap rounding, tapered and in step_geo mode
    for (rounding, step_geo) in [(true, false), (false, false), (true, true), (false, true)] {
        let options = geometry(rounding, step_geo);
        let psi = off_grid_psi();
        let (w, g) = mass_and_gradient(&psi, options).unwrap();
        assert_eq!(w, mass_with(&psi, options));
        let h = 1e-3;
        for i in 0..psi.len() {
            let (mut a, mut b) = (psi.clone(), psi.clone());
            a[i] += h;
            b[i] -= h;
            let fd = (mass_with(&a, options) - mass_with(&b, options)) / (2.0 * h);
            assert!(
                (g[i] - fd).abs() < 1e-4 * (1.0 + fd.abs()),
                "{options:?}, coordinate {i}: analytic {} vs finite difference {fd}",
                g[i]
            );
        }
        // the gap rule's dY branch is exercised (Magn1 entrance)
        let dy_in_1 = 6 + 2;
        let (_, g_round) = mass_and_gradient(&psi, geometry(true, step_geo)).unwrap();
        if !rounding {
            assert!(g[dy_in_1] < g_round[dy_in_1], "the rule's -100/dY^2 term");
        }
    }
}

#[test]
fn step_geo_slabs_and_mass() {
    // §3.3: Magn_k as ceil(2 h / 50) slabs with the cross-section of each
    // slab's middle; worked out here from psi directly
    let stepped = Shield::from_psi(&BASELINE, geometry(true, true)).unwrap();
    let tapered = Shield::from_psi(&BASELINE, GeometryOptions::default()).unwrap();
    let area = |dx: f64, dy: f64, g: f64| 4.0 * dx * (2.0 * dx + 2.0 * dy + g);
    let eff_gap = |g: f64, dy: f64| g.max(100.0 / dy).ceil();
    for k in 0..6 {
        let len = 2.0 * (BASELINE[k] - 5.0);
        let n = (len / 50.0).ceil() as usize;
        let c = &BASELINE[6 + 6 * k..12 + 6 * k];
        let (gi, go) = (eff_gap(c[4], c[2]), eff_gap(c[5], c[3]));
        let mut volume = 0.0;
        for j in 0..n {
            let t = (j as f64 + 0.5) / n as f64;
            let at = |a: f64, b: f64| a + t * (b - a);
            volume += len / n as f64 * area(at(c[0], c[1]), at(c[2], c[3]), at(gi, go));
        }
        let m = &stepped.magnets[k + 1];
        assert_eq!(m.slabs, n, "Magn{}", k + 1);
        assert!((m.volume() - volume).abs() < 1e-6 * volume, "Magn{}", k + 1);
        // constant within a slab, the slab-middle section
        let z = m.z_start + (m.z_end - m.z_start) * 0.01 / n as f64;
        let mid =
            tapered.magnets[k + 1].section_at(m.z_start + (m.z_end - m.z_start) * 0.5 / n as f64);
        let s = m.section_at(z);
        for (a, b) in [(s.dx, mid.dx), (s.dy, mid.dy), (s.gap, mid.gap)] {
            assert!((a - b).abs() < 1e-9, "Magn{}: {s:?} vs {mid:?}", k + 1);
        }
    }
    // the midpoint rule under-estimates the convex area: a little lighter
    let (ws, wt) = (stepped.mass_kg(), tapered.mass_kg());
    assert!(ws < wt && ws > 0.999 * wt, "{ws} vs {wt}");
    // every slab face is a tracking boundary
    let faces: usize = stepped
        .magnets
        .iter()
        .map(|m| m.slabs.saturating_sub(1))
        .sum();
    assert_eq!(
        stepped.boundaries().len(),
        tapered.boundaries().len() + faces
    );
}

/// Rows of hand-made hits: `(X, Y)` in cm, pdg, and the SHiP weight worked
/// out from §7.2 by hand (x' = X for mu-, -X for mu+, in m; window
/// `-3 < x' < 2.6`, `|Y| < 5`; `w = sqrt((2.6 - x') / 5.6)`).
fn hand_hits() -> Vec<([f64; 2], f64, f64)> {
    vec![
        ([-299.0, 0.0], 13.0, (5.59f64 / 5.6).sqrt()), // mu-, x' = -2.99
        ([0.0, 100.0], 13.0, (2.6f64 / 5.6).sqrt()),   // mu-, x' = 0
        ([-100.0, -450.0], -13.0, (1.6f64 / 5.6).sqrt()), // mu+, x' = +1
        ([260.0, 0.0], 13.0, 0.0),                     // x' = 2.6: edge, strict
        ([300.0, 0.0], -13.0, 0.0),                    // mu+, x' = -3: edge
        ([0.0, 500.0], 13.0, 0.0),                     // |Y| = 5 m: edge
        ([0.0, NOT_REACHED_Y_CM], 13.0, 0.0),          // not reached
        ([-250.0, 20.0], -13.0, (0.1f64 / 5.6).sqrt()), // mu+, x' = 2.5
    ]
}

fn tensors(psi: &[f64]) -> (Tensor, Tensor, Var) {
    let rows = hand_hits();
    let b = rows.len();
    let y: Vec<f64> = rows.iter().flat_map(|r| r.0).collect();
    let x: Vec<f64> = rows
        .iter()
        .flat_map(|r| [0.0, 0.0, 100.0, 0.0, 0.0, 0.0, r.1])
        .collect();
    let psi_rows: Vec<f64> = (0..b).flat_map(|_| psi.iter().copied()).collect();
    (
        Tensor::from_vec(y, (b, 2), &Device::Cpu).unwrap(),
        Tensor::from_vec(x, (b, 7), &Device::Cpu).unwrap(),
        Var::from_vec(psi_rows, (b, psi.len()), &Device::Cpu).unwrap(),
    )
}

#[test]
fn per_sample_fcn_matches_the_formula_and_its_psi_gradient() {
    let n = 1000.0;
    let obj = ShipFcnObjective {
        muons: n,
        geometry: GeometryOptions::default(),
    };
    let psi = BASELINE.to_vec();
    let w_kg = mass(&psi, true);
    let penalty = 1.0 + (10.0 * (w_kg - SHIP_W_STAR) / SHIP_W_STAR).exp();
    let (y, x, psi_var) = tensors(&psi);
    let r = obj.per_sample(&y, &x, psi_var.as_tensor()).unwrap();
    let values = r.to_vec1::<f64>().unwrap();
    for (i, (hit, pdg, w)) in hand_hits().into_iter().enumerate() {
        let expected = penalty * (1.0 + n * w);
        assert!(
            (values[i] - expected).abs() < 1e-9 * expected,
            "row {i}: {} vs {expected}",
            values[i]
        );
        // the f64 functions agree row by row (p = 2 GeV/c passes the cut)
        let f64_fcn = ship_fcn(n * ship_weight(hit, pdg, 2.0), w_kg);
        assert!((values[i] - f64_fcn).abs() < 1e-6 * f64_fcn, "row {i}");
    }
    // gradient w.r.t. psi of the mean, against central differences of the
    // f64 FCN on the same hits (the hits do not move with psi here)
    let mean_w: f64 = hand_hits().iter().map(|r| r.2).sum::<f64>() / 8.0;
    let grads = r.mean_all().unwrap().backward().unwrap();
    let g = grads.get(psi_var.as_tensor()).unwrap().sum(0).unwrap();
    let g = g.to_vec1::<f64>().unwrap();
    let fcn = |p: &[f64]| ship_fcn(n * mean_w, mass(p, true));
    let h = 1e-3;
    let mut psi_fd = psi.clone();
    for v in psi_fd.iter_mut().skip(6) {
        *v += 0.31; // off the integer gaps (rounding has no jump within h)
    }
    let (y2, x2, v2) = tensors(&psi_fd);
    let r2 = obj.per_sample(&y2, &x2, v2.as_tensor()).unwrap();
    let g2 = r2.mean_all().unwrap().backward().unwrap();
    let g2 = g2.get(v2.as_tensor()).unwrap().sum(0).unwrap();
    let g2 = g2.to_vec1::<f64>().unwrap();
    for i in 0..psi.len() {
        let (mut a, mut b) = (psi_fd.clone(), psi_fd.clone());
        a[i] += h;
        b[i] -= h;
        let fd = (fcn(&a) - fcn(&b)) / (2.0 * h);
        assert!(
            (g2[i] - fd).abs() < 1e-5 * (1.0 + fd.abs()),
            "coordinate {i}: {} vs {fd}",
            g2[i]
        );
    }
    // at the baseline (integer gaps): dZ gradients are positive (heavier),
    // the rounded gaps' are 0, nothing is NaN
    assert!(g.iter().all(|v| v.is_finite()));
    assert!(g[..6].iter().all(|&v| v > 0.0));
    assert_eq!(g[6 + 4], 0.0, "gapIn_1 under the gap rounding");
}

#[test]
fn gradient_in_y_is_finite_at_the_window_edges() {
    let obj = ShipFcnObjective::default();
    let (y, x, psi) = tensors(&BASELINE);
    let yv = Var::from_tensor(&y).unwrap();
    let r = obj.per_sample(yv.as_tensor(), &x, psi.as_tensor()).unwrap();
    let g = r.sum_all().unwrap().backward().unwrap();
    let gy = g.get(yv.as_tensor()).unwrap().to_vec2::<f64>().unwrap();
    for (i, row) in gy.iter().enumerate() {
        assert!(row.iter().all(|v| v.is_finite()), "row {i}: {row:?}");
    }
    // inside: dR/dX = pen N dw/dX with w = sqrt((2.6 - x')/5.6), x' = X/100
    // for mu- (row 1, x' = 0): dw/dX = -1 / (2 * 5.6 * w) / 100
    let pen = 1.0 + (10.0 * (mass(&BASELINE, true) - SHIP_W_STAR) / SHIP_W_STAR).exp();
    let w = (2.6f64 / 5.6).sqrt();
    let expected = pen * SHIP_DEFAULT_MUONS as f64 * (-1.0 / (2.0 * 5.6 * w) / 100.0);
    assert!(
        (gy[1][0] - expected).abs() < 1e-9 * expected.abs(),
        "{} vs {expected}",
        gy[1][0]
    );
    // on and outside the edges: 0
    for i in [3, 4, 5, 6] {
        assert_eq!(gy[i], vec![0.0, 0.0], "row {i}");
    }
}

#[test]
fn heavy_shields_cost_1e8_with_the_smooth_gradient() {
    // widen every core: W > 3e6 kg
    let mut psi = BASELINE.to_vec();
    for k in 0..6 {
        psi[6 + 6 * k] += 60.0;
        psi[6 + 6 * k + 1] += 60.0;
    }
    let w_kg = mass(&psi, true);
    assert!(w_kg > 3e6, "{w_kg}");
    let obj = ShipFcnObjective {
        muons: 10.0,
        geometry: GeometryOptions::default(),
    };
    let (y, x, v) = tensors(&psi);
    let r = obj.per_sample(&y, &x, v.as_tensor()).unwrap();
    for val in r.to_vec1::<f64>().unwrap() {
        assert!((val - SHIP_FCN_HEAVY).abs() < 1e-6, "{val}");
    }
    assert_eq!(ship_fcn(0.0, w_kg), SHIP_FCN_HEAVY);
    // gradient: that of (1 + exp(10 (W - W*)/W*)) (1 + N mean w) in dZ_1,
    // = 10 / W* exp(...) dW/d dZ_1 (1 + N mean w)
    let g = r.mean_all().unwrap().backward().unwrap();
    let g = g
        .get(v.as_tensor())
        .unwrap()
        .sum(0)
        .unwrap()
        .to_vec1::<f64>()
        .unwrap();
    let mean_w: f64 = hand_hits().iter().map(|r| r.2).sum::<f64>() / 8.0;
    let (_, dw) = mass_and_gradient(&psi, GeometryOptions::default()).unwrap();
    let e = (10.0 * (w_kg - SHIP_W_STAR) / SHIP_W_STAR).exp();
    let expected = 10.0 / SHIP_W_STAR * e * dw[0] * (1.0 + 10.0 * mean_w);
    assert!(
        expected > 0.0 && (g[0] - expected).abs() < 1e-8 * expected,
        "{} vs {expected}",
        g[0]
    );
}

#[test]
fn slow_hits_become_the_sentinel() {
    // a high cut (20 GeV/c) changes many rows; every changed row is a hit
    // at or below the cut, every other row is unchanged
    let all = ShieldSimulator::default();
    let cut = ShieldSimulator {
        min_hit_momentum: 20.0,
        ..ShieldSimulator::default()
    };
    let mut rng = rng_from_seed(3);
    let x = all.sample_x(4000, &mut rng);
    let out = all.outcomes(&BASELINE, &x, &mut rng).unwrap();
    let y_all = all.simulate(&BASELINE, &x, &mut rng).unwrap();
    let y_cut = cut.simulate(&BASELINE, &x, &mut rng).unwrap();
    let mut changed = 0;
    for (i, o) in out.iter().enumerate() {
        let slow_hit = o.status == Status::Reached && o.p <= 20.0;
        if slow_hit {
            changed += 1;
            assert_eq!(y_cut.row(i), &[0.0, NOT_REACHED_Y_CM], "row {i}");
        } else {
            assert_eq!(y_cut.row(i), y_all.row(i), "row {i}");
        }
    }
    assert!(changed > 50, "only {changed} hits at or below 20 GeV/c");
    assert_eq!(SHIP_MIN_HIT_MOMENTUM, 1.0);
}

#[test]
fn ship_problem_estimate_equals_the_fcn_of_its_outcomes() {
    // E[R] of the ship_fcn problem over n muons = (1 + exp(...)) (1 + N mean
    // w), w from the tracker's outcomes with the 1 GeV/c cut (f64 path)
    let p = problem_with(
        ShieldObjective::ShipFcn { muons: 50_000 },
        None,
        ShieldSimulator::default(),
    )
    .unwrap();
    let n = 20_000;
    let est = estimate_objective(&p, &BASELINE, n, 7).unwrap();
    let sim = ShieldSimulator::default();
    let mut rng = rng_from_seed(7);
    let x = sim.sample_x(n, &mut rng);
    let out = sim.outcomes(&BASELINE, &x, &mut rng).unwrap();
    let sum_w: f64 = out
        .iter()
        .enumerate()
        .filter(|(_, o)| o.status == Status::Reached)
        .map(|(i, o)| ship_weight(o.hit, x.get(i, 6), o.p))
        .sum();
    let expected = ship_fcn(50_000.0 * sum_w / n as f64, mass(&BASELINE, true));
    assert!(sum_w > 0.0);
    assert!(
        (est.0 - expected).abs() < 1e-9 * expected,
        "estimate {} vs {expected}",
        est.0
    );
    // target: the FCN with half the baseline's SHiP weight per muon
    assert!(p.target < expected && p.target > 1.0, "{}", p.target);
}

#[test]
fn muon_shield_objective_settings() {
    let resolve = |toml: &str| Config::from_toml_str(toml).expect("parse").resolve();
    let ok = resolve(
        "problem = \"muon-shield\"\n[muon_shield]\nobjective = \"ship_fcn\"\nship_muons = 1000\n",
    )
    .expect("resolve");
    // the objective in use is the FCN with N = 1000: check one row
    let (y, x, v) = tensors(&BASELINE);
    let r = ok
        .problem
        .objective
        .per_sample(&y, &x, v.as_tensor())
        .unwrap()
        .to_dtype(DType::F64)
        .unwrap()
        .to_vec1::<f64>()
        .unwrap();
    let expected = ship_fcn(1000.0 * hand_hits()[0].2, mass(&BASELINE, true));
    assert!((r[0] - expected).abs() < 1e-9 * expected);
    // step_geo reaches both the simulator and the FCN's mass
    let stepped = resolve(
        "problem = \"muon-shield\"\n[muon_shield]\nobjective = \"ship_fcn\"\nstep_geo = true\n",
    )
    .expect("resolve");
    let r = stepped
        .problem
        .objective
        .per_sample(&y, &x, v.as_tensor())
        .unwrap()
        .to_vec1::<f64>()
        .unwrap();
    let w_step = mass_with(&BASELINE, geometry(true, true));
    let expected = ship_fcn(50_000.0 * hand_hits()[0].2, w_step);
    assert!((r[0] - expected).abs() < 1e-9 * expected);
    let reference = ShieldSimulator {
        geometry: geometry(true, true),
        min_hit_momentum: SHIP_MIN_HIT_MOMENTUM,
        ..ShieldSimulator::default()
    };
    let muons = reference.sample_x(3000, &mut rng_from_seed(0));
    let y_ref = reference
        .simulate(&BASELINE, &muons, &mut rng_from_seed(0))
        .unwrap();
    let y_run = stepped
        .problem
        .simulator
        .simulate(&BASELINE, &muons, &mut rng_from_seed(0))
        .unwrap();
    assert_eq!(y_ref.as_slice(), y_run.as_slice());
    let tapered = ShieldSimulator::default()
        .simulate(&BASELINE, &muons, &mut rng_from_seed(0))
        .unwrap();
    assert_ne!(tapered.as_slice(), y_run.as_slice());
    for (toml, key) in [
        (
            "problem = \"muon-shield\"\n[muon_shield]\nobjective = \"fcn\"\n",
            "muon_shield.objective",
        ),
        (
            "problem = \"muon-shield\"\n[muon_shield]\nship_muons = 10\n",
            "muon_shield.ship_muons",
        ),
        (
            "problem = \"muon-shield\"\n[muon_shield]\nobjective = \"ship_fcn\"\nship_muons = 0\n",
            "muon_shield.ship_muons",
        ),
        (
            "problem = \"rosenbrock\"\n[muon_shield]\nobjective = \"ship_fcn\"\n",
            "muon_shield.objective",
        ),
        (
            "problem = \"three-hump\"\n[muon_shield]\nstep_geo = true\n",
            "muon_shield.step_geo",
        ),
    ] {
        match resolve(toml) {
            Err(Error::Config { key: k, .. }) => assert_eq!(k, key, "{toml}"),
            other => panic!("{toml}: expected a config error, got {other:?}"),
        }
    }
}

#[test]
fn rows_at_different_psi_get_their_own_mass() {
    // a batch mixing two shields (e.g. samples of several requests): each
    // row is charged its own shield's mass, and its gradient goes to its
    // own psi row
    let obj = ShipFcnObjective {
        muons: 100.0,
        geometry: GeometryOptions::default(),
    };
    let mut longer = BASELINE.to_vec();
    longer[0] += 20.0;
    let psis = [&BASELINE[..], &longer[..], &longer[..], &BASELINE[..]];
    let rows = hand_hits();
    let y: Vec<f64> = rows.iter().take(4).flat_map(|r| r.0).collect();
    let x: Vec<f64> = rows
        .iter()
        .take(4)
        .flat_map(|r| [0.0, 0.0, 100.0, 0.0, 0.0, 0.0, r.1])
        .collect();
    let p: Vec<f64> = psis.iter().flat_map(|p| p.iter().copied()).collect();
    let y = Tensor::from_vec(y, (4, 2), &Device::Cpu).unwrap();
    let x = Tensor::from_vec(x, (4, 7), &Device::Cpu).unwrap();
    let v = Var::from_vec(p, (4, 42), &Device::Cpu).unwrap();
    let r = obj.per_sample(&y, &x, v.as_tensor()).unwrap();
    let values = r.to_vec1::<f64>().unwrap();
    for i in 0..4 {
        let expected = ship_fcn(100.0 * rows[i].2, mass(psis[i], true));
        assert!((values[i] - expected).abs() < 1e-9 * expected, "row {i}");
    }
    assert!(mass(&longer, true) > mass(&BASELINE, true));
    // d R_i / d dZ_1 of row i = pen'(W_i) dW_i/d dZ_1 (1 + N w_i)
    let g = r.sum_all().unwrap().backward().unwrap();
    let g = g.get(v.as_tensor()).unwrap().to_vec2::<f64>().unwrap();
    for i in 0..4 {
        let (w, dw) = mass_and_gradient(psis[i], GeometryOptions::default()).unwrap();
        let e = (10.0 * (w - SHIP_W_STAR) / SHIP_W_STAR).exp();
        let expected = 10.0 / SHIP_W_STAR * e * dw[0] * (1.0 + 100.0 * rows[i].2);
        assert!((g[i][0] - expected).abs() < 1e-9 * expected, "row {i}");
    }
}
