//! A multilayer perceptron with an explicit input vector-Jacobian product.
//!
//! candle has only first-order reverse mode, so the gradient of a network's
//! output with respect to its input cannot itself be differentiated by
//! calling `backward` twice. [`Mlp::input_vjp`] writes that gradient as an
//! ordinary forward expression instead: it walks the layers from the output
//! down, `g <- (g * act'(pre_l)) W_l`, with `act'` kept as a tracked tensor
//! (`1 - h^2` for tanh, a constant 0/1-slope mask for the piecewise-linear
//! leaky ReLU). One `backward` of a loss built on it (the GAN's gradient
//! penalty, FFJORD's divergence) then gives exact gradients with respect to
//! every weight.

use candle_core::{DType, Device, Result, Tensor, Var};
use rand::Rng as _;
use rand_distr::{Distribution, StandardNormal};

use super::activation;
use crate::seed::Rng;

/// The activation after a layer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Activation {
    /// `tanh`.
    Tanh,
    /// `max(x, slope x)`.
    LeakyRelu(f64),
    /// No activation (output layer).
    Identity,
}

/// How a layer's weights are initialised.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Init {
    /// PyTorch's `nn.Linear` default: weight and bias `U(-1/sqrt(fan_in),
    /// 1/sqrt(fan_in))` (the reference generator).
    TorchDefault,
    /// Xavier/Glorot normal weights, `std = sqrt(2 / (fan_in + fan_out))`,
    /// zero bias (the reference critic).
    XavierNormal,
}

/// One dense layer `a = act(u W^T + b)`; `W: [out, in]`, `b: [out]`.
#[derive(Debug, Clone)]
pub struct Layer {
    /// Weight, `[out, in]`.
    pub weight: Var,
    /// Bias, `[out]`.
    pub bias: Var,
    /// Activation applied to the pre-activation.
    pub activation: Activation,
}

/// A multilayer perceptron.
#[derive(Debug, Clone)]
pub struct Mlp {
    /// The layers, input first.
    pub layers: Vec<Layer>,
}

/// The intermediate values of a forward pass kept for [`Mlp::input_vjp`].
#[derive(Debug)]
pub struct Trace {
    /// Output of the network, `[b, out]`.
    pub output: Tensor,
    /// Derivative of each layer's activation at its pre-activation, `[b, width]`
    /// (None for identity layers).
    derivs: Vec<Option<Tensor>>,
    /// Weights used in the pass (possibly detached copies).
    weights: Vec<Tensor>,
}

impl Mlp {
    /// A new network with layer widths `widths = [in, h1, ..., out]` and the
    /// given activations (one per layer), f32 weights drawn from `rng`.
    pub fn new(
        widths: &[usize],
        activations: &[Activation],
        init: Init,
        rng: &mut Rng,
    ) -> Result<Self> {
        assert_eq!(
            widths.len(),
            activations.len() + 1,
            "one activation per layer"
        );
        let dev = Device::Cpu;
        let mut layers = Vec::with_capacity(activations.len());
        for (l, &activation) in activations.iter().enumerate() {
            let (fan_in, fan_out) = (widths[l], widths[l + 1]);
            let (w, b): (Vec<f32>, Vec<f32>) = match init {
                Init::TorchDefault => {
                    let bound = 1.0 / (fan_in as f64).sqrt();
                    let mut u = || rng.random_range(-bound..bound) as f32;
                    (
                        (0..fan_in * fan_out).map(|_| u()).collect(),
                        (0..fan_out).map(|_| u()).collect(),
                    )
                }
                Init::XavierNormal => {
                    let std = (2.0 / (fan_in + fan_out) as f64).sqrt();
                    let w = (0..fan_in * fan_out)
                        .map(|_| {
                            let z: f64 = StandardNormal.sample(rng);
                            (std * z) as f32
                        })
                        .collect();
                    (w, vec![0.0; fan_out])
                }
            };
            layers.push(Layer {
                weight: Var::from_vec(w, (fan_out, fan_in), &dev)?,
                bias: Var::from_vec(b, fan_out, &dev)?,
                activation,
            });
        }
        Ok(Mlp { layers })
    }

