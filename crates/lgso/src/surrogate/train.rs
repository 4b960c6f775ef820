//! Training machinery shared by the surrogates: standardization of the
//! training data, Adam on a network's variables, minibatches split into
//! shards that run in parallel, and the scaling a fitted surrogate applies
//! at sampling time.
//!
//! Every surrogate trains on the condition `c = [psi, x]` and on `y`, both
//! standardized per column on the training set (lgso.md step 5), in
//! shuffled minibatches; each minibatch is cut into contiguous shards whose
//! loss gradients are computed independently (in parallel) and combined
//! weighted by rows, which is the gradient of the whole minibatch.

use candle_core::{Tensor, Var};
use rand::seq::SliceRandom;
use rand::Rng as _;
use rand_distr::{Distribution, StandardNormal};

use super::mlp::tensor_f32;
use super::Standardizer;
use crate::data::{Matrix, Samples};
use crate::error::{Error, Result};
use crate::seed::Rng;

/// `ln(2 pi) / 2`, the constant of the standard normal log-density.
pub(crate) const HALF_LN_2PI: f64 = 0.918_938_533_204_672_7;

/// Training data standardized per column: the condition `[psi, x]` and `y`
/// as row-major f32, with the standardizers that map them back.
#[derive(Debug, Clone)]
pub(crate) struct Prepared {
    /// Training samples `k`.
    pub k: usize,
    /// y dimension `m`.
    pub m: usize,
    /// Condition width `c = n + d`.
    pub c: usize,
    /// Standardizer of the condition columns.
    pub cond_st: Standardizer,
    /// Standardizer of y.
    pub y_st: Standardizer,
    /// Standardized condition, `[k, c]` row-major.
    pub cond: Vec<f32>,
    /// Standardized y, `[k, m]` row-major.
    pub y: Vec<f32>,
}

impl Prepared {
    /// Checks and standardizes `data` (`psi: [k, n]`, `x: [k, d]`,
    /// `y: [k, m]`); the condition is `[psi, x]`, as the reference orders it.
    ///
    /// # Errors
    /// [`Error::Surrogate`] for fewer than 2 samples or non-finite values.
    pub fn new(data: &Samples) -> Result<Prepared> {
        let k = data.len();
        if k < 2 {
            return Err(Error::Surrogate(format!(
                "need at least 2 training samples, got {k}"
            )));
        }
        let (n, d, m) = (data.psi.cols(), data.x.cols(), data.y.cols());
        let c = n + d;
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
        Ok(Prepared {
            k,
            m,
            c,
            cond: standardized_f32(&cond, &cond_st),
            y: standardized_f32(&data.y, &y_st),
            cond_st,
            y_st,
        })
    }

    /// The scaling a fitted surrogate applies at sampling time.
    ///
    /// # Errors
    /// Tensor errors.
    pub fn scaling(&self) -> Result<Scaling> {
        Ok(Scaling {
            cond_mean: row_tensor(&self.cond_st.mean)?,
            cond_inv_std: row_tensor(&self.cond_st.inv_std())?,
            y_mean: row_tensor(&self.y_st.mean)?,
            y_scale: row_tensor(&self.y_st.scale())?,
        })
    }
}

/// The standardization of a fitted surrogate as f32 row tensors.
#[derive(Debug, Clone)]
pub(crate) struct Scaling {
    /// Mean of the condition columns `[psi, x]`, `[1, n + d]`.
    cond_mean: Tensor,
    /// 1/std of the condition columns (0 for constant columns), `[1, n + d]`.
    cond_inv_std: Tensor,
    /// Mean of y, `[1, m]`.
    y_mean: Tensor,
    /// Std of y (1 for constant columns), `[1, m]`.
    y_scale: Tensor,
}

