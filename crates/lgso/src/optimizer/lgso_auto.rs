//! L-GSO that sets itself (`[lgso] preset = "auto"`): the paper's local
//! generative surrogate inside an adaptive trust region, each step checked
//! on fresh simulator samples.
//!
//! The paper's L-GSO takes one Adam step per iteration inside a fixed
//! eps-ball, so it needs at least `distance / eps` iterations whatever the
//! gradient's quality, and draws a fixed M per point. Here, per iteration
//! (state: the centre psi, the radius `D`, the verification size `M_v`, and
//! the step proposed by the last iteration):
//! 1. `ask`: if a step `p` was proposed, `M_v` draws at the centre `c` and
//!    `M_v` at `p`, both with the same seed, so that sample `i` at `c` and
//!    at `p` share their inputs and random numbers (common random numbers:
//!    the difference `R_i(c) - R_i(p)` carries little noise); and, while
//!    the region around the next centre holds fewer than
//!    [`REGION_SAMPLES_PER_POINT`] `(N + 1) M` samples, a Latin-hypercube
//!    design of `N` points in the box `p +- D` (clipped to the bounds) with
//!    `M` draws each. Every draw is charged.
//! 2. `tell`, the ratio test (Conn, Gould & Toint, "Trust-Region Methods",
//!    2000, ch. 6; with noise: the L-GSO authors' unpublished variant and
//!    ASTRO-DF): the measured decrease `d = mean_i (R_i(c) - R_i(p))` with
//!    its standard error `s`, against the decrease the surrogate predicted,
//!    `rho = d / pred`. The step is accepted when `d > s` and
//!    `rho >= ETA_ACCEPT`; the radius doubles when `rho >= ETA_GOOD` and the
//!    step reached the region's edge, halves when `rho < ETA_BAD` or the
//!    step was rejected. When noise hides the decrease (`s > pred / 2`)
//!    `M_v` doubles, and it halves when the test was clear (`s < pred / 8`):
//!    a smooth problem runs at a few draws per check, a rare-event one
//!    gets thousands.
//! 3. A fresh surrogate is fitted on every stored sample in the box
//!    `c +- 2 D` (design, verification and earlier samples alike); the next
//!    step goes from `c` along its pathwise gradient `g` (paper, eq. 4) to
//!    the sphere of radius `D`, and `pred = g . (c - p)` (the linear model
//!    of a classical trust region).
//!
//! psi (the centre) only moves to points whose decrease was measured; the
//! verification and design draws of every iteration are kept and trained
//! on.

use std::sync::Arc;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::adam::Adam;
use super::lgso::LgsoSettings;
use super::state::Base;
use super::trust_region::{clip_design, distance, trust_region_design};
use super::{norm, Method, Optimizer, PsiState};
use crate::data::{Matrix, Outcome, Request};
use crate::error::{Error, Result};
use crate::history::History;
use crate::problem::{mean_and_stderr, objective_values, Objective, Problem, Simulator};
use crate::report::StepReport;
use crate::seed::{derive_seed, rng_from_seed, stream};
use crate::surrogate::{pathwise_gradient, FittedSurrogate, Surrogate};

/// A step is accepted when `rho` reaches this (and its decrease exceeds
/// its standard error).
pub const ETA_ACCEPT: f64 = 1e-3;
/// `rho` at or above this grows the radius (when the step reached the edge).
pub const ETA_GOOD: f64 = 0.75;
/// `rho` below this shrinks the radius.
pub const ETA_BAD: f64 = 0.25;
/// New design points are drawn while the region holds fewer than this
/// many times `(N + 1) M` samples (the L-GSO authors' variant used 10).
pub const REGION_SAMPLES_PER_POINT: usize = 4;
/// The surrogate trains on the box `c +- TRAIN_BOX D`: after a step of
/// length `D` it still holds the design drawn around the step.
pub const TRAIN_BOX: f64 = 2.0;
/// Surrogates fitted per iteration (different seeds, the same data): the
/// proposal follows their mean gradient and mean estimate. One fit's
/// gradient scatters widely where the data are few (measured on three
/// hump at (0.69, 0.53) with 128 points: single fits' cosines to the
/// exact gradient from -0.9 to 0.99, the mean of four 0.998).
pub const ENSEMBLE: usize = 4;
/// Iterations in a row without a step to check (blocked by the bounds, a
/// flat surrogate) or checks without an accepted step at the smallest
/// radius, after which the run stops as converged.
pub const STALL: u32 = 3;
/// The most design points of one design.
pub const MAX_DESIGN_POINTS: usize = 100_000;
/// The verification size `M_v` stays within these bounds.
pub const VERIFY_SAMPLES: (usize, usize) = (4, 1 << 20);
/// Adam steps of the search for the surrogate's minimum in the region.
pub const MINIMISER_STEPS: usize = 12;
/// Surrogate samples `(z, x)` of each step of that search (the first of
/// the `K` of the gradient).
pub const MINIMISER_SAMPLES: usize = 512;
/// The fractions of each proposed step checked at once (a backtracking line
/// search in one batch: the check's draws share one seed).
pub const FRACTIONS: [f64; 3] = [1.0, 0.5, 0.25];
/// Stream labels (distinct from the library's and the baselines').
const VERIFY_STREAM: u64 = 201;
const PROPOSAL_STREAM: u64 = 202;
const DESIGN_STREAM: u64 = 203;

