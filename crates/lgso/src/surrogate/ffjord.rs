//! The FFJORD surrogate: a conditional continuous normalizing flow on `y`
//! (Grathwohl et al., "FFJORD: Free-form Continuous Dynamics for Scalable
//! Reversible Generative Models", ICLR 2019; lgso.md, "FFJORD surrogate of
//! the reference").
//!
//! With `y` and the condition `c = [psi, x]` standardized on the training
//! set, the flow is the ODE `dy/dt = f(y, t, c)` on `t in [0, 1]`, with
//! `f` an MLP on the concatenation `[y, t, c]` (hidden 32-32, tanh, linear
//! output). Sampling integrates from `y(0) = z ~ N(0, I)` to `y = y(1)`;
//! every step is a tracked tensor operation, so `y` is differentiable with
//! respect to psi and the L-GSO gradient ([`super::pathwise_gradient`])
//! works unchanged. The log-density follows the instantaneous change of
//! variables (FFJORD, eq. 4):
//!
//! `log p(y) = log N(z; 0, I) - int_0^1 tr(df/dy(y(t), t, c)) dt`,
//!
//! computed by integrating the augmented state `(y, a)` with
//! `da/dt = tr(df/dy)` backwards from `(y, 0)` at `t = 1` to `(z, a0)` at
//! `t = 0`, so that `log p(y) = log N(z) + a0`. The divergence `tr(df/dy)`
//! is exact for `m <= exact_trace_max_dim` (one explicit input
//! vector-Jacobian product per y dimension, [`Mlp::input_vjp`]) and the
//! Hutchinson estimator `eps^T (df/dy) eps`, `eps ~ N(0, I)` fixed over the
//! solve (FFJORD, eq. 7), above. Training maximizes the log-likelihood by
//! Adam, back-propagating through the RK4 steps ([`super::ode::rk4`]).
//!
//! Deviation from the reference: the condition and time enter by
//! concatenation at the input layer only, not in every layer ("concat"
//! layers of the reference); the hidden layers see them through the first
//! layer's activations.

use std::time::Instant;

use candle_core::{DType, Device, Tensor};

use super::mlp::{randn, Activation, Init, Mlp};
use super::ode::Solver;
use super::train::{fit_likelihood, LikelihoodFit, Prepared, Scaling, Schedule, HALF_LN_2PI};
use super::{FitReport, FittedSurrogate, Surrogate};
use crate::check::{at_least, at_most, betas, non_negative, positive, widths, MAX_SAMPLES};
use crate::data::Samples;
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

/// FFJORD surrogate settings (lgso.md, "FFJORD surrogate of the
/// reference"; [`crate::surrogate::ffjord`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FfjordSettings {
    /// Hidden widths of the dynamics network `[y, t, x, psi] -> ... -> y`,
    /// tanh. Default [32, 32] (one block).
    pub hidden: Vec<usize>,
    /// Adam learning rate. Default 1e-3.
    pub lr: f64,
    /// Adam betas. Default (0.9, 0.999) (PyTorch's).
    pub betas: [f64; 2],
    /// Minibatch size. Default 512.
    pub batch_size: usize,
    /// Passes over the training set per fit. Default 25.
    pub epochs: usize,
    /// Instance noise: N(0,1) * this * (per-column std of the batch) is added
    /// to the training y. Default 0.01.
    pub instance_noise: f64,
    /// ODE solver in training and sampling: `rk4` (classical Runge-Kutta,
    /// `ode_steps` fixed steps) or `dopri5` (adaptive Dormand-Prince 5(4)
    /// with `rtol`/`atol`, first step `1 / ode_steps`). Default `rk4`.
    pub solver: String,
    /// RK4 steps over `t in [0, 1]` (the initial step count of `dopri5`).
    /// Default 4.
    pub ode_steps: usize,
    /// Relative tolerance of `dopri5`. Default 1e-5.
    pub rtol: f64,
    /// Absolute tolerance of `dopri5`. Default 1e-5.
    pub atol: f64,
    /// Exact divergence (one vector-Jacobian product per y dimension) for y
    /// dimensions up to this; the Hutchinson estimator above. Default 2.
    pub exact_trace_max_dim: usize,
    /// Decay the learning rate from `lr` to 0 along a cosine over the fit.
    /// Default false (the reference keeps it constant).
    pub cosine_decay: bool,
    /// Shards per minibatch, as [`GanSettings::shards`](super::GanSettings::shards). Default 2.
    pub shards: usize,
    /// Threads of one fit (0 = all cores). Default 0.
    pub threads: usize,
}

