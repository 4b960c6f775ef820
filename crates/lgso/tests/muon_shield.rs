//! Sanity targets of the muon-shield simulator (muon_shield.md §8) and its
//! bad-input handling (issue #6). Every expected value is worked out
//! independently of the simulator: closed forms (circle geometry, Highland
//! formula), the PUMAS table's own CSDA column, the spec's hand-derived
//! layout and masses, or moments of the input distributions.

use candle_core::{Device, Tensor, Var};
use lgso::data::Matrix;
use lgso::problem::muon_shield::field::{classify, field, Region};
use lgso::problem::muon_shield::geometry::{effective_gap, Section};
use lgso::problem::muon_shield::materials::{
    csda_range, highland_theta0, stopping_power, C_LIGHT, IRON, MUON_MASS,
};
use lgso::problem::muon_shield::source::parse_muon_csv;
use lgso::problem::muon_shield::tracking::{transport_slab, Medium, MuonState};
use lgso::problem::muon_shield::{
    hit_weight, EnergyLoss, GeometryOptions, HitsObjective, MuonRng, Shield, ShieldSimulator,
    SimConfig, Spectrum, Status, BASELINE, NOT_REACHED_Y_CM,
};
use lgso::problem::{by_name, objective_values, Objective, Simulator};
use lgso::seed::rng_from_seed;

fn unbounded() -> ShieldSimulator {
    ShieldSimulator {
        bounds: None,
        ..ShieldSimulator::default()
    }
}

/// L_hits (sum of §7.1 weights) and the number of accepted muons.
fn hits_loss(sim: &ShieldSimulator, psi: &[f64], n: usize) -> (f64, usize) {
    let mut rng = rng_from_seed(0);
    let x = sim.sample_x(n, &mut rng);
    let out = sim.outcomes(psi, &x, &mut rng).expect("simulate");
    let mut sum = 0.0;
    let mut k = 0;
    for (i, o) in out.iter().enumerate() {
        if o.status == Status::Reached {
            let w = hit_weight(o.hit, x.get(i, 6));
            sum += w;
            k += usize::from(w > 0.0);
        }
    }
    (sum, k)
}

fn scaled_dz(f: f64) -> Vec<f64> {
    let mut psi = BASELINE.to_vec();
    for v in &mut psi[..6] {
        *v *= f;
    }
    psi
}

#[test]
fn baseline_layout_matches_the_spec() {
    let s = Shield::from_psi(&BASELINE, GeometryOptions::default()).unwrap();
    assert_eq!(BASELINE[..6].iter().sum::<f64>(), 1491.0);
    // §3.2: Magn1 [562, 968] ... Magn7 [3534, 3554]; h_k = dZ_k - 5, 10 cm gaps
    let expected = [
        ("Magn1", 562.0, 968.0),
        ("Magn2", 978.0, 1382.0),
        ("Magn3", 1392.0, 1944.0),
        ("Magn4", 1954.0, 2440.0),
        ("Magn5", 2450.0, 3050.0),
        ("Magn6", 3060.0, 3534.0),
        ("Magn7", 3534.0, 3554.0),
    ];
    for (m, (name, a, b)) in s.magnets[1..].iter().zip(expected) {
        assert_eq!((m.name, m.z_start, m.z_end), (name, a, b));
    }
    assert_eq!(s.magnets[0].z_start, 90.0);
    assert_eq!(s.z_end, 3554.0);
    assert_eq!(s.z_plane_cm(), 9622.0);
    assert_eq!(s.length_cm(), 3544.0);
    // polarity: absorber and Magn1-3 up, Magn4-7 down
    let pol: Vec<f64> = s.magnets.iter().map(|m| m.polarity).collect();
    assert_eq!(pol, [1.0, 1.0, 1.0, 1.0, -1.0, -1.0, -1.0, -1.0]);
}

#[test]
fn gap_rule() {
    assert_eq!(effective_gap(2.0, 20.0, true), 5.0);
    assert_eq!(effective_gap(10.2, 50.0, true), 11.0);
    assert!((effective_gap(10.2, 50.0, false) - 10.2).abs() < 1e-12);
    let s = Shield::from_psi(&BASELINE, GeometryOptions::default()).unwrap();
    for (k, m) in s.magnets[1..7].iter().enumerate() {
        assert_eq!(m.entrance.gap, BASELINE[6 + 6 * k + 4], "gapIn_{}", k + 1);
        assert_eq!(m.exit.gap, BASELINE[6 + 6 * k + 5], "gapOut_{}", k + 1);
    }
}

#[test]
fn region_classifier_at_magn1_entrance() {
    let s = Section {
        dx: 72.0,
        dy: 29.0,
        gap: 10.0,
    };
    let b = |x: f64, y: f64| field(classify(&s, x, y), x, y, 1.0, 1.7);
    assert_eq!(classify(&s, 50.0, 10.0), Region::Core);
    assert_eq!(b(50.0, 10.0), [0.0, 1.7, 0.0]);
    assert_eq!(classify(&s, 77.0, 0.0), Region::CoilWindow);
    assert_eq!(b(77.0, 0.0), [0.0; 3]);
    assert_eq!(b(100.0, 0.0), [0.0, -1.7, 0.0]);
    assert_eq!(b(-100.0, 0.0), [0.0, -1.7, 0.0]);
    assert_eq!(b(10.0, 95.0), [1.7, 0.0, 0.0]);
    assert_eq!(b(10.0, -95.0), [-1.7, 0.0, 0.0]);
    assert_eq!(classify(&s, 160.0, 0.0), Region::Outside);
    assert_eq!(classify(&s, 0.0, 102.0), Region::Outside);
    // polarity down flips every field
    assert_eq!(field(Region::Core, 0.0, 0.0, -1.0, 1.7), [0.0, -1.7, 0.0]);
}