/// The ensemble fitted on the region, the `x` rows of the surrogate
/// samples, the samples trained on and the seconds of the fits.
type Fit = (Vec<Box<dyn FittedSurrogate>>, Matrix, usize, f64);

/// A step proposed by the surrogate, waiting for its check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Proposal {
    /// The candidate steps: along the surrogate's gradient, and to the
    /// surrogate's minimum in the region.
    steps: Vec<Step>,
}

/// One candidate step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Step {
    /// The proposed psi, `[n]`.
    psi: Vec<f64>,
    /// The predicted decrease of `E[R]` from the centre.
    predicted: f64,
}

/// What the adaptive L-GSO keeps besides its [`PsiState`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct AutoState {
    /// Trust-region half-width `D` (L-infinity box).
    radius: f64,
    /// Draws per point of the next check.
    verify_samples: usize,
    /// New design points per design: doubled when the objective rose at
    /// every fraction of a step (the gradient pointed the wrong way: it
    /// needs more data), halved after a step that grew the region, never
    /// below `N`.
    design_points: usize,
    /// The step to check next, if any.
    proposal: Option<Proposal>,
    /// Whether the next ask draws a design.
    design: bool,
    /// Iterations in a row whose surrogate was flat (a zero gradient).
    flat: u32,
    /// Iterations in a row whose every candidate step was blocked by the
    /// bounds.
    blocked: u32,
    /// Checks in a row that accepted no step.
    failures: u32,
}

/// L-GSO with an adaptive trust region and sample size.
pub struct LgsoAuto {
    base: Base,
    settings: LgsoSettings,
    simulator: Arc<dyn Simulator>,
    surrogate: Box<dyn Surrogate>,
    auto: AutoState,
    /// The largest radius: the widest bound, or 64 times the initial one.
    radius_max: f64,
    /// The smallest radius: the initial one / 2^12.
    radius_min: f64,
}

impl LgsoAuto {
    /// Adaptive L-GSO with `settings` (`eps`: the initial radius; `N`,
    /// `M`: the design; `K`: the surrogate samples of the proposal) and the
    /// `surrogate` family on `problem`, from its start point.
    pub fn new(
        settings: &LgsoSettings,
        surrogate: Box<dyn Surrogate>,
        problem: &Problem,
        seed: u64,
    ) -> Self {
        let radius = settings.eps;
        let widest = problem
            .bounds
            .as_ref()
            .and_then(|b| b.iter().map(|(lo, hi)| hi - lo).reduce(f64::max));
        LgsoAuto {
            base: Base::new(Method::Lgso, settings, problem, seed, None),
            settings: settings.clone(),
            simulator: problem.simulator.clone(),
            surrogate,
            auto: AutoState {
                radius,
                verify_samples: (2 * settings.samples_per_point)
                    .clamp(VERIFY_SAMPLES.0, VERIFY_SAMPLES.1),
                design_points: settings.n_points,
                proposal: None,
                design: true,
                flat: 0,
                blocked: 0,
                failures: 0,
            },
            radius_max: widest.unwrap_or(64.0 * radius).max(radius),
            radius_min: radius / 4096.0,
        }
    }