impl Default for FfjordSettings {
    fn default() -> Self {
        FfjordSettings {
            hidden: vec![32, 32],
            lr: 1e-3,
            betas: [0.9, 0.999],
            batch_size: 512,
            epochs: 25,
            instance_noise: 0.01,
            solver: "rk4".into(),
            ode_steps: 4,
            rtol: 1e-5,
            atol: 1e-5,
            exact_trace_max_dim: 2,
            cosine_decay: false,
            shards: 2,
            threads: 0,
        }
    }
}

impl FfjordSettings {
    /// The configured ODE solver.
    ///
    /// # Errors
    /// [`Error::Config`] for an unknown `solver`.
    pub fn solver(&self) -> Result<crate::surrogate::ode::Solver> {
        use crate::surrogate::ode::Solver;
        match self.solver.as_str() {
            "rk4" => Ok(Solver::Rk4 {
                steps: self.ode_steps,
            }),
            "dopri5" => Ok(Solver::Dopri5 {
                rtol: self.rtol,
                atol: self.atol,
                initial_steps: self.ode_steps,
            }),
            other => Err(Error::config(
                "ffjord.solver",
                "\"rk4\" or \"dopri5\"",
                format!("{other:?}"),
            )),
        }
    }

    /// Checks every setting (`[ffjord]` keys in messages).
    ///
    /// # Errors
    /// [`Error::Config`] naming the key and the expected form.
    pub fn validate(&self) -> Result<()> {
        let f = self;
        widths("ffjord.hidden", &f.hidden)?;
        positive("ffjord.lr", f.lr)?;
        betas("ffjord.betas", f.betas)?;
        at_least("ffjord.batch_size", f.batch_size, 2)?;
        at_most("ffjord.batch_size", f.batch_size, MAX_SAMPLES)?;
        at_least("ffjord.epochs", f.epochs, 1)?;
        non_negative("ffjord.instance_noise", f.instance_noise)?;
        at_least("ffjord.ode_steps", f.ode_steps, 1)?;
        at_most("ffjord.ode_steps", f.ode_steps, 10_000)?;
        f.solver()?;
        positive("ffjord.rtol", f.rtol)?;
        positive("ffjord.atol", f.atol)?;
        at_least("ffjord.shards", f.shards, 1)?;
        at_most("ffjord.shards", f.shards, 1024)?;
        Ok(())
    }
}

/// The FFJORD surrogate family with its settings.
#[derive(Debug, Clone)]
pub struct Ffjord {
    /// Architecture, solver and training settings (the reference's
    /// defaults in [`FfjordSettings::default`]).
    pub settings: FfjordSettings,
}

impl Ffjord {
    /// An FFJORD surrogate with the given settings.
    pub fn new(settings: FfjordSettings) -> Self {
        Ffjord { settings }
    }
}

/// A trained flow with the standardization of its training data.
#[derive(Debug)]
pub struct FittedFfjord {
    dynamics: Mlp,
    m: usize,
    solver: Solver,
    scaling: Scaling,
    report: FitReport,
}