impl Scaling {
    /// The standardized condition `[psi, x]`: `psi: [K, n]`, `x: [K, d]` to
    /// `[K, n + d]`, differentiable in psi and x.
    ///
    /// # Errors
    /// Shape mismatch.
    pub fn condition(&self, x: &Tensor, psi: &Tensor) -> Result<Tensor> {
        Ok(Tensor::cat(&[psi, x], 1)?
            .broadcast_sub(&self.cond_mean)?
            .broadcast_mul(&self.cond_inv_std)?)
    }

    /// Standardized `y` back in the simulator's units, `[K, m]`.
    ///
    /// # Errors
    /// Shape mismatch.
    pub fn y_out(&self, y: &Tensor) -> Result<Tensor> {
        Ok(y.broadcast_mul(&self.y_scale)?
            .broadcast_add(&self.y_mean)?)
    }

    /// `y` in the simulator's units standardized, `[K, m]`, and
    /// `sum_j ln std_j`, the log-Jacobian of the standardization (subtract it
    /// from a log-density of standardized y to get one of y).
    ///
    /// # Errors
    /// Shape mismatch.
    pub fn y_in(&self, y: &Tensor) -> Result<(Tensor, f64)> {
        let yn = y
            .broadcast_sub(&self.y_mean)?
            .broadcast_div(&self.y_scale)?;
        let log_scale = self
            .y_scale
            .flatten_all()?
            .to_vec1::<f32>()?
            .iter()
            .map(|&s| f64::from(s).ln())
            .sum();
        Ok((yn, log_scale))
    }
}

