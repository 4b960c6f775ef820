//! The conditional Cramer GAN surrogate with a one-sided gradient penalty
//! (lgso.md, "GAN surrogate of the reference"; Bellemare et al. 2017 for the
//! Cramer distance, Gulrajani et al. 2017 for the penalty).
//!
//! Generator `G([z, c]) -> y` and critic `h([y, c]) -> R^256`, with the
//! condition `c = [psi, x]` standardized on the training set and `y`
//! standardized too. With real `y_r`, generated `y_g`, `y_g'` and
//! `||.||` the Euclidean norm over the critic outputs:
//! - generator loss `L_G = mean(||h(y_r) - h(y_g')|| - ||h(y_r)|| - ||h(y_g) - h(y_g')|| + ||h(y_g)||)`;
//! - critic loss `L_D = -L_G` (generated samples detached) plus
//!   `lambda * mean(max(0, ||grad_y f(y_hat)|| - 1)^2)` with
//!   `f(y) = ||h(y) - h(y_g')|| - ||h(y)||` at `y_hat = a y_r + (1 - a) y_g`,
//!   `a ~ U(0, 1)` per sample.
//!
//! The input gradient of `f` is written explicitly with
//! [`Mlp::input_vjp`], so one first-order backward gives the penalty's
//! gradient. Every random number (weights, noise, shuffles, instance noise,
//! interpolation) comes from the RNG passed to [`Surrogate::fit`].

use std::time::Instant;

use candle_core::Tensor;
use rand::Rng as _;

use super::mlp::{randn, tensor_f32, Activation, Init, Mlp};
use super::train::{
    column_std, loss_and_grads, minibatches, noise_with_std, over_shards, NetAdam, Prepared,
    Scaling, Schedule, Shard,
};
use super::{FitReport, FittedSurrogate, Surrogate};
use crate::check::{at_least, at_most, betas, non_negative, positive, MAX_SAMPLES, MAX_WIDTH};
use crate::data::Samples;
use crate::error::{Error, Result};
use crate::seed::Rng;
use serde::{Deserialize, Serialize};

/// Conditional Cramer GAN settings (lgso.md, "GAN surrogate of the
/// reference").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GanSettings {
    /// Dimension of the generator noise z. Default 150.
    pub noise_dim: usize,
    /// Generator hidden widths; the first two layers use tanh, the last
    /// leaky ReLU. Default [100, 100, 100].
    pub generator_hidden: Vec<usize>,
    /// Critic hidden widths; the first layer uses tanh, the rest leaky ReLU.
    /// Default [100, 100].
    pub critic_hidden: Vec<usize>,
    /// Critic output dimension (Cramer GAN feature space). Default 256.
    pub critic_outputs: usize,
    /// Adam learning rate of both nets. Default 8e-4.
    pub lr: f64,
    /// Adam betas of both nets. Default (0.5, 0.999).
    pub betas: [f64; 2],
    /// Minibatch size. Default 512.
    pub batch_size: usize,
    /// Passes over the training set per fit. Default 15.
    pub epochs: usize,
    /// Critic updates per minibatch. Default 1.
    pub critic_steps: usize,
    /// Generator updates per minibatch. Default 1.
    pub generator_steps: usize,
    /// Instance noise: N(0,1) * this * (per-column std of the batch) is added
    /// to real and generated y. Default 0.01.
    pub instance_noise: f64,
    /// Coefficient of the one-sided gradient penalty. Default 10.
    pub gradient_penalty: f64,
    /// Negative slope of the leaky ReLU. Default 0.01 (PyTorch's).
    pub leaky_slope: f64,
    /// Each minibatch is split into this many shards whose loss gradients
    /// are computed independently and averaged (weighted by rows), which is
    /// the gradient of the whole minibatch; only the instance-noise spread of
    /// generated samples and the random streams are per shard. The result
    /// depends on `shards`, never on `threads`. Default 2.
    pub shards: usize,
    /// Threads used by one fit, running the shards in parallel. 0 = all
    /// cores. Default 0.
    pub threads: usize,
}