fn pencil(p: f64, q: f64) -> MuonState {
    MuonState::new([0.0; 3], [0.0, 0.0, 1.0], p, q)
}

fn vacuum_cfg() -> SimConfig {
    SimConfig {
        energy_loss: EnergyLoss::None,
        scattering: false,
        ..SimConfig::default()
    }
}

#[test]
fn bending_of_a_10_gev_muon_over_one_metre() {
    // Circle of radius R = p / (c B): after 1 m along z the muon is at
    // x = -R (1 - sqrt(1 - (L/R)^2)) and points at -asin(L/R).
    let (p, b, l) = (10.0, 1.7, 100.0);
    let r = p / (C_LIGHT * b) * 100.0;
    let x_exp = -(r - (r * r - l * l).sqrt());
    let a_exp = -(l / r).asin();
    assert!((x_exp + 2.550).abs() < 0.001 && (a_exp * 1e3 + 51.0).abs() < 0.05);
    let medium = Medium {
        material: None,
        b: [0.0, b, 0.0],
    };
    for q in [1.0, -1.0] {
        let mut st = pencil(p, q);
        let mut rng = MuonRng::new(1);
        assert!(transport_slab(&mut st, &medium, l, &vacuum_cfg(), &mut rng));
        // exact up to the last partial step: within 0.01 mm and 0.01 mrad
        let angle = st.d[0].atan2(st.d[2]);
        assert!((st.r[0] - q * x_exp).abs() < 1e-3, "x = {}", st.r[0]);
        assert!((angle - q * a_exp).abs() < 1e-5, "angle = {angle}");
        // pT kick: p sin(theta) = c B L = 0.5097 GeV/c
        assert!((p * st.d[0] + q * C_LIGHT * b * 1.0).abs() < 1e-4);
    }
}

#[test]
fn stopping_power_and_range_against_the_table() {
    // §4: S(10 GeV) = 1.974 MeV cm^2/g -> 15.5 MeV/cm at 7.87 g/cm^3.
    assert!((stopping_power(10.0) - 1.974).abs() < 1e-9);
    assert!((stopping_power(10.0) * IRON.density - 15.5).abs() < 0.05);
    // log-log interpolation half way (in ln T) between 10 and 20 GeV:
    // the geometric mean of the two rows.
    let mid = (10.0f64 * 20.0).sqrt();
    assert!((stopping_power(mid) - (1.974f64 * 2.112).sqrt()).abs() < 1e-9);
    // Integrating the interpolated table reproduces its CSDA column.
    for (t, range) in [
        (1.0, 640.1),
        (10.0, 5535.0),
        (100.0, 43120.0),
        (300.0, 100600.0),
    ] {
        let got = csda_range(t);
        assert!(
            (got / range - 1.0).abs() < 0.01,
            "T = {t}: {got} vs {range}"
        );
    }
    // A 10 GeV (kinetic) muon tracked straight through iron with the mean
    // loss stops where the table says: (5535 - 43.77) g/cm^2 / 7.87 (it is
    // killed at T = 0.1 GeV, whose residual range is 43.77 g/cm^2).
    let t = 10.0;
    let p = ((t + MUON_MASS).powi(2) - MUON_MASS * MUON_MASS).sqrt();
    let mut st = pencil(p, 1.0);
    let cfg = SimConfig {
        energy_loss: EnergyLoss::Mean,
        scattering: false,
        step_max_cm: 1.0,
        ..SimConfig::default()
    };
    let medium = Medium {
        material: Some(IRON),
        b: [0.0; 3],
    };
    let alive = transport_slab(&mut st, &medium, 2000.0, &cfg, &mut MuonRng::new(1));
    assert!(!alive);
    let expected = (5535.0 - 43.77) / IRON.density;
    assert!(
        (st.r[2] / expected - 1.0).abs() < 0.01,
        "stopped at {} cm, expected {expected}",
        st.r[2]
    );
}