/// The dynamics network `[y (m), t (1), c] -> hidden (tanh) -> m (linear)`,
/// weights drawn from `rng` (PyTorch's `nn.Linear` initialisation).
///
/// # Errors
/// Tensor errors.
pub fn dynamics_net(
    m: usize,
    c: usize,
    hidden: &[usize],
    rng: &mut crate::seed::Rng,
) -> Result<Mlp> {
    let mut widths = vec![m + 1 + c];
    widths.extend(hidden);
    widths.push(m);
    let mut acts = vec![Activation::Tanh; hidden.len()];
    acts.push(Activation::Identity);
    Ok(Mlp::new(&widths, &acts, Init::TorchDefault, rng)?)
}

/// The dynamics `f(y, t, c)` and its divergence `tr(df/dy)` per row:
/// `y: [b, m]`, `cond: [b, c]` to `([b, m], [b, 1])`. With `probe = None`
/// the trace is exact (`m` explicit vector-Jacobian products with the unit
/// vectors); with `probe = Some(eps)` (`[b, m]`) it is Hutchinson's
/// `eps^T (df/dy) eps` (FFJORD, eq. 7). Both are tracked expressions of the
/// weights, differentiable once more by `backward`. With `frozen` the
/// weights are detached (sampling).
///
/// # Errors
/// Shape mismatch.
pub fn dynamics_and_divergence(
    net: &Mlp,
    y: &Tensor,
    t: f64,
    cond: &Tensor,
    probe: Option<&Tensor>,
    frozen: bool,
) -> Result<(Tensor, Tensor)> {
    let (b, m) = y.dims2()?;
    let tcol = Tensor::ones((b, 1), y.dtype(), y.device())?.affine(t, 0.0)?;
    let trace = net.forward_trace(&Tensor::cat(&[y, &tcol, cond], 1)?, frozen)?;
    let div = match probe {
        Some(eps) => net.input_vjp(&trace, eps, 0..m)?.mul(eps)?.sum_keepdim(1)?,
        None => {
            let mut div: Option<Tensor> = None;
            for j in 0..m {
                let unit = unit_columns(b, m, j, y.dtype())?;
                let row_j = net.input_vjp(&trace, &unit, 0..m)?.narrow(1, j, 1)?;
                div = Some(match div {
                    None => row_j,
                    Some(d) => (d + row_j)?,
                });
            }
            div.ok_or_else(|| Error::Surrogate("FFJORD needs a y dimension >= 1".into()))?
        }
    };
    Ok((trace.output, div))
}

/// `[b, m]` with ones in column `j`, zeros elsewhere.
fn unit_columns(b: usize, m: usize, j: usize, dtype: DType) -> Result<Tensor> {
    let v: Vec<f64> = (0..b * m)
        .map(|i| if i % m == j { 1.0 } else { 0.0 })
        .collect();
    Ok(Tensor::from_vec(v, (b, m), &Device::Cpu)?.to_dtype(dtype)?)
}

/// The dynamics alone (no divergence), for sampling.
fn dynamics(net: &Mlp, y: &Tensor, t: f64, cond: &Tensor) -> Result<Tensor> {
    let b = y.dims()[0];
    let tcol = Tensor::ones((b, 1), y.dtype(), y.device())?.affine(t, 0.0)?;
    Ok(net.forward(&Tensor::cat(&[y, &tcol, cond], 1)?, true)?)
}

/// `log p(y | c)` of the flow in standardized units, `[b, 1]`: integrates
/// `(y, 0)` from `t = 1` back to `(z, a0)` at `t = 0` with `solver` and
/// returns `log N(z; 0, I) + a0` (FFJORD, eq. 4). `probe` as in
/// [`dynamics_and_divergence`] (fixed over the solve).
///
/// # Errors
/// Shape mismatch; solver errors.
pub fn log_density_standardized(
    net: &Mlp,
    y: &Tensor,
    cond: &Tensor,
    solver: &Solver,
    probe: Option<&Tensor>,
    frozen: bool,
) -> Result<Tensor> {
    let (b, m) = y.dims2()?;
    let a = Tensor::zeros((b, 1), y.dtype(), y.device())?;
    let out = solver.solve(vec![y.clone(), a], 1.0, 0.0, |t, s| {
        let (f, div) = dynamics_and_divergence(net, &s[0], t, cond, probe, frozen)?;
        Ok(vec![f, div])
    })?;
    let (z, a0) = (&out[0], &out[1]);
    let log_normal = z
        .sqr()?
        .sum_keepdim(1)?
        .affine(-0.5, -(m as f64) * HALF_LN_2PI)?;
    Ok((log_normal + a0)?)
}