impl Default for GanSettings {
    fn default() -> Self {
        GanSettings {
            noise_dim: 150,
            generator_hidden: vec![100, 100, 100],
            critic_hidden: vec![100, 100],
            critic_outputs: 256,
            lr: 8e-4,
            betas: [0.5, 0.999],
            batch_size: 512,
            epochs: 15,
            critic_steps: 1,
            generator_steps: 1,
            instance_noise: 0.01,
            gradient_penalty: 10.0,
            leaky_slope: 0.01,
            shards: 2,
            threads: 0,
        }
    }
}

impl GanSettings {
    /// Checks every setting (`[gan]` keys in messages).
    ///
    /// # Errors
    /// [`Error::Config`] naming the key and the expected form.
    pub fn validate(&self) -> Result<()> {
        let g = self;
        at_least("gan.noise_dim", g.noise_dim, 1)?;
        at_most("gan.noise_dim", g.noise_dim, MAX_WIDTH)?;
        at_most("gan.critic_outputs", g.critic_outputs, MAX_WIDTH)?;
        for (key, widths) in [
            ("gan.generator_hidden", &g.generator_hidden),
            ("gan.critic_hidden", &g.critic_hidden),
        ] {
            if let Some(&w) = widths.iter().find(|&&w| w > MAX_WIDTH) {
                return Err(Error::config(
                    key,
                    format!("widths of at most {MAX_WIDTH}"),
                    w,
                ));
            }
        }
        at_most("gan.batch_size", g.batch_size, MAX_SAMPLES)?;
        at_most("gan.shards", g.shards, 1024)?;
        if g.generator_hidden.is_empty() || g.generator_hidden.contains(&0) {
            return Err(Error::config(
                "gan.generator_hidden",
                "a non-empty list of positive widths, e.g. [100, 100, 100]",
                format!("{:?}", g.generator_hidden),
            ));
        }
        if g.critic_hidden.is_empty() || g.critic_hidden.contains(&0) {
            return Err(Error::config(
                "gan.critic_hidden",
                "a non-empty list of positive widths, e.g. [100, 100]",
                format!("{:?}", g.critic_hidden),
            ));
        }
        at_least("gan.critic_outputs", g.critic_outputs, 1)?;
        positive("gan.lr", g.lr)?;
        betas("gan.betas", g.betas)?;
        at_least("gan.batch_size", g.batch_size, 2)?;
        at_least("gan.epochs", g.epochs, 1)?;
        at_least("gan.critic_steps", g.critic_steps, 1)?;
        at_least("gan.generator_steps", g.generator_steps, 1)?;
        non_negative("gan.instance_noise", g.instance_noise)?;
        non_negative("gan.gradient_penalty", g.gradient_penalty)?;
        if !(0.0..1.0).contains(&g.leaky_slope) {
            return Err(Error::config(
                "gan.leaky_slope",
                "a number in [0, 1)",
                g.leaky_slope,
            ));
        }
        at_least("gan.shards", g.shards, 1)?;
        Ok(())
    }
}

/// The Cramer GAN surrogate family with its settings.
#[derive(Debug, Clone)]
pub struct CramerGan {
    /// Architecture and training settings (paper defaults in
    /// [`GanSettings::default`]).
    pub settings: GanSettings,
}

impl CramerGan {
    /// A GAN surrogate with the given settings.
    pub fn new(settings: GanSettings) -> Self {
        CramerGan { settings }
    }
}

/// A trained generator with the standardization of its training data.
#[derive(Debug)]
pub struct FittedGan {
    generator: Mlp,
    noise_dim: usize,
    scaling: Scaling,
    report: FitReport,
}

impl FittedSurrogate for FittedGan {
    fn noise_dim(&self) -> usize {
        self.noise_dim
    }

