//! Surrogates: conditional generative models `y = S_theta(z, x, psi)`,
//! `z ~ N(0, I)`, trained on the samples of the trust region and then used,
//! frozen, to estimate `grad_psi E[R]` by the reparameterization trick
//! (paper, section 3, eq. 3-4).
//!
//! A [`Surrogate`] is a configuration that can [`Surrogate::fit`] data; the
//! result is a different type, a [`FittedSurrogate`], whose
//! [`FittedSurrogate::sample`] is pure and differentiable in psi. An
//! unfitted model cannot be sampled.
//!
//! Families (`[lgso] surrogate`): [`CramerGan`] (`gan`, the paper's GAN),
//! [`Ffjord`] (`ffjord`, a conditional continuous normalizing flow) and
//! [`Mdn`] (`mdn`, a conditional Gaussian-mixture density network with
//! implicit reparameterization); `train.rs` holds what their fits share.

use candle_core::{Tensor, Var};

use crate::data::{Matrix, Samples};
use crate::error::{Error, Result};
use crate::problem::Objective;
use crate::seed::Rng;

pub mod activation;
pub mod ffjord;
pub mod gan;
pub mod mdn;
pub mod mlp;
pub mod ode;
pub(crate) mod train;

pub use ffjord::{Ffjord, FfjordSettings, FittedFfjord};
pub use gan::{CramerGan, FittedGan, GanSettings};
pub use mdn::{FittedMdn, Mdn, MdnSettings};

/// The surrogate families `[lgso] surrogate` may name (the names of
/// [`SurrogateKind::ALL`]).
pub const SURROGATES: [&str; 3] = ["gan", "ffjord", "mdn"];

/// A surrogate family (`[lgso] surrogate`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SurrogateKind {
    /// The conditional Cramer GAN of the paper ([`CramerGan`]).
    Gan,
    /// A conditional continuous normalizing flow ([`Ffjord`]).
    Ffjord,
    /// A conditional Gaussian-mixture density network ([`Mdn`]).
    Mdn,
}

impl SurrogateKind {
    /// Every family, in the order of [`SURROGATES`].
    pub const ALL: [SurrogateKind; 3] = [
        SurrogateKind::Gan,
        SurrogateKind::Ffjord,
        SurrogateKind::Mdn,
    ];

    /// The family's name, e.g. `mdn`.
    pub fn name(self) -> &'static str {
        SURROGATES[self as usize]
    }

    /// The family called `name`: the one place where surrogate names are
    /// matched.
    ///
    /// # Errors
    /// [`Error::Config`] (key `lgso.surrogate`) listing [`SURROGATES`].
    pub fn parse(name: &str) -> Result<SurrogateKind> {
        SURROGATES
            .iter()
            .position(|s| *s == name)
            .map(|i| SurrogateKind::ALL[i])
            .ok_or_else(|| {
                Error::config(
                    "lgso.surrogate",
                    format!("one of {}", SURROGATES.join(", ")),
                    format!("{name:?}"),
                )
            })
    }
}

/// What one fit did, for the trace and benchmarks.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct FitReport {
    /// Samples trained on.
    pub train_samples: usize,
    /// Optimizer steps taken (minibatches x (critic + generator) for a GAN).
    pub steps: usize,
    /// Wall-clock seconds of the fit.
    pub seconds: f64,
    /// Mean training loss of the last epoch (model specific; the generator
    /// loss for a GAN).
    pub final_loss: f64,
}

/// A surrogate family with its settings: fits a fresh model to samples.
pub trait Surrogate: Send + Sync {
    /// Name used in messages and traces, e.g. `gan`.
    fn name(&self) -> &str;

    /// Trains a fresh model on `data` (`psi: [k, n]`, `x: [k, d]`,
    /// `y: [k, m]`); every random draw comes from `rng`.
    ///
    /// # Errors
    /// [`Error::Surrogate`] for empty or non-finite data; tensor errors.
    fn fit(&self, data: &Samples, rng: &mut Rng) -> Result<Box<dyn FittedSurrogate>>;
}

/// A trained surrogate.
pub trait FittedSurrogate: Send {
    /// Dimension of the noise `z`.
    fn noise_dim(&self) -> usize;