impl FittedFfjord {
    /// `log p(y | x, psi)` of the fitted flow in the simulator's units
    /// (exact trace), `y: [K, m]`, `x: [K, d]`, `psi: [K, n]` to `[K]`.
    ///
    /// # Errors
    /// Shape mismatch.
    pub fn log_density(&self, y: &Tensor, x: &Tensor, psi: &Tensor) -> Result<Tensor> {
        let cond = self.scaling.condition(x, psi)?;
        let (yn, log_scale) = self.scaling.y_in(y)?;
        let lp = log_density_standardized(&self.dynamics, &yn, &cond, &self.solver, None, true)?;
        Ok(lp.affine(1.0, -log_scale)?.squeeze(1)?)
    }
}

impl FittedSurrogate for FittedFfjord {
    fn noise_dim(&self) -> usize {
        self.m
    }

    /// Integrates `dy/dt = f(y, t, c)` from `y(0) = z` to `t = 1`.
    fn sample(&self, z: &Tensor, x: &Tensor, psi: &Tensor) -> Result<Tensor> {
        let cond = self.scaling.condition(x, psi)?;
        let out = self.solver.solve(vec![z.clone()], 0.0, 1.0, |t, s| {
            Ok(vec![dynamics(&self.dynamics, &s[0], t, &cond)?])
        })?;
        self.scaling.y_out(&out[0])
    }

    fn report(&self) -> FitReport {
        self.report.clone()
    }
}

impl Surrogate for Ffjord {
    fn name(&self) -> &str {
        "ffjord"
    }

    fn fit(&self, data: &Samples, rng: &mut crate::seed::Rng) -> Result<Box<dyn FittedSurrogate>> {
        Ok(Box::new(self.fit_ffjord(data, rng)?))
    }
}

impl Ffjord {
    /// [`Surrogate::fit`] with the concrete return type: maximizes the mean
    /// log-likelihood of the standardized training `y` (with instance noise
    /// `N(0, 1) * instance_noise * std` of the batch) by Adam.
    ///
    /// # Errors
    /// [`Error::Surrogate`] for fewer than 2 samples, non-finite data or a
    /// diverging fit; tensor errors.
    pub fn fit_ffjord(&self, data: &Samples, rng: &mut crate::seed::Rng) -> Result<FittedFfjord> {
        let start = Instant::now();
        let cfg = &self.settings;
        let prep = Prepared::new(data)?;
        let (m, c) = (prep.m, prep.c);
        let net = dynamics_net(m, c, &cfg.hidden, rng)?;
        let hutchinson = m > cfg.exact_trace_max_dim;
        let solver = cfg.solver()?;
        let fit = LikelihoodFit {
            lr: cfg.lr,
            betas: cfg.betas,
            schedule: Schedule {
                batch_size: cfg.batch_size,
                epochs: cfg.epochs,
                shards: cfg.shards,
                threads: cfg.threads,
            },
            instance_noise: cfg.instance_noise,
            cosine_decay: cfg.cosine_decay,
            name: "FFJORD",
        };
        let report = fit_likelihood(&prep, &net.vars(), &fit, start, rng, |y, cond, r| {
            let probe = if hutchinson {
                Some(randn(y.dims()[0], m, r)?)
            } else {
                None
            };
            log_density_standardized(&net, y, cond, &solver, probe.as_ref(), false)
        })?;
        Ok(FittedFfjord {
            dynamics: net,
            m,
            solver,
            scaling: prep.scaling()?,
            report,
        })
    }
}