    fn sample(&self, z: &Tensor, x: &Tensor, psi: &Tensor) -> Result<Tensor> {
        let cond = self.scaling.condition(x, psi)?;
        let input = Tensor::cat(&[z, &cond], 1)?;
        let y = self.generator.forward(&input, true)?;
        self.scaling.y_out(&y)
    }

    fn report(&self) -> FitReport {
        self.report.clone()
    }
}

/// Row-wise Euclidean norm `[b, k] -> [b, 1]` (with 1e-12 under the root so
/// that its derivative stays finite at 0).
pub fn row_norm(t: &Tensor) -> candle_core::Result<Tensor> {
    t.sqr()?.sum_keepdim(1)?.affine(1.0, 1e-12)?.sqrt()
}

/// The Cramer generator objective per sample, averaged: `[3b, k]` critic
/// outputs of `[real; gen; gen']` to a scalar.
fn cramer_generator_loss(h: &Tensor, b: usize) -> candle_core::Result<Tensor> {
    let hr = h.narrow(0, 0, b)?;
    let hg = h.narrow(0, b, b)?;
    let hgp = h.narrow(0, 2 * b, b)?;
    let t = (row_norm(&(&hr - &hgp)?)? - row_norm(&hr)?)?;
    let t = ((t - row_norm(&(&hg - &hgp)?)?)? + row_norm(&hg)?)?;
    t.mean_all()
}

/// The networks of one fit. Shards of a minibatch are processed in parallel
/// (`&self` only); the gradients are then combined and applied by the caller.
struct Nets<'a> {
    cfg: &'a GanSettings,
    generator: Mlp,
    critic: Mlp,
    m: usize,
    c: usize,
    noise: usize,
}

impl Nets<'_> {
    /// The shard's conditions `cond: [b, c]`, and stacked twice `[2b, c]`.
    fn conds(&self, sh: &Shard) -> Result<(Tensor, Tensor)> {
        let cond = sh.condition(self.c)?;
        let cond2 = Tensor::cat(&[&cond, &cond], 0)?;
        Ok((cond, cond2))
    }

    /// Generates `2b` samples for the conditions `cond2 = [cond; cond]`.
    fn generate(&self, cond2: &Tensor, frozen: bool, rng: &mut Rng) -> Result<Tensor> {
        let z = randn(cond2.dims()[0], self.noise, rng)?;
        let input = Tensor::cat(&[&z, cond2], 1)?;
        Ok(self.generator.forward(&input, frozen)?)
    }

    fn real_with_noise(&self, sh: &Shard, rng: &mut Rng) -> Result<Tensor> {
        sh.y_with_noise(self.m, self.cfg.instance_noise, rng)
    }

    /// Critic loss `-L_G + lambda * penalty` on one shard and its gradient
    /// with respect to the critic's variables.
    fn critic_shard(&self, sh: &Shard, rng: &mut Rng) -> Result<(f64, Vec<Vec<f32>>)> {
        let (b, m, cfg) = (sh.b, self.m, self.cfg);
        let (cond, cond2) = self.conds(sh)?;
        let cond3 = Tensor::cat(&[&cond, &cond2], 0)?;
        let ygen = self.generate(&cond2, true, rng)?.detach();
        let yr = self.real_with_noise(sh, rng)?;
        let mut yg = ygen.narrow(0, 0, b)?.contiguous()?;
        let mut ygp = ygen.narrow(0, b, b)?.contiguous()?;
        if cfg.instance_noise > 0.0 {
            let g = yg.flatten_all()?.to_vec1::<f32>()?;
            yg = (&yg + noise_with_std(&column_std(&g, b, m), b, cfg.instance_noise, rng)?)?;
            let gp = ygp.flatten_all()?.to_vec1::<f32>()?;
            ygp = (&ygp + noise_with_std(&column_std(&gp, b, m), b, cfg.instance_noise, rng)?)?;
        }
        let ys = Tensor::cat(&[&yr, &yg, &ygp], 0)?;
        let h = self
            .critic
            .forward(&Tensor::cat(&[&ys, &cond3], 1)?, false)?;
        let mut loss = cramer_generator_loss(&h, b)?.neg()?;
        if cfg.gradient_penalty > 0.0 {
            let hgp = h.narrow(0, 2 * b, b)?;
            let alpha: Vec<f32> = (0..b).map(|_| rng.random::<f32>()).collect();
            let alpha = tensor_f32(alpha, b, 1)?;
            let one_minus = alpha.affine(-1.0, 1.0)?;
            let interp = (yr.broadcast_mul(&alpha)? + yg.broadcast_mul(&one_minus)?)?;
            let penalty = gradient_penalty(&self.critic, &interp, &cond, &hgp)?;
            loss = (loss + penalty.affine(cfg.gradient_penalty, 0.0)?)?;
        }
        loss_and_grads(&loss, &self.critic.vars())
    }

    /// Generator loss `L_G` on one shard and its gradient with respect to the
    /// generator's variables (the critic is frozen).
    fn generator_shard(&self, sh: &Shard, rng: &mut Rng) -> Result<(f64, Vec<Vec<f32>>)> {
        let (cond, cond2) = self.conds(sh)?;
        let ygen = self.generate(&cond2, false, rng)?;
        let yr = self.real_with_noise(sh, rng)?;
        // h(y_r) does not depend on the generator: evaluate it untracked so
        // that backward only walks the critic for the generated rows.
        let h_real = self.critic.forward(&Tensor::cat(&[&yr, &cond], 1)?, true)?;
        let h_gen = self
            .critic
            .forward(&Tensor::cat(&[&ygen, &cond2], 1)?, true)?;
        let h = Tensor::cat(&[&h_real, &h_gen], 0)?;
        let loss = cramer_generator_loss(&h, sh.b)?;
        loss_and_grads(&loss, &self.generator.vars())
    }
}

