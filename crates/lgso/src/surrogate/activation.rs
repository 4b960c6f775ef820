//! Activation functions as candle custom ops.
//!
//! candle's built-in `tanh` calls the scalar libm function element by element,
//! which was 35-40% of a GAN training step in our measurements
//! (`tensor-stack.md`). [`tanh`] evaluates a rational approximation instead,
//! in one pass, and has a first-order backward `g * (1 - tanh^2)` written with
//! tensor ops. [`leaky_relu`] does `max(x, slope x)` in one pass.

use candle_core::{CpuStorage, CustomOp1, DType, Layout, Result, Shape, Tensor};

/// Clamp of the rational tanh approximation: beyond it `tanh` is 1 within
/// f32 rounding.
const TANH_CLAMP: f32 = 7.905_311;

/// `tanh(x)` by the odd/even rational minimax approximation of degree 13/6
/// used by Eigen's `ptanh` (absolute error below 1e-6 in f32 on the whole
/// line; see the unit test).
#[inline(always)]
pub fn tanh_f32(x: f32) -> f32 {
    const A1: f32 = 4.893_524_6e-3;
    const A3: f32 = 6.372_619_3e-4;
    const A5: f32 = 1.485_722_4e-5;
    const A7: f32 = 5.122_297e-8;
    const A9: f32 = -8.604_672e-11;
    const A11: f32 = 2.000_188e-13;
    const A13: f32 = -2.760_768_5e-16;
    const B0: f32 = 4.893_525e-3;
    const B2: f32 = 2.268_434_6e-3;
    const B4: f32 = 1.185_347_1e-4;
    const B6: f32 = 1.198_258_4e-6;
    let x = x.clamp(-TANH_CLAMP, TANH_CLAMP);
    let x2 = x * x;
    let p = x2 * A13 + A11;
    let p = x2 * p + A9;
    let p = x2 * p + A7;
    let p = x2 * p + A5;
    let p = x2 * p + A3;
    let p = x2 * p + A1;
    let p = x * p;
    let q = x2 * B6 + B4;
    let q = x2 * q + B2;
    let q = x2 * q + B0;
    p / q
}

fn map_contiguous(
    storage: &CpuStorage,
    layout: &Layout,
    name: &'static str,
    f32_fn: impl Fn(f32) -> f32,
    f64_fn: impl Fn(f64) -> f64,
) -> Result<(CpuStorage, Shape)> {
    let (start, end) = layout
        .contiguous_offsets()
        .ok_or_else(|| candle_core::Error::Msg(format!("{name}: input must be contiguous")))?;
    let out = match storage {
        CpuStorage::F32(v) => CpuStorage::F32(v[start..end].iter().map(|&x| f32_fn(x)).collect()),
        CpuStorage::F64(v) => CpuStorage::F64(v[start..end].iter().map(|&x| f64_fn(x)).collect()),
        _ => {
            return Err(candle_core::Error::Msg(format!(
                "{name}: only f32 and f64 are supported"
            )))
        }
    };
    Ok((out, layout.shape().clone()))
}

struct FastTanh;

impl CustomOp1 for FastTanh {
    fn name(&self) -> &'static str {
        "fast-tanh"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        map_contiguous(storage, layout, "fast-tanh", tanh_f32, f64::tanh)
    }

    fn bwd(&self, _arg: &Tensor, res: &Tensor, grad_res: &Tensor) -> Result<Option<Tensor>> {
        // d tanh(x) / dx = 1 - tanh(x)^2
        Ok(Some(grad_res.mul(&res.sqr()?.affine(-1.0, 1.0)?)?))
    }
}

struct LeakyRelu(f64);

impl CustomOp1 for LeakyRelu {
    fn name(&self) -> &'static str {
        "leaky-relu"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let s = self.0;
        let s32 = s as f32;
        map_contiguous(
            storage,
            layout,
            "leaky-relu",
            move |x| if x >= 0.0 { x } else { s32 * x },
            move |x| if x >= 0.0 { x } else { s * x },
        )
    }

    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad_res: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(grad_res.mul(&leaky_relu_slope(arg, self.0)?)?))
    }
}

struct BiasAdd;

impl candle_core::CustomOp2 for BiasAdd {
    fn name(&self) -> &'static str {
        "bias-add"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let bad =
            || candle_core::Error::Msg("bias-add: expects contiguous f32 [b, k] and [k]".into());
        let (a0, a1) = l1.contiguous_offsets().ok_or_else(bad)?;
        let (b0, b1) = l2.contiguous_offsets().ok_or_else(bad)?;
        let k = b1 - b0;
        if k == 0 || (a1 - a0) % k != 0 || l1.dims().last() != Some(&k) {
            return Err(bad());
        }
        let out = match (s1, s2) {
            (CpuStorage::F32(a), CpuStorage::F32(b)) => {
                let b = &b[b0..b1];
                let mut out = a[a0..a1].to_vec();
                for row in out.chunks_exact_mut(k) {
                    for (o, &bj) in row.iter_mut().zip(b) {
                        *o += bj;
                    }
                }
                CpuStorage::F32(out)
            }
            (CpuStorage::F64(a), CpuStorage::F64(b)) => {
                let b = &b[b0..b1];
                let mut out = a[a0..a1].to_vec();
                for row in out.chunks_exact_mut(k) {
                    for (o, &bj) in row.iter_mut().zip(b) {
                        *o += bj;
                    }
                }
                CpuStorage::F64(out)
            }
            _ => return Err(bad()),
        };
        Ok((out, l1.shape().clone()))
    }

    fn bwd(
        &self,
        _a: &Tensor,
        _b: &Tensor,
        _res: &Tensor,
        grad_res: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let gb = grad_res.contiguous()?.apply_op1_no_bwd(&ColumnSum)?;
        Ok((Some(grad_res.clone()), Some(gb)))
    }
}