#[test]
fn highland_width_of_a_pencil_beam_after_one_metre_of_iron() {
    // §8.1: p = 10 GeV/c, 1 m iron (x/X0 = 787 / 13.84 = 56.9): theta0 =
    // 13.6 MeV / (beta p) sqrt(56.9) (1 + 0.038 ln 56.9) = 11.8 mrad; the
    // lateral rms is L theta0 / sqrt(3). With p held fixed the cumulative
    // per-step rule telescopes to the one-slab width.
    let p = 10.0;
    let beta = p / (p * p + MUON_MASS * MUON_MASS).sqrt();
    let t = 100.0 * IRON.density / IRON.x0;
    let theta0 = highland_theta0(p, beta, t);
    let by_hand = 0.0136 / (beta * p) * t.sqrt() * (1.0 + 0.038 * t.ln());
    assert!((theta0 - by_hand).abs() < 1e-15 && (theta0 * 1e3 - 11.8).abs() < 0.05);
    let cfg = SimConfig {
        energy_loss: EnergyLoss::None,
        ..SimConfig::default()
    };
    let medium = Medium {
        material: Some(IRON),
        b: [0.0; 3],
    };
    let n = 20_000;
    let (mut s_a, mut s_x, mut s_ax) = (0.0, 0.0, 0.0);
    for i in 0..n {
        let mut st = pencil(p, 1.0);
        assert!(transport_slab(
            &mut st,
            &medium,
            100.0,
            &cfg,
            &mut MuonRng::new(i)
        ));
        let a = st.d[0] / st.d[2];
        // position at the exit plane z = 100 (the last step may overshoot)
        let x = st.r[0] - (st.r[2] - 100.0) * a;
        s_a += a * a;
        s_x += x * x;
        s_ax += a * x;
    }
    let nf = n as f64;
    let rms_a = (s_a / nf).sqrt();
    let rms_x = (s_x / nf).sqrt();
    let rho = s_ax / nf / (rms_a * rms_x);
    // standard error of an rms from 20 000 Gaussian draws: 0.5 %
    assert!(
        (rms_a / theta0 - 1.0).abs() < 0.03,
        "angle rms {rms_a} vs {theta0}"
    );
    // Lateral: the spec's L theta0 / sqrt(3) = 0.68 cm assumes the angular
    // variance grows uniformly along the slab. The cumulative rule puts
    // theta_c^2 F'(t) dt of variance at depth t (F' grows slowly with t), so
    // the lateral variance is theta_c^2 ∫ (L - s)^2 F'(t(s)) dt (midpoint
    // rule below), 2.7% below the uniform value.
    let uniform = 100.0 * theta0 / 3f64.sqrt();
    assert!((uniform - 0.68).abs() < 0.01);
    let fprime = |t: f64| {
        let l = 1.0 + 0.038 * t.ln();
        l * l + 0.076 * l
    };
    let theta_c = 0.0136 / (beta * p);
    let panels = 100_000;
    let var_x: f64 = (0..panels)
        .map(|i| {
            let u = (i as f64 + 0.5) / panels as f64;
            (100.0 * (1.0 - u)).powi(2) * fprime(u * t) * t / panels as f64
        })
        .sum::<f64>()
        * theta_c
        * theta_c;
    let lateral = var_x.sqrt();
    assert!((lateral / uniform - 0.973).abs() < 0.002);
    assert!(
        (rms_x / lateral - 1.0).abs() < 0.03,
        "lateral rms {rms_x} vs {lateral}"
    );
    // the angle-position correlation, from the same integrals:
    // cov = theta_c^2 ∫ (L - s) F'(t) dt; for uniform growth sqrt(3)/2
    let cov: f64 = (0..panels)
        .map(|i| {
            let u = (i as f64 + 0.5) / panels as f64;
            100.0 * (1.0 - u) * fprime(u * t) * t / panels as f64
        })
        .sum::<f64>()
        * theta_c
        * theta_c;
    let rho_exp = cov / (theta0 * lateral);
    assert!((rho_exp - 3f64.sqrt() / 2.0).abs() < 0.03);
    assert!((rho - rho_exp).abs() < 0.02, "rho {rho} vs {rho_exp}");
    // bend / scatter ratio in magnetised iron (§8.1): 51.0 / 11.8 = 4.3
    let bend = (100.0 / (p / (C_LIGHT * 1.7) * 100.0)).asin();
    assert!((bend / theta0 - 4.3).abs() < 0.05);
}

#[test]
fn mass_of_the_baseline() {
    let s = Shield::from_psi(&BASELINE, GeometryOptions::default()).unwrap();
    let kg = |i: usize| s.magnets[i].volume() * 7.87 / 1000.0;
    // §7.3: MagnAbsorb2 = 7.87 * 452 * 4*50*(100+260+2) g = 257 544 kg
    assert!((kg(0) - 257_544.0).abs() < 1.0);
    assert!((kg(1) - 162_560.0).abs() < 1.0, "Magn1 {}", kg(1));
    assert!((kg(7) - 32_093.0).abs() < 1.0, "Magn7 {}", kg(7));
    assert!((s.mass_kg() - 1_276_197.0).abs() < 2.0, "{}", s.mass_kg());
}

