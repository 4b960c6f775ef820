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

use candle_core::{Tensor, Var};
use rand::seq::SliceRandom;
use rand::Rng as _;
use rand_distr::{Distribution, StandardNormal};

use super::mlp::{randn, tensor_f32, Activation, Init, Mlp};
use super::{FitReport, FittedSurrogate, Standardizer, Surrogate};
use crate::config::GanConfig;
use crate::data::{Matrix, Samples};
use crate::error::{Error, Result};
use crate::seed::Rng;

/// The Cramer GAN surrogate family with its settings.
#[derive(Debug, Clone)]
pub struct CramerGan {
    /// Architecture and training settings (paper defaults in
    /// [`GanConfig::default`]).
    pub config: GanConfig,
}

impl CramerGan {
    /// A GAN surrogate with the given settings.
    pub fn new(config: GanConfig) -> Self {
        CramerGan { config }
    }
}

/// A trained generator with the standardization of its training data.
#[derive(Debug)]
pub struct FittedGan {
    generator: Mlp,
    noise_dim: usize,
    /// Mean of the condition columns `[psi, x]`, `[1, n + d]`.
    cond_mean: Tensor,
    /// 1/std of the condition columns (0 for constant columns), `[1, n + d]`.
    cond_inv_std: Tensor,
    y_mean: Tensor,
    y_scale: Tensor,
    report: FitReport,
}

impl FittedSurrogate for FittedGan {
    fn noise_dim(&self) -> usize {
        self.noise_dim
    }

    fn sample(&self, z: &Tensor, x: &Tensor, psi: &Tensor) -> Result<Tensor> {
        let cond = Tensor::cat(&[psi, x], 1)?
            .broadcast_sub(&self.cond_mean)?
            .broadcast_mul(&self.cond_inv_std)?;
        let input = Tensor::cat(&[z, &cond], 1)?;
        let y = self.generator.forward(&input, true)?;
        Ok(y.broadcast_mul(&self.y_scale)?
            .broadcast_add(&self.y_mean)?)
    }

    fn report(&self) -> FitReport {
        self.report.clone()
    }
}

/// Adam (PyTorch's update, no weight decay) on a network's f32 variables,
/// with the moments kept as plain vectors: one pass per tensor instead of a
/// dozen tensor operations.
struct NetAdam {
    vars: Vec<Var>,
    theta: Vec<Vec<f32>>,
    m: Vec<Vec<f32>>,
    v: Vec<Vec<f32>>,
    t: i32,
    lr: f32,
    b1: f32,
    b2: f32,
}

impl NetAdam {
    fn new(vars: Vec<Var>, lr: f64, betas: [f64; 2]) -> Result<Self> {
        let theta = vars
            .iter()
            .map(|v| v.as_tensor().flatten_all()?.to_vec1::<f32>())
            .collect::<candle_core::Result<Vec<_>>>()?;
        let zeros: Vec<Vec<f32>> = theta.iter().map(|t| vec![0.0; t.len()]).collect();
        Ok(NetAdam {
            vars,
            m: zeros.clone(),
            v: zeros,
            theta,
            t: 0,
            lr: lr as f32,
            b1: betas[0] as f32,
            b2: betas[1] as f32,
        })
    }

    /// One Adam step with gradients given as flat vectors, one per variable.
    fn step(&mut self, grads: &[Vec<f32>]) -> Result<()> {
        self.t += 1;
        let c1 = 1.0 - self.b1.powi(self.t);
        let c2 = 1.0 - self.b2.powi(self.t);
        let step = self.lr / c1;
        let c2s = c2.sqrt();
        for (i, var) in self.vars.iter().enumerate() {
            let g = &grads[i];
            let (theta, m, v) = (&mut self.theta[i], &mut self.m[i], &mut self.v[i]);
            for j in 0..g.len() {
                let gj = g[j];
                m[j] = self.b1 * m[j] + (1.0 - self.b1) * gj;
                v[j] = self.b2 * v[j] + (1.0 - self.b2) * gj * gj;
                // PyTorch: theta -= lr/c1 * m / (sqrt(v)/sqrt(c2) + eps)
                theta[j] -= step * m[j] / (v[j].sqrt() / c2s + 1e-8);
            }
            var.set(&Tensor::from_slice(theta, var.shape(), var.device())?)?;
        }
        Ok(())
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

/// Per-column standard deviation (unbiased) of a `[b, m]` row-major block.
fn column_std(data: &[f32], b: usize, m: usize) -> Vec<f32> {
    let mut out = vec![0.0f32; m];
    if b < 2 {
        return out;
    }
    for (j, o) in out.iter_mut().enumerate() {
        let mean = (0..b).map(|i| data[i * m + j] as f64).sum::<f64>() / b as f64;
        let var = (0..b)
            .map(|i| (data[i * m + j] as f64 - mean).powi(2))
            .sum::<f64>()
            / (b - 1) as f64;
        *o = var.sqrt() as f32;
    }
    out
}

/// One shard of a minibatch: `b` rows of standardized `y` (`[b, m]`) and
/// condition (`[b, c]`), with the per-column std of the whole batch's real
/// `y` for instance noise.
struct Shard<'a> {
    y: &'a [f32],
    cond: &'a [f32],
    b: usize,
    y_std: &'a [f32],
}

/// The networks of one fit. Shards of a minibatch are processed in parallel
/// (`&self` only); the gradients are then combined and applied by the caller.
struct Nets<'a> {
    cfg: &'a GanConfig,
    generator: Mlp,
    critic: Mlp,
    m: usize,
    c: usize,
    noise: usize,
}

