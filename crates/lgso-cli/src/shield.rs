//! `lgso shield`: the SHiP muon-shield simulator on its own
//! (muon_shield.md): `simulate` one configuration, `draw` the layout with a
//! few tracked muons, `bench` the tracking speed.
//! Their arguments are in `args.rs` with every other command's.

use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Context};
use lgso::problem::muon_shield::{
    hit_weight, objective::SHIP_DEFAULT_MUONS, ship_fcn, ship_weight, EnergyLoss, MuonRng, Shield,
    ShieldSimulator, Spectrum, Status, Tracker, BASELINE, N_PSI,
};
use lgso::seed::rng_from_seed;
use plotters::prelude::*;

use crate::args::{
    ShieldArgs, ShieldBenchArgs, ShieldCommand, ShieldCommon, ShieldDrawArgs, ShieldSimulateArgs,
};
use crate::chart::register_font;

/// `println!` that returns an I/O error (e.g. a closed pipe) instead of
/// panicking.
macro_rules! say {
    ($($t:tt)*) => {
        crate::text::out(&format!("{}\n", format_args!($($t)*)))?
    };
}

/// Runs `lgso shield ...`.
///
/// # Errors
/// Bad psi, muon file or option values; drawing or writing errors.
pub fn shield(args: &ShieldArgs) -> anyhow::Result<ExitCode> {
    match &args.command {
        ShieldCommand::Simulate(a) => simulate(a),
        ShieldCommand::Draw(a) => draw(a),
        ShieldCommand::Bench(a) => bench(a),
    }
}

/// Reads psi: `baseline` or a file of 42 numbers.
fn read_psi(spec: &str) -> anyhow::Result<Vec<f64>> {
    if spec == "baseline" {
        return Ok(BASELINE.to_vec());
    }
    let text = std::fs::read_to_string(spec).with_context(|| format!("psi file {spec}"))?;
    // a run's psi.csv (`iteration,calls,dZ_1,...`): its last row's psi
    if text.starts_with("iteration,calls,dZ_1,") {
        let Some((n, last)) = text
            .lines()
            .enumerate()
            .skip(1)
            .filter(|(_, l)| !l.trim().is_empty())
            .last()
        else {
            bail!("psi file {spec}: a run's psi.csv without rows; expected at least one iteration");
        };
        let fields: Vec<&str> = last.split(',').map(str::trim).collect();
        let psi = fields
            .iter()
            .skip(2)
            .map(|t| t.parse::<f64>())
            .collect::<Result<Vec<f64>, _>>()
            .map_err(|_| {
                anyhow::anyhow!(
                    "psi file {spec}, line {}: not a row of numbers (iteration, calls, 42 psi \
                     values)",
                    n + 1
                )
            })?;
        if psi.len() != N_PSI {
            bail!(
                "psi file {spec}, line {}: found {} numbers after iteration and calls, \
                 expected {N_PSI} psi values",
                n + 1,
                psi.len()
            );
        }
        return Ok(psi);
    }
    let mut psi = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("");
        for tok in line
            .split(|c: char| c.is_whitespace() || c == ',' || c == '|')
            .filter(|t| !t.is_empty())
        {
            let v: f64 = tok.parse().map_err(|_| {
                anyhow::anyhow!(
                    "psi file {spec}, line {}: `{tok}` is not a number; expected 42 numbers (cm)",
                    i + 1
                )
            })?;
            psi.push(v);
        }
    }
    if psi.len() != N_PSI {
        bail!(
            "psi file {spec}: found {} numbers, expected {N_PSI} (dZ_1..dZ_6, then dXIn, dXOut, \
             dYIn, dYOut, gapIn, gapOut of each magnet, cm)",
            psi.len()
        );
    }
    Ok(psi)
}

/// The shield at `psi` read from `source` (`--psi`); a psi outside the
/// bounds or not physical is named by its parameter and `source`, without
/// repeating all 42 values.
fn build_shield(sim: &ShieldSimulator, psi: &[f64], source: &str) -> anyhow::Result<Shield> {
    sim.shield(psi).map_err(|e| match e {
        lgso::Error::Simulator { reason, .. } => anyhow::anyhow!("psi from {source}: {reason}"),
        other => other.into(),
    })
}