    /// Draws `y = S(z, x, psi)` in the simulator's units: `z: [K, noise]`,
    /// `x: [K, d]`, `psi: [K, n]` (f32, original units) to `y: [K, m]`.
    /// Differentiable with respect to `psi` (and `x`).
    ///
    /// # Errors
    /// Shape mismatch.
    fn sample(&self, z: &Tensor, x: &Tensor, psi: &Tensor) -> Result<Tensor>;

    /// What the fit did.
    fn report(&self) -> FitReport;
}

/// Per-column standardization `(v - mean) / std` fitted on training data
/// (lgso.md step 5). Columns with zero spread map to 0, as in the
/// reference (`NaN -> 0`).
#[derive(Debug, Clone, PartialEq)]
pub struct Standardizer {
    /// Column means.
    pub mean: Vec<f64>,
    /// Column standard deviations (unbiased, as `torch.std`).
    pub std: Vec<f64>,
}

impl Standardizer {
    /// Fits means and unbiased standard deviations of the columns of `m`.
    pub fn fit(m: &Matrix) -> Self {
        let (k, c) = (m.rows(), m.cols());
        let mut mean = vec![0.0; c];
        for i in 0..k {
            for (j, v) in m.row(i).iter().enumerate() {
                mean[j] += v;
            }
        }
        mean.iter_mut().for_each(|v| *v /= k.max(1) as f64);
        let mut var = vec![0.0; c];
        for i in 0..k {
            for (j, v) in m.row(i).iter().enumerate() {
                var[j] += (v - mean[j]) * (v - mean[j]);
            }
        }
        let std = var
            .iter()
            .map(|v| (v / (k.max(2) - 1) as f64).sqrt())
            .collect();
        Standardizer { mean, std }
    }

    /// `1 / std`, or 0 where the std is 0 (so the column standardizes to 0).
    pub fn inv_std(&self) -> Vec<f64> {
        self.std
            .iter()
            .map(|&s| if s > 0.0 { 1.0 / s } else { 0.0 })
            .collect()
    }

    /// The std, with zeros replaced by 1 (for un-standardizing outputs).
    pub fn scale(&self) -> Vec<f64> {
        self.std
            .iter()
            .map(|&s| if s > 0.0 { s } else { 1.0 })
            .collect()
    }
}

/// The pathwise estimate of `E[R](psi)` and `grad_psi E[R](psi)` through a
/// frozen surrogate (paper, eq. 4; lgso.md step 6): with `K` pairs
/// `(z_k, x_k)`, `z_k ~ N(0, I)` drawn from `rng` and `x_k` the rows of `x`
/// (`[K, d]`, drawn by the caller from `q(x)`),
/// `grad = d/dpsi (1/K) sum_k R(S(z_k, x_k, psi), x_k, psi)`.
///
/// Returns `(value, gradient [n])`.
///
/// # Errors
/// Tensor errors; [`Error::Surrogate`] if the gradient is not finite.
pub fn pathwise_gradient(
    fitted: &dyn FittedSurrogate,
    objective: &dyn Objective,
    psi: &[f64],
    x: &Matrix,
    rng: &mut Rng,
) -> Result<(f64, Vec<f64>)> {
    let k = x.rows();
    let n = psi.len();
    let psi_var = Var::from_vec(
        psi.iter().map(|&v| v as f32).collect::<Vec<f32>>(),
        (1, n),
        &candle_core::Device::Cpu,
    )?;
    let psi_b = psi_var.as_tensor().broadcast_as((k, n))?;
    let z = mlp::randn(k, fitted.noise_dim(), rng)?;
    let xt = mlp::tensor_f32(x.to_f32(), k, x.cols())?;
    let y = fitted.sample(&z, &xt, &psi_b)?;
    let r = objective.per_sample(&y, &xt, &psi_b)?;
    let loss = r.mean_all()?;
    let value = loss.to_scalar::<f32>()? as f64;
    let grads = loss.backward()?;
    let g = grads
        .get(psi_var.as_tensor())
        .ok_or_else(|| {
            Error::Surrogate("the objective does not depend on psi through the surrogate".into())
        })?
        .flatten_all()?
        .to_vec1::<f32>()?;
    let g: Vec<f64> = g.into_iter().map(f64::from).collect();
    if g.iter().any(|v| !v.is_finite()) || !value.is_finite() {
        return Err(Error::Surrogate(format!(
            "non-finite surrogate gradient at psi = {psi:?}"
        )));
    }
    Ok((value, g))
}