/// The input gradient `grad_y f(y)` of the Cramer critic's surrogate
/// `f(y) = ||h(y) - h(y_g')|| - ||h(y)||` (lgso.md), one row per sample:
/// `y: [b, m]` with conditions `cond: [b, c]`, `h_gen_prime = h(y_g')`,
/// `[b, k]`, to `[b, m]`. Written as an explicit expression
/// ([`Mlp::input_vjp`]), so it can be differentiated once more with respect
/// to the critic's weights.
///
/// # Errors
/// Shape mismatch.
pub fn cramer_critic_input_gradient(
    critic: &Mlp,
    y: &Tensor,
    cond: &Tensor,
    h_gen_prime: &Tensor,
) -> Result<Tensor> {
    let m = y.dims()[1];
    let trace = critic.forward_trace(&Tensor::cat(&[y, cond], 1)?, false)?;
    let hi = &trace.output;
    // df/dh(y) = (h(y) - h(y_g')) / ||h(y_g') - h(y)|| - h(y) / ||h(y)||
    let diff = (hi - h_gen_prime)?;
    let v = (diff.broadcast_div(&row_norm(&diff)?)? - hi.broadcast_div(&row_norm(hi)?)?)?;
    Ok(critic.input_vjp(&trace, &v, 0..m)?)
}

/// The one-sided gradient penalty `mean(max(0, ||grad_y f(y_hat)|| - 1)^2)`
/// (lgso.md; Gulrajani et al. 2017 with the one-sided variant of the
/// reference) at the interpolates `y_hat` (`interp: [b, m]`), a scalar
/// differentiable once with respect to the critic's weights.
///
/// # Errors
/// Shape mismatch.
pub fn gradient_penalty(
    critic: &Mlp,
    interp: &Tensor,
    cond: &Tensor,
    h_gen_prime: &Tensor,
) -> Result<Tensor> {
    let grad = cramer_critic_input_gradient(critic, interp, cond, h_gen_prime)?;
    let excess = row_norm(&grad)?.affine(1.0, -1.0)?.relu()?;
    Ok(excess.sqr()?.mean_all()?)
}