#[test]
fn hits_loss_on_hand_made_hits() {
    // (X cm, Y cm, pdg) -> §7.1 weight
    let cases = [
        (-300.0, 0.0, 13.0, (1.0f64 + 1e-5).sqrt()),
        (290.0, 0.0, 13.0, 1e-5f64.sqrt()),
        (300.0, 0.0, -13.0, (1.0f64 + 1e-5).sqrt()),
        (-300.0, 0.0, -13.0, 0.0),
        (0.0, 500.0, 13.0, 0.0),
        (0.0, -500.0, -13.0, 0.0),
        (0.0, NOT_REACHED_Y_CM, 13.0, 0.0),
        // centre: sqrt(1e-5 + 2.9 / 5.9)
        (0.0, 0.0, 13.0, (1e-5f64 + 2.9 / 5.9).sqrt()),
    ];
    let dev = Device::Cpu;
    let y: Vec<f64> = cases.iter().flat_map(|c| [c.0, c.1]).collect();
    let mut x = vec![0.0; cases.len() * 7];
    for (i, c) in cases.iter().enumerate() {
        x[7 * i + 2] = 100.0;
        x[7 * i + 6] = c.2;
    }
    let yv = Var::from_tensor(&Tensor::from_vec(y, (cases.len(), 2), &dev).unwrap()).unwrap();
    let xt = Tensor::from_vec(x, (cases.len(), 7), &dev).unwrap();
    let psi = Tensor::zeros((cases.len(), 42), candle_core::DType::F64, &dev).unwrap();
    let r = HitsObjective::default()
        .per_sample(yv.as_tensor(), &xt, &psi)
        .unwrap();
    let got = r.to_vec1::<f64>().unwrap();
    for (c, g) in cases.iter().zip(&got) {
        assert!((g - c.3).abs() < 1e-12, "{c:?}: {g}");
        assert!((hit_weight([c.0, c.1], c.2) - c.3).abs() < 1e-12);
    }
    // gradient in y: finite everywhere (edges included), 0 outside, and
    // d w / d X = -sign / (2 * 5.9 * 100 w) inside (per cm)
    let grads = r.sum_all().unwrap().backward().unwrap();
    let g = grads.get(&yv).unwrap().to_vec2::<f64>().unwrap();
    assert!(g.iter().flatten().all(|v| v.is_finite()));
    assert_eq!(g[3], [0.0, 0.0]);
    let w = c_weight(0.0);
    assert!((g[7][0] - (-1.0 / (2.0 * 5.9 * 100.0 * w))).abs() < 1e-12);
    // f32 works too
    let r32 = HitsObjective::default()
        .per_sample(
            &yv.as_tensor().to_dtype(candle_core::DType::F32).unwrap(),
            &xt.to_dtype(candle_core::DType::F32).unwrap(),
            &psi.to_dtype(candle_core::DType::F32).unwrap(),
        )
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
    assert!((r32[0] as f64 - cases[0].3).abs() < 1e-5);
}

fn c_weight(xf_m: f64) -> f64 {
    (1e-5 + (2.9 - xf_m) / 5.9).sqrt()
}

#[test]
fn charge_sweep_direction_and_mirror_symmetry() {
    // With scattering and discrete losses off, swapping every muon's
    // charge and mirroring px and x0 mirrors every hit in x exactly.
    let mut sim = unbounded();
    sim.sim.scattering = false;
    sim.sim.energy_loss = EnergyLoss::Mean;
    sim.sim.step_max_cm = 20.0;
    let mut rng = rng_from_seed(0);
    let x = sim.sample_x(3000, &mut rng);
    let mut xm = x.clone();
    for i in 0..xm.rows() {
        let r = xm.row_mut(i);
        r[0] = -r[0];
        r[3] = -r[3];
        r[6] = -r[6];
    }
    let a = sim.outcomes(&BASELINE, &x, &mut rng).unwrap();
    let b = sim.outcomes(&BASELINE, &xm, &mut rng).unwrap();
    let mut reached = 0;
    for (oa, ob) in a.iter().zip(&b) {
        assert_eq!(oa.status, ob.status);
        if oa.status == Status::Reached {
            reached += 1;
            assert!((oa.hit[0] + ob.hit[0]).abs() < 1e-6 * (1.0 + oa.hit[0].abs()));
            assert!((oa.hit[1] - ob.hit[1]).abs() < 1e-6 * (1.0 + oa.hit[1].abs()));
        }
    }
    assert!(reached > 100);
    // Sweep direction (§8.2): the core of Magn1-3 (By up) bends mu+
    // (q = +1) toward -x; on average mu+ land at x < 0 and mu- at x > 0.
    let sim = ShieldSimulator::default();
    let x = sim.sample_x(5000, &mut rng);
    let out = sim.outcomes(&BASELINE, &x, &mut rng).unwrap();
    let (mut plus, mut minus) = ((0.0, 0), (0.0, 0));
    for (i, o) in out.iter().enumerate() {
        if o.status == Status::Reached {
            if x.get(i, 6) < 0.0 {
                plus = (plus.0 + o.hit[0], plus.1 + 1);
            } else {
                minus = (minus.0 + o.hit[0], minus.1 + 1);
            }
        }
    }
    assert!(plus.1 > 100 && minus.1 > 100);
    assert!(plus.0 / (plus.1 as f64) < 0.0 && minus.0 / (minus.1 as f64) > 0.0);
    // a single mu+ along the axis through the Magn1 core alone turns to -x
    let medium = Medium {
        material: None,
        b: [0.0, 1.7, 0.0],
    };
    let mut st = pencil(100.0, 1.0);
    transport_slab(&mut st, &medium, 400.0, &vacuum_cfg(), &mut MuonRng::new(0));
    assert!(st.d[0] < 0.0 && st.r[0] < 0.0);
}

#[test]
fn field_off_lets_most_muons_through() {
    let n = 10_000;
    let sim = unbounded();
    let (base, _) = hits_loss(&sim, &BASELINE, n);
    let mut off = unbounded();
    off.sim.field_scale = 0.0;
    let (loss_off, accepted) = hits_loss(&off, &BASELINE, n);
    // most muons land in the window without a field
    assert!(accepted as f64 > 0.5 * n as f64, "{accepted}");
    assert!(
        loss_off > 100.0 * base.max(1.0 / n as f64),
        "{loss_off} vs {base}"
    );
}