    /// A copy with fresh variables of another dtype (e.g. f64 for
    /// finite-difference checks).
    ///
    /// # Errors
    /// Tensor errors.
    pub fn to_dtype(&self, dtype: DType) -> Result<Mlp> {
        let layers = self
            .layers
            .iter()
            .map(|l| {
                Ok(Layer {
                    weight: Var::from_tensor(&l.weight.as_tensor().to_dtype(dtype)?)?,
                    bias: Var::from_tensor(&l.bias.as_tensor().to_dtype(dtype)?)?,
                    activation: l.activation,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Mlp { layers })
    }

    /// All trainable variables (weight, bias per layer).
    pub fn vars(&self) -> Vec<Var> {
        self.layers
            .iter()
            .flat_map(|l| [l.weight.clone(), l.bias.clone()])
            .collect()
    }

    /// Input width.
    pub fn input_dim(&self) -> usize {
        self.layers[0].weight.dims()[1]
    }

    /// The forward pass `[b, in] -> [b, out]`. With `frozen = true` the
    /// weights are detached: gradients flow to the input only (used when one
    /// network's loss goes through another that is not being trained).
    ///
    /// # Errors
    /// Shape mismatch.
    pub fn forward(&self, input: &Tensor, frozen: bool) -> Result<Tensor> {
        let mut a = input.clone();
        for layer in &self.layers {
            let (w, b) = weights(layer, frozen);
            let pre = activation::bias_add(&a.matmul(&w.t()?)?, &b)?;
            a = match layer.activation {
                Activation::Tanh => activation::tanh(&pre)?,
                Activation::LeakyRelu(s) => activation::leaky_relu(&pre, s)?,
                Activation::Identity => pre,
            };
        }
        Ok(a)
    }

    /// The forward pass keeping what [`Mlp::input_vjp`] needs.
    ///
    /// # Errors
    /// Shape mismatch.
    pub fn forward_trace(&self, input: &Tensor, frozen: bool) -> Result<Trace> {
        let mut a = input.clone();
        let mut derivs = Vec::with_capacity(self.layers.len());
        let mut ws = Vec::with_capacity(self.layers.len());
        for layer in &self.layers {
            let (w, b) = weights(layer, frozen);
            let pre = activation::bias_add(&a.matmul(&w.t()?)?, &b)?;
            let (out, d) = match layer.activation {
                Activation::Tanh => {
                    let h = activation::tanh(&pre)?;
                    // tracked: 1 - h^2 depends on the weights
                    let d = h.sqr()?.affine(-1.0, 1.0)?;
                    (h, Some(d))
                }
                Activation::LeakyRelu(s) => (
                    activation::leaky_relu(&pre, s)?,
                    Some(activation::leaky_relu_slope(&pre, s)?),
                ),
                Activation::Identity => (pre, None),
            };
            derivs.push(d);
            ws.push(w);
            a = out;
        }
        Ok(Trace {
            output: a,
            derivs,
            weights: ws,
        })
    }

    /// The vector-Jacobian product `v^T d output / d input[:, cols]` for each
    /// row: `v: [b, out]` to `[b, cols.len]`, written as tensor operations
    /// (no double backward needed). Only the input columns `cols` are kept
    /// (e.g. the y part of a critic input `[y, condition]`).
    ///
    /// # Errors
    /// Shape mismatch.
    pub fn input_vjp(
        &self,
        trace: &Trace,
        v: &Tensor,
        cols: std::ops::Range<usize>,
    ) -> Result<Tensor> {
        let mut g = v.clone();
        for l in (0..self.layers.len()).rev() {
            if let Some(d) = &trace.derivs[l] {
                g = g.mul(d)?;
            }
            let w = &trace.weights[l];
            let w = if l == 0 {
                w.narrow(1, cols.start, cols.len())?
            } else {
                w.clone()
            };
            g = g.matmul(&w)?;
        }
        Ok(g)
    }
}

fn weights(layer: &Layer, frozen: bool) -> (Tensor, Tensor) {
    if frozen {
        (
            layer.weight.as_tensor().detach(),
            layer.bias.as_tensor().detach(),
        )
    } else {
        (
            layer.weight.as_tensor().clone(),
            layer.bias.as_tensor().clone(),
        )
    }
}

/// Builds an f32 tensor `[rows, cols]` from a row-major vector.
///
/// # Errors
/// Length mismatch.
pub fn tensor_f32(data: Vec<f32>, rows: usize, cols: usize) -> Result<Tensor> {
    Tensor::from_vec(data, (rows, cols), &Device::Cpu)
}

/// Draws a `[rows, cols]` f32 tensor of standard normals from `rng`.
///
/// # Errors
/// Never in practice (tensor construction).
pub fn randn(rows: usize, cols: usize, rng: &mut Rng) -> Result<Tensor> {
    let v: Vec<f32> = (0..rows * cols)
        .map(|_| {
            let z: f32 = StandardNormal.sample(rng);
            z
        })
        .collect();
    tensor_f32(v, rows, cols)
}

/// The dtype used by surrogates.
pub const DTYPE: DType = DType::F32;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seed::rng_from_seed;

    /// The explicit VJP equals autodiff's input gradient (first order).
    #[test]
    fn input_vjp_equals_backward_input_gradient() {
        let mut rng = rng_from_seed(1);
        let acts = [
            Activation::Tanh,
            Activation::LeakyRelu(0.01),
            Activation::Identity,
        ];
        let net = Mlp::new(&[5, 7, 6, 4], &acts, Init::XavierNormal, &mut rng).unwrap();
        let x = Var::from_tensor(&randn(3, 5, &mut rng).unwrap()).unwrap();
        let v = randn(3, 4, &mut rng).unwrap();
        let tr = net.forward_trace(x.as_tensor(), true).unwrap();
        let vjp = net
            .input_vjp(&tr, &v, 0..2)
            .unwrap()
            .to_vec2::<f32>()
            .unwrap();
        let loss = tr.output.mul(&v).unwrap().sum_all().unwrap();
        let g = loss.backward().unwrap();
        let gx = g.get(x.as_tensor()).unwrap().to_vec2::<f32>().unwrap();
        for i in 0..3 {
            for j in 0..2 {
                assert!(
                    (vjp[i][j] - gx[i][j]).abs() < 1e-5,
                    "{i},{j}: {} vs {}",
                    vjp[i][j],
                    gx[i][j]
                );
            }
        }
    }
}
