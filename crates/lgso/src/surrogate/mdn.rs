//! The mixture-density-network surrogate: a conditional Gaussian mixture on
//! each y coordinate (Bishop, "Mixture Density Networks", 1994), made
//! autoregressive over the coordinates, sampled by the inverse CDF with
//! implicit reparameterization gradients (Figurnov, Mohamed & Mnih,
//! "Implicit Reparameterization Gradients", NeurIPS 2018).
//!
//! With `y` and the condition `c = [psi, x]` standardized on the training
//! set, coordinate `j` has the density
//!
//! `p(y_j | y_<j, c) = sum_k w_k N(y_j; mu_k, s_k^2)`,
//!
//! where an MLP `[y_<j, c] -> hidden (tanh) -> 3K` gives the mixture logits
//! (`w = softmax`), the means and `ln s` (clamped to `[-7, 5]`). Training
//! maximizes the exact log-likelihood by Adam: no ODE, no adversary.
//!
//! Sampling: with `u_j = Phi(z_j)`, `z ~ N(0, I_m)`, `y_j` solves
//! `F_j(y_j) = u_j` for the mixture CDF `F_j(y) = sum_k w_k Phi((y - mu_k) / s_k)`
//! (bisection in f64). The root is not a differentiable expression, but the
//! implicit function theorem gives its derivative with respect to any
//! parameter theta of `F` (Figurnov et al., eq. 5):
//! `dy/dtheta = -(dF/dtheta)(y) / p(y)`. The sample is therefore returned
//! as `y = y0 - (F(y0) - stopgrad(F(y0))) / stopgrad(p(y0))`, whose value
//! is the root `y0` and whose gradient is exactly that derivative; psi
//! (through `c`) and the earlier coordinates reach it through `F`. Unlike
//! sampling a component and then a Gaussian, this gradient includes the
//! effect of psi on the mixture weights, so the pathwise L-GSO gradient is
//! unbiased for a multimodal simulator such as three hump.

use std::time::Instant;

use candle_core::cpu::erf::erfc_f64;
use candle_core::Tensor;

use super::mlp::{tensor_f32, Activation, Init, Mlp};
use super::train::{fit_likelihood, LikelihoodFit, Prepared, Scaling, Schedule, HALF_LN_2PI};
use super::{FitReport, FittedSurrogate, Surrogate};
use crate::check::{
    at_least, at_most, betas, non_negative, positive, widths, MAX_SAMPLES, MAX_WIDTH,
};
use crate::data::Samples;
use crate::error::{Error, Result};
use crate::seed::Rng;
use serde::{Deserialize, Serialize};

/// Mixture-density-network surrogate settings
/// ([`crate::surrogate::mdn`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MdnSettings {
    /// Gaussian components per y coordinate. Default 5.
    pub components: usize,
    /// Hidden widths of each coordinate's network, tanh. Default [64, 64].
    pub hidden: Vec<usize>,
    /// Adam learning rate at the start of the fit. Default 3e-3.
    pub lr: f64,
    /// Adam betas. Default (0.9, 0.999).
    pub betas: [f64; 2],
    /// Minibatch size. Default 512.
    pub batch_size: usize,
    /// Passes over the training set per fit. Default 30.
    pub epochs: usize,
    /// Instance noise, as [`FfjordSettings::instance_noise`](super::FfjordSettings::instance_noise). Default 0.01.
    pub instance_noise: f64,
    /// Decay the learning rate from `lr` to 0 along a cosine over the fit
    /// (without it the last iterate keeps Adam's minibatch noise). Default
    /// true.
    pub cosine_decay: bool,
    /// Shards per minibatch, as [`GanSettings::shards`](super::GanSettings::shards). Default 2.
    pub shards: usize,
    /// Threads of one fit (0 = all cores). Default 0.
    pub threads: usize,
}