/// Adam (PyTorch's update, no weight decay) on a network's f32 variables,
/// with the moments kept as plain vectors: one pass per tensor instead of a
/// dozen tensor operations.
pub(crate) struct NetAdam {
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
    /// Adam with learning rate `lr` and `betas` on `vars`.
    ///
    /// # Errors
    /// Tensor errors.
    pub fn new(vars: Vec<Var>, lr: f64, betas: [f64; 2]) -> Result<Self> {
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

    /// Sets the learning rate of the next steps.
    pub fn set_lr(&mut self, lr: f64) {
        self.lr = lr as f32;
    }

    /// One Adam step with gradients given as flat vectors, one per variable.
    ///
    /// # Errors
    /// Tensor errors.
    pub fn step(&mut self, grads: &[Vec<f32>]) -> Result<()> {
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

/// Per-column standard deviation (unbiased) of a `[b, m]` row-major block.
pub(crate) fn column_std(data: &[f32], b: usize, m: usize) -> Vec<f32> {
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
pub(crate) struct Shard<'a> {
    /// Standardized y, `[b, m]` row-major.
    pub y: &'a [f32],
    /// Standardized condition, `[b, c]` row-major.
    pub cond: &'a [f32],
    /// Rows.
    pub b: usize,
    /// Per-column std of the minibatch's y, `[m]`.
    pub y_std: &'a [f32],
}

impl Shard<'_> {
    /// The shard's y `[b, m]` with instance noise `N(0, 1) * scale * y_std_j`
    /// added when `scale > 0` (lgso.md).
    ///
    /// # Errors
    /// Tensor errors.
    pub fn y_with_noise(&self, m: usize, scale: f64, rng: &mut Rng) -> Result<Tensor> {
        let y = tensor_f32(self.y.to_vec(), self.b, m)?;
        if scale > 0.0 {
            Ok((&y + noise_with_std(self.y_std, self.b, scale, rng)?)?)
        } else {
            Ok(y)
        }
    }

    /// The shard's condition, `[b, c]`.
    ///
    /// # Errors
    /// Tensor errors.
    pub fn condition(&self, c: usize) -> Result<Tensor> {
        Ok(tensor_f32(self.cond.to_vec(), self.b, c)?)
    }
}

/// Gradients of a loss with respect to `vars`, as flat vectors (zeros for a
/// variable the loss does not reach).
///
/// # Errors
/// Tensor errors.
pub(crate) fn flat_grads(
    grads: &candle_core::backprop::GradStore,
    vars: &[Var],
) -> Result<Vec<Vec<f32>>> {
    vars.iter()
        .map(|v| match grads.get(v.as_tensor()) {
            Some(g) => Ok(g.flatten_all()?.to_vec1::<f32>()?),
            None => Ok(vec![0.0; v.elem_count()]),
        })
        .collect()
}

/// `loss` and its gradient with respect to `vars` (one backward pass).
///
/// # Errors
/// Tensor errors.
pub(crate) fn loss_and_grads(loss: &Tensor, vars: &[Var]) -> Result<(f64, Vec<Vec<f32>>)> {
    let grads = loss.backward()?;
    Ok((loss.to_scalar::<f32>()? as f64, flat_grads(&grads, vars)?))
}

/// `N(0,1) * scale * std_j` noise for a `[b, m]` batch.
///
/// # Errors
/// Tensor errors.
pub(crate) fn noise_with_std(std: &[f32], b: usize, scale: f64, rng: &mut Rng) -> Result<Tensor> {
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

/// Runs `f` on every shard (in parallel on `pool`) and combines the results:
/// the loss and gradients of the whole minibatch are the shard values
/// weighted by `b_shard / b` (every loss is a mean over rows).
///
/// # Errors
/// The first error of a shard.
pub(crate) fn over_shards<F>(
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

/// The cosine learning-rate schedule (Loshchilov & Hutter, "SGDR", ICLR
/// 2017, eq. 5 with one cycle and a floor of 0): `lr * (1 + cos(pi s / S)) / 2`
/// at step `s` of `S`.
pub(crate) fn cosine_lr(lr: f64, step: usize, total: usize) -> f64 {
    let frac = step as f64 / total.max(1) as f64;
    0.5 * lr * (1.0 + (std::f64::consts::PI * frac.min(1.0)).cos())
}

/// Optimizer steps of [`minibatches`] (one per minibatch of at least 2
/// rows) for `k` samples.
pub(crate) fn steps_per_fit(k: usize, schedule: &Schedule) -> usize {
    let bs = schedule.batch_size.min(k).max(1);
    let full = k / bs;
    let rest = k % bs;
    schedule.epochs * (full + usize::from(rest >= 2))
}

/// How minibatches are drawn and split.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Schedule {
    /// Rows per minibatch.
    pub batch_size: usize,
    /// Passes over the training set.
    pub epochs: usize,
    /// Shards per minibatch.
    pub shards: usize,
    /// Threads (0 = all cores).
    pub threads: usize,
}

/// The minibatch loop: `epochs` shuffled passes over `prep`, each minibatch
/// (of at least 2 rows) cut into at most `shards` contiguous shards of at
/// least 2 rows and handed to `step` with a thread pool and one RNG per
/// shard. `step` returns `(loss, optimizer steps taken)`.
///
/// Returns `(optimizer steps, mean loss of the last epoch)`.
///
/// # Errors
/// Thread-pool errors and the first error of `step`.
pub(crate) fn minibatches<F>(
    prep: &Prepared,
    schedule: Schedule,
    rng: &mut Rng,
    mut step: F,
) -> Result<(usize, f64)>
where
    F: FnMut(&rayon::ThreadPool, &[Shard], &mut [Rng]) -> Result<(f64, usize)>,
{
    let (k, m, c) = (prep.k, prep.m, prep.c);
    let threads = if schedule.threads == 0 {
        crate::threads::available_cores()
    } else {
        schedule.threads
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads.min(schedule.shards).max(1))
        .build()
        .map_err(|e| Error::Surrogate(format!("cannot start training threads: {e}")))?;
    let mut shard_rngs: Vec<Rng> = (0..schedule.shards)
        .map(|_| crate::seed::rng_from_seed(rng.random::<u64>()))
        .collect();
    let mut perm: Vec<usize> = (0..k).collect();
    let bs = schedule.batch_size.min(k);
    let mut steps = 0;
    let mut last_loss = 0.0;
    let mut yb: Vec<f32> = Vec::with_capacity(bs * m);
    let mut cb: Vec<f32> = Vec::with_capacity(bs * c);
    for _epoch in 0..schedule.epochs {
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
                yb.extend_from_slice(&prep.y[i * m..(i + 1) * m]);
                cb.extend_from_slice(&prep.cond[i * c..(i + 1) * c]);
            }
            let y_std = column_std(&yb, b, m);
            // contiguous shards of at least 2 rows each
            let n_shards = schedule.shards.min(b / 2).max(1);
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
            let (loss, taken) = step(&pool, &shards, rngs)?;
            epoch_loss += loss;
            steps += taken;
            batches += 1;
        }
        last_loss = epoch_loss / batches.max(1) as f64;
    }
    Ok((steps, last_loss))
}

/// The settings of a maximum-likelihood fit by Adam ([`fit_likelihood`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct LikelihoodFit {
    /// Adam learning rate (at the start, with `cosine_decay`).
    pub lr: f64,
    /// Adam betas.
    pub betas: [f64; 2],
    /// Minibatches.
    pub schedule: Schedule,
    /// Instance noise scale (times the batch's per-column std of y).
    pub instance_noise: f64,
    /// Decay the learning rate along [`cosine_lr`].
    pub cosine_decay: bool,
    /// The surrogate's name, for the divergence error.
    pub name: &'static str,
}