#[test]
fn longer_magnets_and_stronger_fields_lower_the_loss() {
    let n = 20_000;
    let mut sim = unbounded();
    sim.sim.step_max_cm = 20.0;
    let (base, _) = hits_loss(&sim, &BASELINE, n);
    let (short, _) = hits_loss(&sim, &scaled_dz(0.9), n);
    let (long, _) = hits_loss(&sim, &scaled_dz(1.1), n);
    let mut weak = sim.clone();
    weak.sim.field_scale = 0.9;
    let (weak_loss, _) = hits_loss(&weak, &BASELINE, n);
    assert!(short > 1.5 * base, "dZ x0.9: {short} vs {base}");
    assert!(long < base, "dZ x1.1: {long} vs {base}");
    assert!(weak_loss > 1.5 * base, "B x0.9: {weak_loss} vs {base}");
}

#[test]
fn step_size_does_not_change_the_loss_beyond_statistics() {
    // §8.2: 5, 10 and 20 cm steps.
    // dZ x 0.9 lets a few hundred muons into the window: enough for a
    // meaningful comparison. Poisson errors of the two (correlated, CRN)
    // estimates are added as if independent: sigma_L^2 ~ L * max w.
    let n = 20_000;
    let psi = scaled_dz(0.9);
    let mut losses = Vec::new();
    let steps = [5.0, 10.0, 20.0];
    for step in steps {
        let mut sim = unbounded();
        sim.sim.step_max_cm = step;
        losses.push(hits_loss(&sim, &psi, n));
    }
    for a in 0..3 {
        for b in a + 1..3 {
            let ((l1, k1), (l2, k2)) = (losses[a], losses[b]);
            assert!(k1 > 100 && k2 > 100, "{k1} {k2}");
            let sigma = (l1 + l2).sqrt();
            assert!(
                (l1 - l2).abs() < 2.0 * sigma,
                "{} cm: {l1}, {} cm: {l2}, sigma {sigma}",
                steps[a],
                steps[b]
            );
        }
    }
}

#[test]
fn common_random_numbers_and_thread_count() {
    let sim = ShieldSimulator::default();
    // sample_x ignores the request RNG under CRN: every request, same muons
    let a = sim.sample_x(500, &mut rng_from_seed(1));
    let b = sim.sample_x(500, &mut rng_from_seed(2));
    assert_eq!(a, b);
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    let three = rayon::ThreadPoolBuilder::new()
        .num_threads(3)
        .build()
        .unwrap();
    let y1 = one.install(|| sim.simulate(&BASELINE, &a, &mut rng_from_seed(5)).unwrap());
    let y3 = three.install(|| sim.simulate(&BASELINE, &a, &mut rng_from_seed(9)).unwrap());
    assert_eq!(y1, y3);
    // a muon's result does not depend on which other muons share the call
    let sub = a.select_rows(&[7, 3]);
    let ys = sim
        .simulate(&BASELINE, &sub, &mut rng_from_seed(0))
        .unwrap();
    assert_eq!(ys.row(0), y1.row(7));
    assert_eq!(ys.row(1), y1.row(3));
    // without CRN, calls differ and depend on the request seed only
    let fresh = ShieldSimulator {
        crn_seed: None,
        ..ShieldSimulator::default()
    };
    let f1 = one.install(|| {
        fresh
            .simulate(&BASELINE, &a, &mut rng_from_seed(5))
            .unwrap()
    });
    let f3 = three.install(|| {
        fresh
            .simulate(&BASELINE, &a, &mut rng_from_seed(5))
            .unwrap()
    });
    assert_eq!(f1, f3);
    let reached = (0..a.rows())
        .filter(|&i| y1.get(i, 1) != NOT_REACHED_Y_CM)
        .count();
    assert!(reached > 100);
    let g = fresh
        .simulate(&BASELINE, &a, &mut rng_from_seed(6))
        .unwrap();
    assert_ne!(f1, g);
}

#[test]
fn input_spectra_moments() {
    let n = 40_000;
    let mut rng = MuonRng::new(3);
    let (mut p_e, mut plus_e, mut p_p, mut plus_p) = (0.0, 0.0, 0.0, 0.0);
    for i in 0..n {
        let e = Spectrum::Enhanced.sample(i, true, &mut rng);
        let f = Spectrum::Physical.sample(i, true, &mut rng);
        p_e += (e[0] * e[0] + e[1] * e[1] + e[2] * e[2]).sqrt();
        p_p += (f[0] * f[0] + f[1] * f[1] + f[2] * f[2]).sqrt();
        plus_e += f64::from(e[6] < 0.0);
        plus_p += f64::from(f[6] < 0.0);
        assert!(e[5] >= -144.5 && e[5] <= -4.5 && e[2] > 0.0);
    }
    let nf = n as f64;
    // enhanced: p ~ U[10, 350] -> mean 180 (sd 98 / sqrt(n) = 0.5)
    assert!((p_e / nf - 180.0).abs() < 2.0, "{}", p_e / nf);
    // physical: 10 + (0.8 * 15 + 0.2 * 42) = 30.4 GeV (the cut at 400 GeV
    // removes < 1e-3 of the mean)
    assert!((p_p / nf - 30.4).abs() < 0.6, "{}", p_p / nf);
    assert!((plus_e / nf - 0.5).abs() < 0.01);
    assert!((plus_p / nf - 0.498).abs() < 0.01);
}