    /// The current trust-region half-width `D`.
    pub fn radius(&self) -> f64 {
        self.auto.radius
    }

    /// Draws per point of the next check, `M_v`.
    pub fn verify_samples(&self) -> usize {
        self.auto.verify_samples
    }

    /// The ratio test on the check's outcomes (the centre, then the step
    /// at each of [`FRACTIONS`]): the accepted point is the fraction with
    /// the largest measured decrease among those whose decrease exceeds
    /// its standard error and whose `rho` reaches [`ETA_ACCEPT`]; the
    /// radius doubles when the whole step was accepted with `rho >=
    /// ETA_GOOD` at the region's edge, becomes the accepted step's length
    /// when a shorter one won, and a quarter when none did; the design
    /// draws double when the objective rose at every fraction (the gradient
    /// pointed the wrong way: a matter of data). Returns, for the debug
    /// line, the decrease and standard error at the whole step.
    fn check(&mut self, proposal: &Proposal, outcomes: &[Outcome]) -> Result<(f64, f64)> {
        let objective = self.base.objective.as_ref();
        let centre = &outcomes[0];
        // (step, fraction, decrease, its standard error, rho)
        let mut tests = Vec::new();
        let mut rest = outcomes[1..].iter();
        for (k, step) in proposal.steps.iter().enumerate() {
            for t in FRACTIONS {
                let o = rest
                    .next()
                    .ok_or_else(|| Error::Protocol("the check's requests are missing".into()))?;
                let (d, s) = decrease(objective, centre, o)?;
                tests.push((k, t, d, s, d / (t * step.predicted)));
            }
        }
        let best = tests
            .iter()
            .filter(|(_, _, d, s, rho)| d.is_finite() && d > s && *rho >= ETA_ACCEPT)
            .max_by(|a, b| a.2.total_cmp(&b.2))
            .copied();
        let all_up = tests.iter().all(|t| t.2.is_finite() && t.2 < 0.0);
        // some difference within one standard error of zero
        let noisy = tests.iter().any(|t| t.2.is_nan() || t.2.abs() <= t.3);
        let whole = tests[0];
        let c = self.base.state.psi.clone();
        let a = &mut self.auto;
        match best {
            Some((k, t, _, _, rho)) => {
                let full = distance(&c, &proposal.steps[k].psi);
                if t == 1.0 && rho >= ETA_GOOD && full >= 0.9 * a.radius {
                    a.radius = (2.0 * a.radius).min(self.radius_max);
                    a.design_points = (a.design_points / 2).max(self.settings.n_points);
                } else if t < 1.0 || rho < ETA_BAD {
                    a.radius = (t * full).clamp(self.radius_min, a.radius);
                }
                self.base.state.psi = fraction(&c, &proposal.steps[k].psi, t);
            }
            None => {
                if noisy {
                    // a decrease hidden in the noise: check with more draws
                    a.verify_samples = (2 * a.verify_samples).min(VERIFY_SAMPLES.1);
                }
                if all_up && a.failures.is_multiple_of(2) {
                    // every candidate went up at every length: the
                    // surrogate may need more data (the gradient pointed
                    // the wrong way) or psi may be near a minimum (every
                    // step too long): failures in a row alternate between
                    // the two remedies
                    a.design_points = (2 * a.design_points).min(MAX_DESIGN_POINTS);
                    a.design = true;
                } else if all_up || !noisy {
                    a.radius = (0.25 * a.radius).max(self.radius_min);
                }
            }
        }
        a.failures = if best.is_some() { 0 } else { a.failures + 1 };
        let (_, _, d_whole, s_whole, _) = whole;
        if best.is_some() && tests.iter().all(|t| t.3 < 0.125 * t.2.abs()) {
            // every difference was clear: fewer draws will do
            a.verify_samples = (a.verify_samples / 2).max(VERIFY_SAMPLES.0);
        }
        Ok((d_whole, s_whole))
    }