impl Default for MdnSettings {
    fn default() -> Self {
        MdnSettings {
            components: 5,
            hidden: vec![64, 64],
            lr: 3e-3,
            betas: [0.9, 0.999],
            batch_size: 512,
            epochs: 30,
            instance_noise: 0.01,
            cosine_decay: true,
            shards: 2,
            threads: 0,
        }
    }
}

impl MdnSettings {
    /// Checks every setting (`[mdn]` keys in messages).
    ///
    /// # Errors
    /// [`Error::Config`] naming the key and the expected form.
    pub fn validate(&self) -> Result<()> {
        let d = self;
        at_least("mdn.components", d.components, 1)?;
        at_most("mdn.components", d.components, MAX_WIDTH)?;
        widths("mdn.hidden", &d.hidden)?;
        positive("mdn.lr", d.lr)?;
        betas("mdn.betas", d.betas)?;
        at_least("mdn.batch_size", d.batch_size, 2)?;
        at_most("mdn.batch_size", d.batch_size, MAX_SAMPLES)?;
        at_least("mdn.epochs", d.epochs, 1)?;
        non_negative("mdn.instance_noise", d.instance_noise)?;
        at_least("mdn.shards", d.shards, 1)?;
        at_most("mdn.shards", d.shards, 1024)?;
        Ok(())
    }
}

/// Bounds of `ln s` of a mixture component (standardized units).
const LOG_SCALE_RANGE: (f64, f64) = (-7.0, 5.0);

/// The mixture-density-network surrogate family with its settings.
#[derive(Debug, Clone)]
pub struct Mdn {
    /// Architecture and training settings (defaults in
    /// [`MdnSettings::default`]).
    pub settings: MdnSettings,
}

impl Mdn {
    /// An MDN surrogate with the given settings.
    pub fn new(settings: MdnSettings) -> Self {
        Mdn { settings }
    }
}

/// A trained MDN: one network per y coordinate, with the standardization of
/// its training data.
#[derive(Debug)]
pub struct FittedMdn {
    nets: Vec<Mlp>,
    components: usize,
    scaling: Scaling,
    report: FitReport,
}

/// One row's mixture `(weights, means, scales)`, each of length `K`.
type Components = (Vec<f64>, Vec<f64>, Vec<f64>);

/// The mixture of one coordinate: logits, means and scales, each `[b, K]`.
struct Mixture {
    log_w: Tensor,
    mu: Tensor,
    log_s: Tensor,
}

/// The mixture parameters of coordinate `j` for inputs `[y_<j, c]`
/// (`input: [b, j + c]`).
fn mixture(net: &Mlp, input: &Tensor, k: usize, frozen: bool) -> Result<Mixture> {
    let out = net.forward(input, frozen)?;
    Ok(Mixture {
        log_w: candle_nn::ops::log_softmax(&out.narrow(1, 0, k)?, 1)?,
        mu: out.narrow(1, k, k)?,
        log_s: out
            .narrow(1, 2 * k, k)?
            .clamp(LOG_SCALE_RANGE.0, LOG_SCALE_RANGE.1)?,
    })
}

impl Mixture {
    /// `ln p(y)` per row, `y: [b, 1]` to `[b, 1]`.
    fn log_density(&self, y: &Tensor) -> Result<Tensor> {
        let u = y.broadcast_sub(&self.mu)?.mul(&self.log_s.neg()?.exp()?)?;
        let terms = ((&self.log_w - u.sqr()?.affine(0.5, HALF_LN_2PI)?)? - &self.log_s)?;
        Ok(terms.log_sum_exp(1)?.unsqueeze(1)?)
    }

    /// The CDF `F(y) = sum_k w_k Phi((y - mu_k) / s_k)` per row as a tracked
    /// expression, `y: [b, 1]` to `[b, 1]`.
    fn cdf(&self, y: &Tensor) -> Result<Tensor> {
        let u = y.broadcast_sub(&self.mu)?.mul(&self.log_s.neg()?.exp()?)?;
        let phi = u
            .affine(std::f64::consts::FRAC_1_SQRT_2, 0.0)?
            .erf()?
            .affine(0.5, 0.5)?;
        Ok(phi.mul(&self.log_w.exp()?)?.sum_keepdim(1)?)
    }