#[test]
fn problem_registration() {
    let p = by_name("muon-shield").unwrap();
    let d = p.dims();
    assert_eq!((d.psi, d.x, d.y), (42, 7, 2));
    assert_eq!(p.start, BASELINE.to_vec());
    let names = p.psi_names.as_ref().unwrap();
    assert_eq!(names[0], "dZ_1");
    assert_eq!(names[6 + 2 * 6], "dXIn_3");
    assert_eq!(names[41], "gapOut_6");
    let b = p.bounds.as_ref().unwrap();
    assert!(BASELINE
        .iter()
        .zip(b)
        .all(|(v, (lo, hi))| lo <= v && v <= hi));
    assert_eq!(p.psi_name(13), "dXOut_2");
}

#[test]
fn bad_parameters_name_the_parameter_and_its_bound() {
    let sim = ShieldSimulator::default();
    let x = sim.sample_x(10, &mut rng_from_seed(0));
    let err = |i: usize, v: f64| {
        let mut psi = BASELINE.to_vec();
        psi[i] = v;
        sim.simulate(&psi, &x, &mut rng_from_seed(0))
            .unwrap_err()
            .to_string()
    };
    let e = err(6 + 12, 200.0);
    assert!(e.contains("dXIn_3") && e.contains("[3, 100]"), "{e}");
    let e = err(1, -5.0);
    assert!(e.contains("dZ_2") && e.contains("> 5"), "{e}");
    let e = err(41, 0.0);
    assert!(e.contains("gapOut_6") && e.contains("not physical"), "{e}");
    let e = err(3, f64::NAN);
    assert!(e.contains("dZ_4") && e.contains("finite"), "{e}");
    let e = sim
        .simulate(&BASELINE[..41], &x, &mut rng_from_seed(0))
        .unwrap_err()
        .to_string();
    assert!(e.contains("42"), "{e}");
    // without the box check, only physical validity counts
    let mut psi = BASELINE.to_vec();
    psi[6 + 12] = 200.0;
    assert!(unbounded()
        .simulate(&psi, &x, &mut rng_from_seed(0))
        .is_ok());
    // a start the simulator would refuse is a config error before any run,
    // even when the config's own bounds were widened to admit it
    let mut start = BASELINE.to_vec();
    start[6 + 14] = -3.0; // dYIn_3
    let mut bounds: Vec<String> = lgso::problem::muon_shield::bounds()
        .iter()
        .map(|(lo, hi)| format!("[{lo}, {hi}]"))
        .collect();
    bounds[6 + 14] = "[-10, 250]".into();
    let toml = format!(
        "problem = \"muon-shield\"\nstart = {start:?}\nbounds = [{}]\n",
        bounds.join(", ")
    );
    match lgso::config::Config::from_toml_str(&toml)
        .unwrap()
        .resolve()
    {
        Err(lgso::Error::Config { key, found, .. }) => {
            assert_eq!(key, "start");
            assert!(found.contains("dYIn_3"), "{found}");
        }
        other => panic!("expected a config error, got {other:?}"),
    }
}

#[test]
fn bad_muon_files_give_the_line_number() {
    let ok =
        "px,py,pz,x0,y0,z0,pdg\n0.1,0,50,0,0,-100,13\n\n# comment\n-0.2,0.1,80,1,2,-90,-13,1.5\n";
    let rows = parse_muon_csv("m.csv", ok).unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[1], [-0.2, 0.1, 80.0, 1.0, 2.0, -90.0, -13.0]);
    let cases = [
        (
            "0,0,50,0,0,-100,13\n0,0,50,0,0,-100\n",
            2,
            "found 6 columns",
        ),
        (
            "0,0,50,0,0,-100,13\n0,0,50,0,0,-100,11\n",
            2,
            "unknown PDG code 11",
        ),
        (
            "px,py,pz,x0,y0,z0,pdg\n0,0,50,0,0,-100,13\n0,nan,50,0,0,-100,13\n",
            3,
            "py",
        ),
        ("0,0,inf,0,0,-100,13\n", 1, "pz"),
        ("0,0,50,abc,0,-100,13\n", 1, "x0"),
        ("0,0,-5,0,0,-100,13\n", 1, "pz > 0"),
        ("a,b,c,d,e,f,g\n", 1, "header"),
    ];
    for (text, line, what) in cases {
        let e = parse_muon_csv("m.csv", text).unwrap_err().to_string();
        assert!(
            e.contains(&format!("line {line}")) && e.contains(what),
            "{text:?}: {e}"
        );
    }
    let e = parse_muon_csv("m.csv", "\n# nothing\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("no muons found") && !e.contains("line 0"), "{e}");
}

#[test]
fn zero_muons_reaching_the_plane_is_a_valid_zero_objective() {
    // 1 GeV/c muons range out in the absorber: every y is the sentinel.
    let sim = ShieldSimulator::default();
    let n = 50;
    let mut x = Matrix::zeros(n, 7);
    for i in 0..n {
        x.row_mut(i).copy_from_slice(&[
            0.0,
            0.0,
            1.0,
            0.0,
            0.0,
            -100.0,
            if i.is_multiple_of(2) { 13.0 } else { -13.0 },
        ]);
    }
    let y = sim.simulate(&BASELINE, &x, &mut rng_from_seed(0)).unwrap();
    assert!(y.as_slice().chunks(2).all(|r| r == [0.0, NOT_REACHED_Y_CM]));
    let samples = lgso::data::Samples {
        psi: Matrix::repeat_row(&BASELINE, n),
        x,
        y,
    };
    let r = objective_values(&HitsObjective::default(), &samples).unwrap();
    assert!(r.iter().all(|&v| v == 0.0));
    let (mean, se) = lgso::problem::mean_and_stderr(&r);
    assert_eq!((mean, se), (0.0, 0.0));
}