/// Sums a contiguous `[b, k]` tensor over its rows: `[k]`. First order only
/// (used inside backward passes).
struct ColumnSum;

impl CustomOp1 for ColumnSum {
    fn name(&self) -> &'static str {
        "column-sum"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let bad =
            || candle_core::Error::Msg("column-sum: expects a contiguous [b, k] tensor".into());
        let (s, e) = layout.contiguous_offsets().ok_or_else(bad)?;
        let k = *layout.dims().last().ok_or_else(bad)?;
        let out = match storage {
            CpuStorage::F32(v) => {
                let mut acc = vec![0f32; k];
                for row in v[s..e].chunks_exact(k) {
                    for (a, &x) in acc.iter_mut().zip(row) {
                        *a += x;
                    }
                }
                CpuStorage::F32(acc)
            }
            CpuStorage::F64(v) => {
                let mut acc = vec![0f64; k];
                for row in v[s..e].chunks_exact(k) {
                    for (a, &x) in acc.iter_mut().zip(row) {
                        *a += x;
                    }
                }
                CpuStorage::F64(acc)
            }
            _ => return Err(bad()),
        };
        Ok((out, Shape::from(k)))
    }
}

/// `a + b` for `a: [batch, k]` and a bias `b: [k]` broadcast over the rows,
/// in one pass, differentiable once (the bias gradient is a column sum).
///
/// # Errors
/// Shape or dtype mismatch.
pub fn bias_add(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    a.contiguous()?.apply_op2(&b.contiguous()?, BiasAdd)
}

/// `tanh(x)` elementwise (f32 by the rational approximation, f64 exact),
/// differentiable once.
///
/// # Errors
/// Unsupported dtype.
pub fn tanh(x: &Tensor) -> Result<Tensor> {
    x.contiguous()?.apply_op1(FastTanh)
}

/// Leaky ReLU `max(x, slope x)` elementwise, `0 <= slope < 1`, differentiable
/// once.
///
/// # Errors
/// Unsupported dtype.
pub fn leaky_relu(x: &Tensor, slope: f64) -> Result<Tensor> {
    x.contiguous()?.apply_op1(LeakyRelu(slope))
}

/// The derivative of the leaky ReLU at `x`: 1 where `x >= 0`, `slope`
/// elsewhere. A constant (not tracked): the function is piecewise linear.
///
/// # Errors
/// Tensor errors.
pub fn leaky_relu_slope(x: &Tensor, slope: f64) -> Result<Tensor> {
    x.detach()
        .ge(0.0)?
        .to_dtype(x.dtype())?
        .affine(1.0 - slope, slope)
}

/// Dtype check helper for callers that build tensors from vectors.
pub fn is_float(dtype: DType) -> bool {
    matches!(dtype, DType::F32 | DType::F64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    #[test]
    fn rational_tanh_is_within_1e6_of_libm() {
        let mut worst = 0.0f32;
        let mut x = -12.0f32;
        while x < 12.0 {
            worst = worst.max((tanh_f32(x) - x.tanh()).abs());
            x += 1e-3;
        }
        assert!(worst < 1e-6, "max abs error {worst}");
        assert_eq!(tanh_f32(0.0), 0.0);
        assert!(tanh_f32(100.0) <= 1.0 && tanh_f32(-100.0) >= -1.0);
    }

    #[test]
    fn backward_matches_finite_differences() {
        let dev = Device::Cpu;
        let xs = [-2.0f64, -0.3, 0.05, 0.7, 1.9]; // not 0: the leaky ReLU kink
        let v = Var::from_vec(xs.to_vec(), 5, &dev).unwrap();
        let y = (tanh(v.as_tensor()).unwrap() + leaky_relu(v.as_tensor(), 0.1).unwrap()).unwrap();
        let g = y.sum_all().unwrap().backward().unwrap();
        let g = g.get(v.as_tensor()).unwrap().to_vec1::<f64>().unwrap();
        for (i, &x) in xs.iter().enumerate() {
            let f = |x: f64| x.tanh() + if x >= 0.0 { x } else { 0.1 * x };
            let h = 1e-6;
            let fd = (f(x + h) - f(x - h)) / (2.0 * h);
            assert!((g[i] - fd).abs() < 1e-6, "x = {x}: {} vs {fd}", g[i]);
        }
    }
}