    /// Per row: `(w, mu, s)` as f64 vectors of length `K`.
    fn plain(&self) -> Result<Vec<Components>> {
        let w = self
            .log_w
            .exp()?
            .to_dtype(candle_core::DType::F64)?
            .to_vec2::<f64>()?;
        let mu = self
            .mu
            .to_dtype(candle_core::DType::F64)?
            .to_vec2::<f64>()?;
        let s = self
            .log_s
            .exp()?
            .to_dtype(candle_core::DType::F64)?
            .to_vec2::<f64>()?;
        Ok(w.into_iter()
            .zip(mu)
            .zip(s)
            .map(|((w, mu), s)| (w, mu, s))
            .collect())
    }
}

/// The standard normal CDF.
pub fn normal_cdf(x: f64) -> f64 {
    0.5 * erfc_f64(-x * std::f64::consts::FRAC_1_SQRT_2)
}

/// The root of `sum_k w_k Phi((y - mu_k) / s_k) = u` by bisection in f64
/// (the CDF is increasing; the bracket `[min mu - 40 s, max mu + 40 s]`
/// holds every `u` in `(0, 1)` representable here), and the mixture density
/// at the root.
pub fn mixture_quantile(w: &[f64], mu: &[f64], s: &[f64], u: f64) -> (f64, f64) {
    let cdf = |y: f64| -> f64 {
        w.iter()
            .zip(mu)
            .zip(s)
            .map(|((w, m), s)| w * normal_cdf((y - m) / s))
            .sum()
    };
    let mut lo = f64::INFINITY;
    let mut hi = f64::NEG_INFINITY;
    for (m, s) in mu.iter().zip(s) {
        lo = lo.min(m - 40.0 * s);
        hi = hi.max(m + 40.0 * s);
    }
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if mid <= lo || mid >= hi {
            break; // the bracket is as small as f64 allows
        }
        if cdf(mid) < u {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    let y = 0.5 * (lo + hi);
    let density: f64 = w
        .iter()
        .zip(mu)
        .zip(s)
        .map(|((w, m), s)| {
            let v = (y - m) / s;
            w * (-0.5 * v * v - HALF_LN_2PI).exp() / s
        })
        .sum();
    (y, density)
}

impl FittedMdn {
    /// `log p(y | x, psi)` in the simulator's units, `y: [K, m]`,
    /// `x: [K, d]`, `psi: [K, n]` to `[K]`.
    ///
    /// # Errors
    /// Shape mismatch.
    pub fn log_density(&self, y: &Tensor, x: &Tensor, psi: &Tensor) -> Result<Tensor> {
        let cond = self.scaling.condition(x, psi)?;
        let (yn, log_scale) = self.scaling.y_in(y)?;
        let lp = log_density_standardized(&self.nets, &yn, &cond, self.components, true)?;
        Ok(lp.affine(1.0, -log_scale)?.squeeze(1)?)
    }
}

/// `sum_j ln p(y_j | y_<j, c)` per row in standardized units, `[b, 1]`.
fn log_density_standardized(
    nets: &[Mlp],
    y: &Tensor,
    cond: &Tensor,
    k: usize,
    frozen: bool,
) -> Result<Tensor> {
    let mut total: Option<Tensor> = None;
    for (j, net) in nets.iter().enumerate() {
        let input = Tensor::cat(&[&y.narrow(1, 0, j)?, cond], 1)?;
        let lp = mixture(net, &input, k, frozen)?.log_density(&y.narrow(1, j, 1)?)?;
        total = Some(match total {
            None => lp,
            Some(t) => (t + lp)?,
        });
    }
    total.ok_or_else(|| Error::Surrogate("an MDN needs a y dimension >= 1".into()))
}

impl FittedSurrogate for FittedMdn {
    fn noise_dim(&self) -> usize {
        self.nets.len()
    }

    fn sample(&self, z: &Tensor, x: &Tensor, psi: &Tensor) -> Result<Tensor> {
        let cond = self.scaling.condition(x, psi)?;
        let (rows, m) = z.dims2()?;
        let zs = z.to_dtype(candle_core::DType::F64)?.to_vec2::<f64>()?;
        let mut ys: Vec<Tensor> = Vec::with_capacity(m);
        for (j, net) in self.nets.iter().enumerate() {
            let prev = if j == 0 {
                cond.narrow(1, 0, 0)?
            } else {
                Tensor::cat(&ys, 1)?
            };
            let mix = mixture(
                net,
                &Tensor::cat(&[&prev, &cond], 1)?,
                self.components,
                true,
            )?;
            let mut root = Vec::with_capacity(rows);
            let mut inv_density = Vec::with_capacity(rows);
            for (row, (w, mu, s)) in mix.plain()?.iter().enumerate() {
                let u = normal_cdf(zs[row][j]).clamp(1e-12, 1.0 - 1e-12);
                let (y0, p) = mixture_quantile(w, mu, s, u);
                root.push(y0 as f32);
                inv_density.push((1.0 / p.max(1e-30)) as f32);
            }
            let y0 = tensor_f32(root, rows, 1)?.to_dtype(cond.dtype())?;
            let inv_p = tensor_f32(inv_density, rows, 1)?.to_dtype(cond.dtype())?;
            let f = mix.cdf(&y0)?;
            // value y0, gradient -(dF/dtheta) / p (implicit reparameterization)
            let yj = (&y0 - (&f - f.detach())?.mul(&inv_p)?)?;
            ys.push(yj);
        }
        self.scaling.y_out(&Tensor::cat(&ys, 1)?)
    }

    fn report(&self) -> FitReport {
        self.report.clone()
    }
}

impl Surrogate for Mdn {
    fn name(&self) -> &str {
        "mdn"
    }

    fn fit(&self, data: &Samples, rng: &mut Rng) -> Result<Box<dyn FittedSurrogate>> {
        Ok(Box::new(self.fit_mdn(data, rng)?))
    }
}

impl Mdn {
    /// [`Surrogate::fit`] with the concrete return type: maximizes the mean
    /// log-likelihood of the standardized training `y` (with instance noise
    /// `N(0, 1) * instance_noise * std` of the batch) by Adam.
    ///
    /// # Errors
    /// [`Error::Surrogate`] for fewer than 2 samples, non-finite data or a
    /// diverging fit; tensor errors.
    pub fn fit_mdn(&self, data: &Samples, rng: &mut Rng) -> Result<FittedMdn> {
        let start = Instant::now();
        let cfg = &self.settings;
        let prep = Prepared::new(data)?;
        let (m, c, k) = (prep.m, prep.c, cfg.components);
        let nets = (0..m)
            .map(|j| {
                let mut widths = vec![j + c];
                widths.extend(&cfg.hidden);
                widths.push(3 * k);
                let mut acts = vec![Activation::Tanh; cfg.hidden.len()];
                acts.push(Activation::Identity);
                Ok(Mlp::new(&widths, &acts, Init::TorchDefault, rng)?)
            })
            .collect::<Result<Vec<Mlp>>>()?;
        let vars: Vec<_> = nets.iter().flat_map(Mlp::vars).collect();
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
            name: "MDN",
        };
        let report = fit_likelihood(&prep, &vars, &fit, start, rng, |y, cond, _| {
            log_density_standardized(&nets, y, cond, k, false)
        })?;
        Ok(FittedMdn {
            nets,
            components: k,
            scaling: prep.scaling()?,
            report,
        })
    }
}