#[test]
fn flat_and_steep_directions_under_common_random_numbers() {
    // §8.2: with CRN, +-10% on dYIn_1 or gapIn_1 leaves L_hits nearly
    // unchanged, -10% on a magnet length raises it (by > 1.2 in the spec's
    // prototype). Measured here (60 000 muons, 20 cm): dZ_1..dZ_5 x2.5,
    // x2.6, x3.6, x1.9, x1.4; dZ_6 only x1.07 (the spec's prototype: x1.23),
    // so dZ_6 is only required to raise it.
    let n = 60_000;
    let mut sim = unbounded();
    sim.sim.step_max_cm = 20.0;
    let (base, _) = hits_loss(&sim, &BASELINE, n);
    let with = |i: usize, f: f64| {
        let mut psi = BASELINE.to_vec();
        psi[i] *= f;
        hits_loss(&sim, &psi, n).0
    };
    for (i, name) in [(8, "dYIn_1"), (10, "gapIn_1")] {
        for f in [0.9, 1.1] {
            let l = with(i, f);
            assert!((l / base - 1.0).abs() < 0.1, "{name} x{f}: {l} vs {base}");
        }
    }
    for k in 0..6 {
        let l = with(k, 0.9);
        let factor = if k < 5 { 1.2 } else { 1.0 };
        assert!(l > factor * base, "dZ_{} x0.9: {l} vs {base}", k + 1);
    }
}