/// Builds the simulator from the shared options.
fn simulator(c: &ShieldCommon) -> anyhow::Result<ShieldSimulator> {
    if !(c.step.is_finite() && c.step > 0.0 && c.step <= 1000.0) {
        bail!(
            "invalid value `{}` for `--step`: expected a step length in cm, > 0 and <= 1000",
            c.step
        );
    }
    if !(c.field_scale.is_finite() && c.field_scale >= 0.0) {
        bail!(
            "invalid value `{}` for `--field-scale`: expected a finite number >= 0",
            c.field_scale
        );
    }
    let mut sim = ShieldSimulator {
        spectrum: Spectrum::parse(&c.spectrum)?,
        crn_seed: Some(c.seed),
        ..ShieldSimulator::default()
    };
    sim.sim.step_max_cm = c.step;
    sim.sim.field_scale = c.field_scale;
    if c.mean_loss {
        sim.sim.energy_loss = EnergyLoss::Mean;
    }
    if c.no_bounds {
        sim.bounds = None;
    }
    sim.geometry.step_geo = c.step_geo;
    Ok(sim)
}

fn simulate(a: &ShieldSimulateArgs) -> anyhow::Result<ExitCode> {
    let psi = read_psi(&a.common.psi)?;
    let sim = simulator(&a.common)?;
    let shield = build_shield(&sim, &psi, &a.common.psi)?;
    if a.muons == 0 {
        bail!("invalid value `0` for `--muons`: expected at least one muon");
    }
    let mut rng = rng_from_seed(a.common.seed);
    let t0 = Instant::now();
    let (x, outcomes) = lgso::threads::simulation_pool().install(|| {
        let x = sim.muons(a.muons, &mut rng);
        let o = sim.outcomes_for(&shield, &psi, &x, &mut rng);
        (x, o)
    });
    let outcomes = outcomes?;
    let wall = t0.elapsed().as_secs_f64();
    let n = outcomes.len() as f64;
    say!(
        "muon-shield: {} muons ({} spectrum), {} cm steps, seed {}, field x{}",
        outcomes.len(),
        sim.spectrum.label(),
        a.common.step,
        a.common.seed,
        a.common.field_scale
    );
    say!("  psi: {}", a.common.psi);
    for s in Status::ALL {
        let k = outcomes.iter().filter(|o| o.status == s).count();
        say!("  {:<12} {:>9}  {:.4e}", s.name(), k, k as f64 / n);
    }
    let (mut hits, mut loss, mut ship_sum, mut near) = (0usize, 0.0, 0.0, 0usize);
    for (i, o) in outcomes.iter().enumerate() {
        if o.status != Status::Reached {
            continue;
        }
        let pdg = x.get(i, 6);
        near += usize::from(o.hit[0].abs() <= 400.0 && o.hit[1].abs() <= 600.0);
        let w = hit_weight(o.hit, pdg);
        if w > 0.0 || in_window(o.hit, pdg) {
            hits += 1;
        }
        loss += w;
        ship_sum += ship_weight(o.hit, pdg, o.p);
    }
    let mass = shield.mass_kg();
    say!(
        "  hits in the acceptance (L-GSO window): {hits} ({:.4e} per muon)",
        hits as f64 / n
    );
    say!("  hits within |X| <= 4 m, |Y| <= 6 m:     {near}");
    say!("  objective L_hits (sum over muons):     {loss:.6}");
    say!("  objective per muon (E[R]):             {:.6e}", loss / n);
    say!(
        "  SHiP FCN (§7.2, sum over these muons): {:.6}",
        ship_fcn(ship_sum, mass)
    );
    say!(
        "  {:<38} {:.6}",
        format!("objective ship_fcn (E[R], N = {SHIP_DEFAULT_MUONS}):"),
        ship_fcn(SHIP_DEFAULT_MUONS as f64 * ship_sum / n, mass)
    );
    say!(
        "  SHiP weight per muon (p > 1 GeV/c):    {:.6e}",
        ship_sum / n
    );
    say!("  mass:   {mass:.0} kg");
    say!(
        "  length: {:.1} cm (plane at z = {:.1} cm)",
        shield.length_cm(),
        shield.z_plane_cm()
    );
    say!(
        "  wall time: {wall:.3} s ({:.0} muons/s on {} threads)",
        n / wall.max(1e-9),
        lgso::threads::available_cores()
    );
    Ok(ExitCode::SUCCESS)
}