    /// The surrogate fitted on the region around the centre.
    fn fit(&self, history: &History) -> Result<Fit> {
        let st = &self.base.state;
        let mut idx = history.in_box_indices(&st.psi, TRAIN_BOX * self.auto.radius);
        if idx.len() > self.settings.max_train_samples {
            // the newest samples: they lie nearest the current centre
            idx.drain(..idx.len() - self.settings.max_train_samples);
        }
        let data = history.samples().select(&idx);
        if data.is_empty() {
            return Err(Error::Surrogate(
                "no samples in the trust region to train on (every request failed)".into(),
            ));
        }
        let t = Instant::now();
        let fitted = (0..ENSEMBLE as u64)
            .map(|e| {
                let mut rng = rng_from_seed(derive_seed(st.seed, &[stream::FIT, st.iteration, e]));
                self.surrogate.fit(&data, &mut rng)
            })
            .collect::<Result<Vec<_>>>()?;
        let seconds = t.elapsed().as_secs_f64();
        let k = self.settings.gradient_samples;
        let mut rng = rng_from_seed(derive_seed(st.seed, &[stream::GRADIENT, st.iteration]));
        let x = if self.simulator.samples_x() {
            self.simulator.sample_x(k, &mut rng)
        } else {
            let rows: Vec<usize> = (0..k)
                .map(|_| rand::Rng::random_range(&mut rng, 0..data.len()))
                .collect();
            data.x.select_rows(&rows)
        };
        Ok((fitted, x, data.len(), seconds))
    }

    /// The candidate steps from the surrogate: along its gradient `g` of
    /// `E[R]` at the centre (the pathwise gradient, paper eq. 4) to the
    /// sphere of radius `D`, predicted decrease `g . (c - p)` (the linear
    /// model of a classical trust region); and the minimum of its estimate
    /// of `E[R]` in the box `c +- D` (Adam through the frozen surrogate with
    /// fixed `(z, x)`, [`MINIMISER_STEPS`] steps of `D / 4`, the best point
    /// kept; it follows curvature and kinks the linear model misses),
    /// predicted decrease the estimate's. Both are clipped to the bounds;
    /// candidates without a predicted decrease are dropped. Returns the
    /// candidates, the estimate at the centre and `||g||`.
    fn propose(
        &self,
        fitted: &[Box<dyn FittedSurrogate>],
        x: &Matrix,
    ) -> Result<(Vec<Step>, f64, f64)> {
        let st = &self.base.state;
        let c = &st.psi;
        let d = self.auto.radius;
        let z_seed = derive_seed(st.seed, &[PROPOSAL_STREAM, st.iteration]);
        let objective = self.base.objective.as_ref();
        // the ensemble's mean estimate and gradient
        let estimate = |p: &[f64], x: &Matrix| -> Result<(f64, Vec<f64>)> {
            let mut value = 0.0;
            let mut grad = vec![0.0; p.len()];
            for f in fitted {
                let (v, g) =
                    pathwise_gradient(f.as_ref(), objective, p, x, &mut rng_from_seed(z_seed))?;
                value += v / fitted.len() as f64;
                grad.iter_mut()
                    .zip(&g)
                    .for_each(|(a, b)| *a += b / fitted.len() as f64);
            }
            Ok((value, grad))
        };
        let (v0, g0) = estimate(c, x)?;
        let g_norm = norm(&g0);
        let mut steps = Vec::new();
        if g_norm > 0.0 {
            let scale = d / g_norm;
            let mut p: Vec<f64> = c.iter().zip(&g0).map(|(ci, gi)| ci - scale * gi).collect();
            self.clip(&mut p);
            let predicted: f64 = c
                .iter()
                .zip(&p)
                .zip(&g0)
                .map(|((ci, pi), gi)| gi * (ci - pi))
                .sum();
            steps.push(Step { psi: p, predicted });
        }
        // the minimiser works on the first MINIMISER_SAMPLES (z, x) pairs
        let rows: Vec<usize> = (0..x.rows().min(MINIMISER_SAMPLES)).collect();
        let xs = x.select_rows(&rows);
        let (vs0, mut g) = estimate(c, &xs)?;
        let mut best = (vs0, c.clone());
        let mut adam = Adam::new(c.len(), d / 4.0, 0.9, 0.999, 1e-8);
        let mut p = c.clone();
        for _ in 0..MINIMISER_STEPS {
            adam.step(&mut p, &g);
            self.clip(&mut p);
            let (v, gp) = estimate(&p, &xs)?;
            if v < best.0 {
                best = (v, p.clone());
            }
            g = gp;
        }
        steps.push(Step {
            psi: best.1,
            predicted: vs0 - best.0,
        });
        steps.retain(|s| s.predicted > 0.0 && s.psi != *c);
        Ok((steps, v0, g_norm))
    }