/// Maximizes the mean log-likelihood of the standardized training y by
/// Adam on `vars`: per shard, `log_density(y, cond, rng)` (`y: [b, m]` with
/// instance noise, `cond: [b, c]`) gives `log p(y | c)`, `[b, 1]`, and the
/// loss is its negative mean. `start` is when the fit began (for the
/// report's seconds).
///
/// # Errors
/// [`Error::Surrogate`] if the loss of the last epoch is not finite; tensor
/// errors.
pub(crate) fn fit_likelihood<F>(
    prep: &Prepared,
    vars: &[Var],
    fit: &LikelihoodFit,
    start: std::time::Instant,
    rng: &mut Rng,
    log_density: F,
) -> Result<super::FitReport>
where
    F: Fn(&Tensor, &Tensor, &mut Rng) -> Result<Tensor> + Sync,
{
    let mut opt = NetAdam::new(vars.to_vec(), fit.lr, fit.betas)?;
    let shard_loss = |sh: &Shard, r: &mut Rng| {
        let y = sh.y_with_noise(prep.m, fit.instance_noise, r)?;
        let cond = sh.condition(prep.c)?;
        loss_and_grads(&log_density(&y, &cond, r)?.mean_all()?.neg()?, vars)
    };
    let total = steps_per_fit(prep.k, &fit.schedule);
    let mut taken = 0;
    let (steps, last_loss) = minibatches(prep, fit.schedule, rng, |pool, shards, rngs| {
        let (l, g) = over_shards(pool, shards, rngs, shard_loss)?;
        if fit.cosine_decay {
            opt.set_lr(cosine_lr(fit.lr, taken, total));
        }
        opt.step(&g)?;
        taken += 1;
        Ok((l, 1))
    })?;
    if !last_loss.is_finite() {
        return Err(Error::Surrogate(format!(
            "{} training diverged (negative log-likelihood {last_loss})",
            fit.name
        )));
    }
    Ok(super::FitReport {
        train_samples: prep.k,
        steps,
        seconds: start.elapsed().as_secs_f64(),
        final_loss: last_loss,
    })
}

/// `m` standardized with `st` as row-major f32.
pub(crate) fn standardized_f32(m: &Matrix, st: &Standardizer) -> Vec<f32> {
    let inv = st.inv_std();
    let c = m.cols();
    m.as_slice()
        .iter()
        .enumerate()
        .map(|(i, &v)| ((v - st.mean[i % c]) * inv[i % c]) as f32)
        .collect()
}

/// A `[1, len]` f32 tensor of `v`.
///
/// # Errors
/// Tensor errors.
pub(crate) fn row_tensor(v: &[f64]) -> Result<Tensor> {
    Ok(tensor_f32(
        v.iter().map(|&x| x as f32).collect(),
        1,
        v.len(),
    )?)
}