/// Whether a hit lies in the L-GSO acceptance (§7.1).
fn in_window(hit: [f64; 2], pdg: f64) -> bool {
    let xf = hit[0] * 0.01 * pdg.signum();
    (-3.0..=2.9).contains(&xf) && (hit[1] * 0.01).abs() < 5.0
}

fn bench(a: &ShieldBenchArgs) -> anyhow::Result<ExitCode> {
    let spectrum = match a.spectrum.as_str() {
        "enhanced" => Spectrum::Enhanced,
        "physical" => Spectrum::Physical,
        other => bail!("invalid value `{other}` for `--spectrum`: expected enhanced or physical"),
    };
    if a.muons == 0 {
        bail!("invalid value `0` for `--muons`: expected at least one muon");
    }
    let cores = lgso::threads::available_cores();
    let one = rayon::ThreadPoolBuilder::new().num_threads(1).build()?;
    say!(
        "muon-shield tracking speed: baseline psi, {} muons ({} spectrum), discrete energy loss",
        a.muons,
        spectrum.label()
    );
    say!(
        "{:>8} {:>8} {:>14} {:>12} {:>10}",
        "step cm",
        "threads",
        "muons/s",
        "steps/muon",
        "wall s"
    );
    for step in [10.0, 20.0] {
        let mut sim = ShieldSimulator {
            spectrum: spectrum.clone(),
            ..ShieldSimulator::default()
        };
        sim.sim.step_max_cm = step;
        let shield = sim.shield(&BASELINE)?;
        let mut rng = rng_from_seed(0);
        let x = sim.muons(a.muons, &mut rng);
        for (threads, pool) in [(1, &one), (cores, lgso::threads::simulation_pool())] {
            let t0 = Instant::now();
            let out = pool.install(|| sim.outcomes_for(&shield, &BASELINE, &x, &mut rng))?;
            let wall = t0.elapsed().as_secs_f64();
            let steps: f64 = out.iter().map(|o| o.steps as f64).sum::<f64>() / out.len() as f64;
            say!(
                "{step:>8} {threads:>8} {:>14.0} {steps:>12.1} {wall:>10.3}",
                a.muons as f64 / wall.max(1e-9)
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn draw(a: &ShieldDrawArgs) -> anyhow::Result<ExitCode> {
    let psi = read_psi(&a.common.psi)?;
    let sim = simulator(&a.common)?;
    let shield = build_shield(&sim, &psi, &a.common.psi)?;
    let mut rng = rng_from_seed(a.common.seed);
    let pool = sim.muons(a.tracks.max(1) * 20, &mut rng);
    let tracker = Tracker::new(&shield);
    let mut tracks = Vec::new();
    for i in 0..pool.rows() {
        if tracks.len() >= a.tracks {
            break;
        }
        let m = pool.row(i);
        let p = (m[0] * m[0] + m[1] * m[1] + m[2] * m[2]).sqrt();
        if p < 50.0 {
            continue;
        }
        let mut path = Vec::new();
        let mut r = MuonRng::new(a.common.seed.wrapping_add(i as u64));
        let o = tracker.track_path(m, &sim.sim, &mut r, Some(&mut path));
        tracks.push((m[6], o.status, path));
    }
    let png = a
        .out
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("png"));
    if !png {
        bail!(
            "invalid value `{}` for `--out`: expected a file name ending in .png",
            a.out.display()
        );
    }
    if let Some(parent) = a.out.parent().filter(|p| !p.as_os_str().is_empty()) {
        if !parent.is_dir() {
            bail!(
                "invalid value `{}` for `--out`: the directory {} does not exist",
                a.out.display(),
                parent.display()
            );
        }
    }
    register_font().map_err(anyhow::Error::msg)?;
    draw_png(&a.out, &shield, &tracks).map_err(|e| anyhow::anyhow!("{}: {e}", a.out.display()))?;
    say!(
        "wrote {} ({} tracks; red mu+, blue mu-; mass {:.0} kg, length {:.0} cm)",
        a.out.display(),
        tracks.len(),
        shield.mass_kg(),
        shield.length_cm()
    );
    Ok(ExitCode::SUCCESS)
}

type Track = (f64, Status, Vec<[f64; 3]>);

fn draw_png(
    path: &Path,
    shield: &Shield,
    tracks: &[Track],
) -> Result<(), Box<dyn std::error::Error>> {
    let root = BitMapBackend::new(path, (1400, 1000)).into_drawing_area();
    root.fill(&WHITE)?;
    let panels = root.split_evenly((2, 1));
    let z_max = shield.z_plane_cm() + 100.0;
    for (axis, area) in panels.iter().enumerate() {
        let name = if axis == 0 { "x" } else { "y" };
        let mut chart = ChartBuilder::on(area)
            .caption(
                format!("muon shield, {name}-z view (iron grey, tracks: red mu+, blue mu-)"),
                ("sans-serif", 20),
            )
            .margin(10)
            .x_label_area_size(35)
            .y_label_area_size(55)
            .build_cartesian_2d(-200.0..z_max, -1000.0..1000.0)?;
        chart
            .configure_mesh()
            .x_desc("z [cm]")
            .y_desc(format!("{name} [cm]"))
            .label_style(("sans-serif", 14))
            .draw()?;
        let grey = RGBColor(150, 150, 150).filled();
        // absorber block and wall
        chart.draw_series(std::iter::once(Rectangle::new(
            [
                (10.0, -395.0 + 55.0 * axis as f64),
                (542.0, 395.0 - 55.0 * axis as f64),
            ],
            RGBColor(200, 200, 200).filled(),
        )))?;
        chart.draw_series(std::iter::once(Rectangle::new(
            [(542.0, -1000.0), (556.0, 1000.0)],
            RGBColor(190, 170, 140).filled(),
        )))?;
        // pieces of constant taper: a whole magnet, or each step_geo slab
        let pieces = shield.magnets.iter().flat_map(|m| {
            let n = m.slabs.max(1);
            let len = m.z_end - m.z_start;
            (0..n).map(move |j| {
                let z0 = m.z_start + len * j as f64 / n as f64;
                let z1 = m.z_start + len * (j + 1) as f64 / n as f64;
                if m.slabs == 0 {
                    (z0, z1, m.entrance, m.exit)
                } else {
                    let s = m.section_at(0.5 * (z0 + z1));
                    (z0, z1, s, s)
                }
            })
        });
        for (z_start, z_end, entrance, exit) in pieces {
            // outline of the iron at y = 0 (x-z) or x = 0 (y-z), as polygons
            let outer = |s: &lgso::problem::muon_shield::geometry::Section| {
                if axis == 0 {
                    2.0 * s.dx + s.gap
                } else {
                    s.dx + s.dy
                }
            };
            let (a0, a1) = (outer(&entrance), outer(&exit));
            if axis == 0 {
                // core and the two yokes
                let (c0, c1) = (entrance.dx, exit.dx);
                let (y0, y1) = (entrance.dx + entrance.gap, exit.dx + exit.gap);
                for sgn in [-1.0, 1.0] {
                    chart.draw_series(std::iter::once(Polygon::new(
                        vec![
                            (z_start, sgn * y0),
                            (z_end, sgn * y1),
                            (z_end, sgn * a1),
                            (z_start, sgn * a0),
                        ],
                        grey,
                    )))?;
                }
                chart.draw_series(std::iter::once(Polygon::new(
                    vec![(z_start, -c0), (z_end, -c1), (z_end, c1), (z_start, c0)],
                    grey,
                )))?;
            } else {
                chart.draw_series(std::iter::once(Polygon::new(
                    vec![(z_start, -a0), (z_end, -a1), (z_end, a1), (z_start, a0)],
                    grey,
                )))?;
            }
        }
        // the sensitive plane and the acceptance
        let zp = shield.z_plane_cm();
        chart.draw_series(std::iter::once(PathElement::new(
            vec![(zp, -1000.0), (zp, 1000.0)],
            BLACK.stroke_width(2),
        )))?;
        let acc = if axis == 0 { 300.0 } else { 500.0 };
        chart.draw_series(std::iter::once(PathElement::new(
            vec![(zp, -acc), (zp, acc)],
            GREEN.stroke_width(6),
        )))?;
        for (pdg, _, path) in tracks {
            let color = if *pdg < 0.0 { RED } else { BLUE };
            chart.draw_series(std::iter::once(PathElement::new(
                path.iter()
                    .map(|r| (r[2], r[axis].clamp(-1000.0, 1000.0)))
                    .collect::<Vec<_>>(),
                color.stroke_width(1),
            )))?;
        }
    }
    root.present()?;
    Ok(())
}