    /// Clamps `p` into the box `c +- D` and the bounds.
    fn clip(&self, p: &mut [f64]) {
        let (c, d) = (&self.base.state.psi, self.auto.radius);
        for (j, v) in p.iter_mut().enumerate() {
            let (mut lo, mut hi) = (c[j] - d, c[j] + d);
            if let Some(b) = &self.base.bounds {
                lo = lo.max(b[j].0);
                hi = hi.min(b[j].1);
            }
            *v = v.clamp(lo, hi);
        }
    }

    /// Whether the region of radius `D` around `p` holds too few samples.
    fn needs_design(&self, history: &History, p: &[f64]) -> bool {
        let want = REGION_SAMPLES_PER_POINT
            * (self.auto.design_points + 1)
            * self.settings.samples_per_point;
        history.in_box_indices(p, self.auto.radius).len() < want
    }
}

/// `c + t (p - c)`.
fn fraction(c: &[f64], p: &[f64], t: f64) -> Vec<f64> {
    if t == 1.0 {
        return p.to_vec();
    }
    c.iter().zip(p).map(|(a, b)| a + t * (b - a)).collect()
}

/// The measured decrease `mean_i (R_i(c) - R_i(p))` and its standard
/// error: paired by sample when both requests came back whole (same seed,
/// so common random numbers), else the difference of the two means with
/// `sqrt(se_c^2 + se_p^2)`. NaN when either has no samples.
fn decrease(objective: &dyn Objective, centre: &Outcome, step: &Outcome) -> Result<(f64, f64)> {
    let rc = objective_values(objective, &centre.samples)?;
    let rp = objective_values(objective, &step.samples)?;
    if rc.is_empty() || rp.is_empty() {
        return Ok((f64::NAN, f64::NAN));
    }
    let whole = rc.len() == centre.request.count && rp.len() == step.request.count;
    if whole && rc.len() == rp.len() {
        let d: Vec<f64> = rc.iter().zip(&rp).map(|(a, b)| a - b).collect();
        return Ok(mean_and_stderr(&d));
    }
    let (mc, sc) = mean_and_stderr(&rc);
    let (mp, sp) = mean_and_stderr(&rp);
    Ok((mc - mp, (sc * sc + sp * sp).sqrt()))
}

impl Optimizer for LgsoAuto {
    fn ask(&mut self) -> Result<Vec<Request>> {
        if let Some(p) = self.base.pending() {
            return Ok(p);
        }
        let (s, st, a) = (&self.settings, &self.base.state, &self.auto);
        let mut points: Vec<(Vec<f64>, usize, Option<u64>)> = Vec::new();
        let around = match &a.proposal {
            Some(p) => {
                let seed = derive_seed(st.seed, &[VERIFY_STREAM, st.iteration]);
                points.push((st.psi.clone(), a.verify_samples, Some(seed)));
                for step in &p.steps {
                    for t in FRACTIONS {
                        points.push((
                            fraction(&st.psi, &step.psi, t),
                            a.verify_samples,
                            Some(seed),
                        ));
                    }
                }
                p.steps[0].psi.clone()
            }
            None => st.psi.clone(),
        };
        if a.design {
            let mut rng = rng_from_seed(derive_seed(st.seed, &[stream::DESIGN, st.iteration]));
            let mut design = trust_region_design(&around, a.radius, a.design_points, &mut rng);
            if let Some(b) = &self.base.bounds {
                clip_design(&mut design, &around, a.radius, b);
            }
            // the centre row of the design is drawn only without a check
            // (the check draws the centre and the step already)
            let rows = if a.proposal.is_some() {
                design.rows() - 1
            } else {
                design.rows()
            };
            // every design point with one seed: common random numbers, so
            // the differences between points are differences in psi
            let crn = std::env::var_os("LGSO_NO_CRN")
                .is_none()
                .then(|| derive_seed(st.seed, &[DESIGN_STREAM, st.iteration]));
            for i in 0..rows {
                points.push((design.row(i).to_vec(), s.samples_per_point, crn));
            }
        }
        let each: Vec<(&[f64], usize, Option<u64>)> = points
            .iter()
            .map(|(p, count, seed)| (p.as_slice(), *count, *seed))
            .collect();
        Ok(self.base.ask_each(&each))
    }