/// Layer activations of the reference nets: the generator uses tanh on all
/// hidden layers but the last, which is leaky ReLU; the critic uses tanh on
/// the first hidden layer and leaky ReLU after.
fn activations(hidden: usize, tanh_layers: usize, slope: f64) -> Vec<Activation> {
    let mut a: Vec<Activation> = (0..hidden)
        .map(|l| {
            if l < tanh_layers {
                Activation::Tanh
            } else {
                Activation::LeakyRelu(slope)
            }
        })
        .collect();
    a.push(Activation::Identity);
    a
}

impl Surrogate for CramerGan {
    fn name(&self) -> &str {
        "gan"
    }

    fn fit(&self, data: &Samples, rng: &mut Rng) -> Result<Box<dyn FittedSurrogate>> {
        Ok(Box::new(self.fit_gan(data, rng)?))
    }
}

impl CramerGan {
    /// [`Surrogate::fit`] with the concrete return type.
    ///
    /// # Errors
    /// [`Error::Surrogate`] for empty or non-finite data; tensor errors.
    pub fn fit_gan(&self, data: &Samples, rng: &mut Rng) -> Result<FittedGan> {
        let start = Instant::now();
        let cfg = &self.settings;
        let prep = Prepared::new(data)?;
        let (m, c) = (prep.m, prep.c);
        let noise = cfg.noise_dim;
        let mut gw = vec![noise + c];
        gw.extend(&cfg.generator_hidden);
        gw.push(m);
        let gh = cfg.generator_hidden.len();
        let generator = Mlp::new(
            &gw,
            &activations(gh, gh - 1, cfg.leaky_slope),
            Init::TorchDefault,
            rng,
        )?;
        let mut cw = vec![m + c];
        cw.extend(&cfg.critic_hidden);
        cw.push(cfg.critic_outputs);
        let critic = Mlp::new(
            &cw,
            &activations(cfg.critic_hidden.len(), 1, cfg.leaky_slope),
            Init::XavierNormal,
            rng,
        )?;
        let mut gen_opt = NetAdam::new(generator.vars(), cfg.lr, cfg.betas)?;
        let mut critic_opt = NetAdam::new(critic.vars(), cfg.lr, cfg.betas)?;
        let nets = Nets {
            cfg,
            generator,
            critic,
            m,
            c,
            noise,
        };
        let schedule = Schedule {
            batch_size: cfg.batch_size,
            epochs: cfg.epochs,
            shards: cfg.shards,
            threads: cfg.threads,
        };
        let (steps, last_loss) = minibatches(&prep, schedule, rng, |pool, shards, rngs| {
            for _ in 0..cfg.critic_steps {
                let (_, g) = over_shards(pool, shards, rngs, |s, r| nets.critic_shard(s, r))?;
                critic_opt.step(&g)?;
            }
            let mut loss = 0.0;
            for _ in 0..cfg.generator_steps {
                let (l, g) = over_shards(pool, shards, rngs, |s, r| nets.generator_shard(s, r))?;
                gen_opt.step(&g)?;
                loss += l;
            }
            Ok((
                loss / cfg.generator_steps as f64,
                cfg.critic_steps + cfg.generator_steps,
            ))
        })?;
        let generator = nets.generator;
        if !last_loss.is_finite() {
            return Err(Error::Surrogate(format!(
                "GAN training diverged (generator loss {last_loss})"
            )));
        }
        Ok(FittedGan {
            generator,
            noise_dim: noise,
            scaling: prep.scaling()?,
            report: FitReport {
                train_samples: prep.k,
                steps,
                seconds: start.elapsed().as_secs_f64(),
                final_loss: last_loss,
            },
        })
    }
}