#[test]
fn hits_pool_setting_of_the_config() {
    use lgso::config::Config;
    use lgso::Error;
    // `[muon_shield] hits_pool = K`: the input muons are those of the
    // first K that hit the window at the start psi, so under CRN every one
    // of them lands in |X| <= 3.3 m, |Y| <= 5.3 m there again
    let cfg = Config::from_toml_str(
        "problem = \"muon-shield\"\n[muon_shield]\nhits_pool = 20000\n[stop]\nmax_iterations = 1\n",
    )
    .expect("config");
    let resolved = cfg.resolve().expect("resolve");
    let sim = &resolved.problem.simulator;
    // the pool's size, counted here from the tracker's outcomes of the
    // first 20 000 muons at the baseline
    let full = ShieldSimulator::default();
    let mut rng = rng_from_seed(0);
    let candidates = full.sample_x(20_000, &mut rng);
    let in_window = full
        .outcomes(&BASELINE, &candidates, &mut rng)
        .unwrap()
        .iter()
        .filter(|o| {
            o.status == Status::Reached && o.hit[0].abs() <= 330.0 && o.hit[1].abs() <= 530.0
        })
        .count();
    let described = sim.describe_inputs().expect("a description");
    assert!(
        described.starts_with(&format!(
            "hits pool of {in_window} muons: those of the first 20000"
        )),
        "{described}"
    );
    let mut rng = rng_from_seed(0);
    let x = sim.sample_x(200, &mut rng);
    let y = sim.simulate(&BASELINE, &x, &mut rng).expect("simulate");
    for i in 0..y.rows() {
        assert!(
            y.get(i, 0).abs() <= 330.0 && y.get(i, 1).abs() <= 530.0,
            "pool muon {i} hit ({}, {}) at the baseline",
            y.get(i, 0),
            y.get(i, 1)
        );
    }
    // the input muons of `lgso run muon-shield`: a built-in spectrum or a
    // file, whose relative path the resolved configuration makes absolute
    let physical = Config::from_toml_str(
        "problem = \"muon-shield\"\n[muon_shield]\nspectrum = \"physical\"\n",
    )
    .unwrap()
    .resolve()
    .unwrap();
    assert_eq!(
        physical.problem.simulator.describe_inputs().as_deref(),
        Some("physical spectrum")
    );
    let dir = std::env::temp_dir().join(format!("lgso-spectrum-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("m.csv"),
        "0.1,0,50,0,0,-100,13\n-0.2,0.1,80,1,2,-90,-13\n",
    )
    .unwrap();
    let file = Config::from_toml_str(&format!(
        "problem = \"muon-shield\"\n[muon_shield]\nspectrum = {:?}\n",
        dir.join("m.csv").display().to_string()
    ))
    .unwrap()
    .resolve()
    .unwrap();
    let mut rng = rng_from_seed(0);
    let x = file.problem.simulator.sample_x(3, &mut rng);
    assert_eq!(x.get(1, 6), -13.0);
    assert_eq!(x.get(2, 6), 13.0, "rows cycle");
    let _ = std::fs::remove_dir_all(&dir);
    match Config::from_toml_str(
        "problem = \"muon-shield\"\n[muon_shield]\nspectrum = \"no-such-file.csv\"\n",
    )
    .unwrap()
    .resolve()
    {
        Err(Error::Config { key, .. }) => assert_eq!(key, "muon_shield.spectrum"),
        other => panic!("expected a config error, got {other:?}"),
    }
    // bad settings name the key
    for (toml, what) in [
        (
            "problem = \"three-hump\"\n[muon_shield]\nhits_pool = 1000\n",
            "another problem",
        ),
        (
            "problem = \"muon-shield\"\n[muon_shield]\nhits_pool = 0\n",
            "zero",
        ),
        (
            "problem = \"muon-shield\"\n[muon_shield]\nhits_pool = 3\n",
            "an empty pool",
        ),
    ] {
        match Config::from_toml_str(toml).expect("parse").resolve() {
            Err(Error::Config { key, .. }) => assert_eq!(key, "muon_shield.hits_pool", "{what}"),
            other => panic!("{what}: expected a config error, got {other:?}"),
        }
    }
}

/// The bytes of a NumPy `.npy` file (format 1.0): magic, header length,
/// the header dict padded with spaces and a newline to a multiple of 64
/// bytes, then the raw data (NumPy's own layout, written out here by hand).
fn npy_bytes(descr: &str, fortran: bool, shape: (usize, usize), data: &[u8]) -> Vec<u8> {
    let dict = format!(
        "{{'descr': '{descr}', 'fortran_order': {}, 'shape': ({}, {}), }}",
        if fortran { "True" } else { "False" },
        shape.0,
        shape.1
    );
    let unpadded = 10 + dict.len() + 1;
    let pad = (64 - unpadded % 64) % 64;
    let header = format!("{dict}{}\n", " ".repeat(pad));
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(data);
    out
}

#[test]
fn npy_muon_files() {
    use lgso::problem::muon_shield::read_muon_npy;
    let dir = std::env::temp_dir().join(format!("lgso-npy-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let rows = [
        [0.1, 0.0, 50.0, 0.0, 0.0, -100.0, 13.0],
        [-0.2, 0.1, 80.0, 1.0, 2.0, -90.0, -13.0],
        [1.5, -0.5, 120.0, -3.0, 4.0, -80.0, 13.0],
    ];
    let write = |name: &str, bytes: Vec<u8>| {
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    };
    let le64 = |vals: &mut dyn Iterator<Item = f64>| -> Vec<u8> {
        vals.flat_map(|v| v.to_le_bytes()).collect()
    };
    // float64, C order, 7 columns
    let c = le64(&mut rows.iter().flatten().copied());
    let p = write("c.npy", npy_bytes("<f8", false, (3, 7), &c));
    assert_eq!(read_muon_npy(&p).unwrap(), rows.to_vec());
    // the same through Spectrum::parse (any file name ending in .npy)
    match Spectrum::parse(p.to_str().unwrap()).unwrap() {
        Spectrum::File(r) => assert_eq!(r, rows.to_vec()),
        other => panic!("{other:?}"),
    }
    // float64, Fortran order (column after column)
    let f = le64(&mut (0..7).flat_map(|j| rows.iter().map(move |r| r[j])));
    let p = write("f.npy", npy_bytes("<f8", true, (3, 7), &f));
    assert_eq!(read_muon_npy(&p).unwrap(), rows.to_vec());
    // big-endian float64
    let be: Vec<u8> = rows
        .iter()
        .flatten()
        .flat_map(|v| v.to_be_bytes())
        .collect();
    let p = write("be.npy", npy_bytes(">f8", false, (3, 7), &be));
    assert_eq!(read_muon_npy(&p).unwrap(), rows.to_vec());
    // float32 with an 8th weight column (ignored); these values are exact in f32
    let w: Vec<u8> = rows
        .iter()
        .flat_map(|r| r.iter().copied().chain([0.25]))
        .flat_map(|v| (v as f32).to_le_bytes())
        .collect();
    let p = write("w.npy", npy_bytes("<f4", false, (3, 8), &w));
    let got = read_muon_npy(&p).unwrap();
    for (g, r) in got.iter().zip(&rows) {
        for (a, b) in g.iter().zip(r) {
            assert_eq!(*a, f64::from(*b as f32));
        }
    }
    // bad files: one error naming the file, the row (1-based) and the culprit
    let mut bad_rows = rows;
    bad_rows[1][1] = f64::NAN;
    let mut bad_pdg = rows;
    bad_pdg[2][6] = 11.0;
    let ints: Vec<u8> = (0..21i64).flat_map(|v| v.to_le_bytes()).collect();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "nan.npy",
            npy_bytes(
                "<f8",
                false,
                (3, 7),
                &le64(&mut bad_rows.iter().flatten().copied()),
            ),
            "row 2 (numpy index 1): column `py`",
        ),
        (
            "pdg.npy",
            npy_bytes(
                "<f8",
                false,
                (3, 7),
                &le64(&mut bad_pdg.iter().flatten().copied()),
            ),
            "row 3 (numpy index 2): unknown PDG code 11",
        ),
        (
            "shape.npy",
            npy_bytes("<f8", false, (7, 3), &c),
            "found shape [7, 3]",
        ),
        (
            "int.npy",
            npy_bytes("<i8", false, (3, 7), &ints),
            "dtype '<i8'",
        ),
        ("text.npy", b"px,py,pz\n".to_vec(), "not a NumPy .npy file"),
    ];
    for (name, bytes, needle) in cases {
        let p = write(name, bytes);
        let e = read_muon_npy(&p).unwrap_err().to_string();
        assert!(e.contains(name) && e.contains(needle), "{name}: {e}");
        assert!(needle.starts_with("row") || !e.contains("row 0"), "{e}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