    fn tell(&mut self, outcomes: &[Outcome], history: &History) -> Result<StepReport> {
        self.base.answered(outcomes)?;
        let previous = self.base.state.psi.clone();
        // this iteration's design is drawn; the check or the region decide
        // about the next
        self.auto.design = false;
        if let Some(proposal) = self.auto.proposal.take() {
            let (d, s) = self.check(&proposal, outcomes)?;
            if std::env::var_os("LGSO_DEBUG").is_some() {
                eprintln!(
                    "it {} pred {:?} d {:.4} s {:.4} -> radius {:.4} m_v {} points {} moved {}",
                    self.base.state.iteration,
                    proposal
                        .steps
                        .iter()
                        .map(|s| s.predicted)
                        .collect::<Vec<_>>(),
                    d,
                    s,
                    self.auto.radius,
                    self.auto.verify_samples,
                    self.auto.design_points,
                    self.base.state.psi != previous
                );
            }
        }
        let (fitted, x, train, seconds_fit) = self.fit(history)?;
        let t = Instant::now();
        let (steps, value, grad_norm) = self.propose(&fitted, &x)?;
        let seconds_gradient = t.elapsed().as_secs_f64();
        if let Some(first) = steps.first() {
            self.auto.flat = 0;
            self.auto.blocked = 0;
            self.auto.design |= self.needs_design(history, &first.psi);
            self.auto.proposal = Some(Proposal { steps });
        } else if grad_norm > 0.0 {
            // every candidate is blocked by the bounds: psi sits at a
            // constrained minimum of the surrogate; more data decides
            self.auto.blocked += 1;
            self.auto.design = true;
        } else {
            // the surrogate sees no change at all in the region: look wider
            self.auto.flat += 1;
            self.auto.radius = (2.0 * self.auto.radius).min(self.radius_max);
            self.auto.design = true;
        }
        self.base.state.iteration += 1;
        Ok(StepReport {
            grad_norm,
            step_length: distance(&self.base.state.psi, &previous),
            train_samples: train,
            reused_samples: train.saturating_sub(outcomes.iter().map(|o| o.samples.len()).sum()),
            seconds_fit,
            seconds_gradient,
            surrogate_objective: value,
        })
    }

    fn state(&self) -> &PsiState {
        &self.base.state
    }

    fn calls_per_iteration(&self) -> u64 {
        let (s, a) = (&self.settings, &self.auto);
        let check = if let Some(p) = &a.proposal {
            (1 + (p.steps.len() * FRACTIONS.len()) as u64) * a.verify_samples as u64
        } else {
            0
        };
        let design = match (a.design, a.proposal.is_some()) {
            (false, _) => 0,
            (true, true) => a.design_points as u64,
            (true, false) => a.design_points as u64 + 1,
        };
        check + design * s.samples_per_point as u64
    }

    fn save_state(&self) -> Result<serde_json::Value> {
        self.base.save(&self.auto)
    }

    fn restore_state(&mut self, state: &serde_json::Value) -> Result<()> {
        self.auto = self.base.restore(state, |a: &AutoState, n| {
            a.radius > 0.0
                && a.radius.is_finite()
                && a.proposal
                    .as_ref()
                    .is_none_or(|p| !p.steps.is_empty() && p.steps.iter().all(|s| s.psi.len() == n))
        })?;
        Ok(())
    }

    fn converged(&self) -> Option<String> {
        let a = &self.auto;
        if a.blocked >= STALL {
            Some(format!(
                "psi lies at a minimum on the bounds: every step the surrogate proposed \
                 left them, {} iterations in a row",
                a.blocked
            ))
        } else if a.flat >= STALL {
            Some(format!(
                "the objective looks flat: the surrogate saw no change of it within {} of psi, \
                 {} iterations in a row",
                a.radius, a.flat
            ))
        } else if a.radius <= self.radius_min && a.failures >= STALL {
            Some(format!(
                "the trust region shrank to {} without an accepted step, {} checks in a row",
                a.radius, a.failures
            ))
        } else {
            None
        }
    }

    fn tolerates_missing(&self) -> bool {
        true
    }
}