/// Gradients of a loss with respect to `vars`, as flat vectors (zeros for a
/// variable the loss does not reach).
fn flat_grads(grads: &candle_core::backprop::GradStore, vars: &[Var]) -> Result<Vec<Vec<f32>>> {
    vars.iter()
        .map(|v| match grads.get(v.as_tensor()) {
            Some(g) => Ok(g.flatten_all()?.to_vec1::<f32>()?),
            None => Ok(vec![0.0; v.elem_count()]),
        })
        .collect()
}

/// `N(0, 1) * scale * std_j` noise for a `[b, m]` batch.
fn noise_with_std(std: &[f32], b: usize, scale: f64, rng: &mut Rng) -> Result<Tensor> {
    let m = std.len();
    let mut out = Vec::with_capacity(b * m);
    for _ in 0..b {
        for s in std {
            let z: f32 = StandardNormal.sample(rng);
            out.push(z * s * scale as f32);
        }
    }
    Ok(tensor_f32(out, b, m)?)
}

impl Nets<'_> {
    /// The shard's conditions `cond: [b, c]`, and stacked twice `[2b, c]`.
    fn conds(&self, sh: &Shard) -> Result<(Tensor, Tensor)> {
        let cond = tensor_f32(sh.cond.to_vec(), sh.b, self.c)?;
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
        let yr = tensor_f32(sh.y.to_vec(), sh.b, self.m)?;
        if self.cfg.instance_noise > 0.0 {
            Ok((&yr + noise_with_std(sh.y_std, sh.b, self.cfg.instance_noise, rng)?)?)
        } else {
            Ok(yr)
        }
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
        let grads = loss.backward()?;
        Ok((
            loss.to_scalar::<f32>()? as f64,
            flat_grads(&grads, &self.critic.vars())?,
        ))
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
        let grads = loss.backward()?;
        Ok((
            loss.to_scalar::<f32>()? as f64,
            flat_grads(&grads, &self.generator.vars())?,
        ))
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

/// Runs `f` on every shard (in parallel on `pool`) and combines the results:
/// the loss and gradients of the whole minibatch are the shard values
/// weighted by `b_shard / b` (every loss is a mean over rows).
fn over_shards<F>(
    pool: &rayon::ThreadPool,
    shards: &[Shard],
    rngs: &mut [Rng],
    f: F,
) -> Result<(f64, Vec<Vec<f32>>)>
where
    F: Fn(&Shard, &mut Rng) -> Result<(f64, Vec<Vec<f32>>)> + Sync,
{
    use rayon::prelude::*;
    let total: usize = shards.iter().map(|s| s.b).sum();
    let results: Vec<Result<(f64, Vec<Vec<f32>>)>> = pool.install(|| {
        shards
            .par_iter()
            .zip(rngs.par_iter_mut())
            .map(|(s, r)| f(s, r))
            .collect()
    });
    let mut loss = 0.0;
    let mut acc: Option<Vec<Vec<f32>>> = None;
    for (res, sh) in results.into_iter().zip(shards) {
        let (l, g) = res?;
        let w = sh.b as f32 / total as f32;
        loss += l * w as f64;
        match &mut acc {
            None => {
                acc = Some(
                    g.into_iter()
                        .map(|v| v.into_iter().map(|x| x * w).collect())
                        .collect(),
                )
            }
            Some(a) => {
                for (av, gv) in a.iter_mut().zip(g) {
                    for (x, y) in av.iter_mut().zip(gv) {
                        *x += y * w;
                    }
                }
            }
        }
    }
    Ok((loss, acc.unwrap_or_default()))
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

fn standardized_f32(m: &Matrix, st: &Standardizer) -> Vec<f32> {
    let inv = st.inv_std();
    let c = m.cols();
    m.as_slice()
        .iter()
        .enumerate()
        .map(|(i, &v)| ((v - st.mean[i % c]) * inv[i % c]) as f32)
        .collect()
}

fn row_tensor(v: &[f64]) -> Result<Tensor> {
    Ok(tensor_f32(
        v.iter().map(|&x| x as f32).collect(),
        1,
        v.len(),
    )?)
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
        let cfg = &self.config;
        let k = data.len();
        if k < 2 {
            return Err(Error::Surrogate(format!(
                "need at least 2 training samples, got {k}"
            )));
        }
        let (n, d, m) = (data.psi.cols(), data.x.cols(), data.y.cols());
        let c = n + d;
        // condition [psi, x], as the reference orders it
        let mut cond = Matrix::zeros(k, c);
        for i in 0..k {
            let row = cond.row_mut(i);
            row[..n].copy_from_slice(data.psi.row(i));
            row[n..].copy_from_slice(data.x.row(i));
        }
        if cond
            .as_slice()
            .iter()
            .chain(data.y.as_slice())
            .any(|v| !v.is_finite())
        {
            return Err(Error::Surrogate(
                "training data holds non-finite values".into(),
            ));
        }
        let cond_st = Standardizer::fit(&cond);
        let y_st = Standardizer::fit(&data.y);
        let cond_n = standardized_f32(&cond, &cond_st);
        let y_n = standardized_f32(&data.y, &y_st);

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
        let threads = if cfg.threads == 0 {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        } else {
            cfg.threads
        };
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads.min(cfg.shards).max(1))
            .build()
            .map_err(|e| Error::Surrogate(format!("cannot start training threads: {e}")))?;
        let mut shard_rngs: Vec<Rng> = (0..cfg.shards)
            .map(|_| crate::seed::rng_from_seed(rng.random::<u64>()))
            .collect();

        let mut perm: Vec<usize> = (0..k).collect();
        let bs = cfg.batch_size.min(k);
        let mut steps = 0;
        let mut last_loss = 0.0;
        let mut yb: Vec<f32> = Vec::with_capacity(bs * m);
        let mut cb: Vec<f32> = Vec::with_capacity(bs * c);
        for _epoch in 0..cfg.epochs {
            perm.shuffle(rng);
            let mut epoch_loss = 0.0;
            let mut batches = 0;
            for chunk in perm.chunks(bs) {
                let b = chunk.len();
                if b < 2 {
                    continue; // a batch of one has no column spread
                }
                yb.clear();
                cb.clear();
                for &i in chunk {
                    yb.extend_from_slice(&y_n[i * m..(i + 1) * m]);
                    cb.extend_from_slice(&cond_n[i * c..(i + 1) * c]);
                }
                let y_std = column_std(&yb, b, m);
                // contiguous shards of at least 2 rows each
                let n_shards = cfg.shards.min(b / 2).max(1);
                let per = b.div_ceil(n_shards);
                let shards: Vec<Shard> = (0..n_shards)
                    .map(|s| {
                        let lo = s * per;
                        let hi = ((s + 1) * per).min(b);
                        Shard {
                            y: &yb[lo * m..hi * m],
                            cond: &cb[lo * c..hi * c],
                            b: hi - lo,
                            y_std: &y_std,
                        }
                    })
                    .filter(|s| s.b > 0)
                    .collect();
                let rngs = &mut shard_rngs[..shards.len()];
                for _ in 0..cfg.critic_steps {
                    let (_, g) = over_shards(&pool, &shards, rngs, |s, r| nets.critic_shard(s, r))?;
                    critic_opt.step(&g)?;
                    steps += 1;
                }
                for _ in 0..cfg.generator_steps {
                    let (l, g) =
                        over_shards(&pool, &shards, rngs, |s, r| nets.generator_shard(s, r))?;
                    gen_opt.step(&g)?;
                    epoch_loss += l;
                    steps += 1;
                }
                batches += 1;
            }
            last_loss = epoch_loss / (batches.max(1) * cfg.generator_steps) as f64;
        }
        let generator = nets.generator;
        if !last_loss.is_finite() {
            return Err(Error::Surrogate(format!(
                "GAN training diverged (generator loss {last_loss})"
            )));
        }
        Ok(FittedGan {
            generator,
            noise_dim: noise,
            cond_mean: row_tensor(&cond_st.mean)?,
            cond_inv_std: row_tensor(&cond_st.inv_std())?,
            y_mean: row_tensor(&y_st.mean)?,
            y_scale: row_tensor(&y_st.scale())?,
            report: FitReport {
                train_samples: k,
                steps,
                seconds: start.elapsed().as_secs_f64(),
                final_loss: last_loss,
            },
        })
    }
}
