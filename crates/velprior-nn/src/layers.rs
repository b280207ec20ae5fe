//! Conv and GroupNorm layers that run velprior-kernels' CPU kernels on CPU tensors, and on every
//! other device candle's ops with the conv as im2col + matmul (candle's own conv inside
//! [`with_candle_ops`], the reference for tests and benchmarks).

use std::cell::Cell;

use candle_core::{DType, Tensor};
use candle_nn::{Conv2d, GroupNorm, Module, VarBuilder};
use velprior_kernels::{conv2d_im2col, cpu};

use crate::error::{NnError, Result};
use crate::init::{conv2d, group_norm};

thread_local! {
    static CANDLE_OPS: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` with candle's own conv / GroupNorm / SiLU ops on this thread, as the reference
/// for tests and benchmarks (the CPU kernels are used otherwise). Only forward passes started
/// inside `f` are affected; their backward passes follow them.
pub fn with_candle_ops<R>(f: impl FnOnce() -> R) -> R {
    let before = CANDLE_OPS.with(|c| c.replace(true));
    let out = f();
    CANDLE_OPS.with(|c| c.set(before));
    out
}

fn use_kernels(x: &Tensor) -> bool {
    x.device().is_cpu() && x.dtype() == DType::F32 && !CANDLE_OPS.with(Cell::get)
}

fn kernel_err(e: velprior_kernels::Error) -> NnError {
    match e {
        velprior_kernels::Error::Candle(e) => NnError::Candle(e),
        e => NnError::Shape(e.to_string()),
    }
}

/// `Conv2d(cin, cout, k, stride, padding = k/2)` with bias (PyTorch-default init, see
/// [`crate::init`]). Tensors: `weight` (cout, cin, k, k), `bias` (cout,).
#[derive(Debug, Clone)]
pub(crate) struct Conv {
    inner: Conv2d,
}

impl Conv {
    pub fn new(cin: usize, cout: usize, k: usize, stride: usize, vb: VarBuilder) -> Result<Self> {
        Ok(Conv {
            inner: conv2d(cin, cout, k, stride, vb)?,
        })
    }

    /// (N, cin, H, W) → (N, cout, H', W').
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let c = self.inner.config();
        convolve(
            x,
            self.inner.weight(),
            self.inner.bias(),
            c.stride,
            c.padding,
        )
    }

    /// The conv plus `r` (a residual of the output's shape), in one pass on the CPU.
    pub fn forward_plus(&self, x: &Tensor, r: &Tensor) -> Result<Tensor> {
        if !use_kernels(x) {
            return Ok((self.forward(x)? + r)?);
        }
        let c = self.inner.config();
        let (w, b) = (self.inner.weight(), self.bias()?);
        cpu::conv2d_add(x, w, b, r, c.stride, c.padding).map_err(kernel_err)
    }

    /// The device of the weights.
    pub fn device(&self) -> &candle_core::Device {
        self.inner.weight().device()
    }

    fn bias(&self) -> Result<&Tensor> {
        self.inner
            .bias()
            .ok_or_else(|| NnError::Shape("conv without a bias".into()))
    }
}

/// x ⋆ w + b (N, cout, H', W'): the CPU kernels on the CPU; where they do not apply, candle's
/// own conv on the CPU (the reference of [`with_candle_ops`], on every device), im2col and a
/// matrix product elsewhere (candle's CUDA backward is a direct transposed-conv kernel, far
/// slower).
pub(crate) fn convolve(
    x: &Tensor,
    w: &Tensor,
    b: Option<&Tensor>,
    stride: usize,
    padding: usize,
) -> Result<Tensor> {
    if use_kernels(x) {
        return cpu::conv2d(x, w, b, stride, padding).map_err(kernel_err);
    }
    if !(x.device().is_cpu() || CANDLE_OPS.with(Cell::get)) {
        return conv2d_im2col(x, w, b, stride, padding).map_err(kernel_err);
    }
    let y = x.conv2d(w, padding, stride, 1, 1)?;
    Ok(match b {
        Some(b) => y.broadcast_add(&b.reshape((1, (), 1, 1))?)?,
        None => y,
    })
}

/// What [`norm_silu_conv`] adds to the conv's output besides its bias.
pub(crate) enum ConvAdd<'a> {
    Nothing,
    /// A bias per sample (N, cout), broadcast over the pixels.
    SampleBias(&'a Tensor),
    /// A tensor of the output's shape (a residual).
    Residual(&'a Tensor),
}

/// `conv(silu(norm(x))) + add`; one op on the CPU (the normalised input is then no tensor of
/// the graph: see `velprior_kernels::cpu::group_norm_conv2d`).
pub(crate) fn norm_silu_conv(
    norm: &Norm,
    conv: &Conv,
    x: &Tensor,
    add: ConvAdd<'_>,
) -> Result<Tensor> {
    if !use_kernels(x) {
        let h = norm.forward(x, true)?;
        return match add {
            ConvAdd::Nothing => conv.forward(&h),
            ConvAdd::SampleBias(t) => Ok(conv
                .forward(&h)?
                .broadcast_add(&t.unsqueeze(2)?.unsqueeze(3)?)?),
            ConvAdd::Residual(r) => conv.forward_plus(&h, r),
        };
    }
    let spec = cpu::GroupNormSpec {
        gamma: &norm.weight,
        beta: &norm.bias,
        groups: norm.groups,
        eps: GN_EPS,
        silu: true,
    };
    let c = conv.inner.config();
    let (w, b) = (conv.inner.weight(), conv.bias()?);
    let (b, r) = match add {
        ConvAdd::Nothing => (b.clone(), None),
        ConvAdd::SampleBias(t) => (t.broadcast_add(b)?, None),
        ConvAdd::Residual(r) => (b.clone(), Some(r)),
    };
    cpu::group_norm_conv2d(x, &spec, w, &b, r, c.stride, c.padding).map_err(kernel_err)
}

/// Nearest-neighbour ×2 upsampling of (N, C, H, W).
pub(crate) fn upsample_nearest2x(x: &Tensor) -> Result<Tensor> {
    if !x.device().is_cpu() {
        return upsample_broadcast(x);
    }
    if !use_kernels(x) {
        let (_, _, h, w) = x.dims4()?;
        return Ok(x.upsample_nearest2d(2 * h, 2 * w)?);
    }
    cpu::upsample_nearest2x(x).map_err(kernel_err)
}

/// Nearest ×2 upsampling as a broadcast, whose backward sums each 2×2 block in one reduction
/// (candle's own upsampling backward is a grouped conv: one conv per channel). Off the CPU.
fn upsample_broadcast(x: &Tensor) -> Result<Tensor> {
    let (n, c, h, w) = x.dims4()?;
    Ok(x.reshape((n, c, h, 1, w, 1))?
        .broadcast_as((n, c, h, 2, w, 2))?
        .reshape((n, c, 2 * h, 2 * w))?)
}

/// `GroupNorm(groups, c, eps = 1e-5)` (weight 1, bias 0 at init), optionally followed by SiLU.
/// Tensors: `weight`, `bias` (c,).
#[derive(Debug, Clone)]
pub(crate) struct Norm {
    inner: GroupNorm,
    weight: Tensor,
    bias: Tensor,
    groups: usize,
}

const GN_EPS: f64 = 1e-5;

impl Norm {
    pub fn new(groups: usize, c: usize, vb: VarBuilder) -> Result<Self> {
        let inner = group_norm(groups, c, vb.clone())?;
        Ok(Norm {
            inner,
            weight: vb.get(c, "weight")?,
            bias: vb.get(c, "bias")?,
            groups,
        })
    }

    /// GroupNorm of (N, c, ...), then SiLU when `silu`.
    pub fn forward(&self, x: &Tensor, silu: bool) -> Result<Tensor> {
        if !use_kernels(x) {
            let y = self.inner.forward(x)?;
            return Ok(if silu { y.silu()? } else { y });
        }
        cpu::group_norm(x, &self.weight, &self.bias, self.groups, GN_EPS, silu).map_err(kernel_err)
    }
}

#[cfg(test)]
mod tests {
    use candle_core::{Device, Tensor, Var};

    use super::upsample_broadcast;

    /// The GPU's upsampling against candle's, values and gradient, on the CPU. Catches a
    /// broadcast over the wrong axes (rows and columns interleaved) or a lost gradient.
    #[test]
    fn broadcast_upsampling_matches_candle() {
        let x = Var::from_tensor(&Tensor::randn(0f32, 1., (2, 3, 5, 7), &Device::Cpu).unwrap())
            .unwrap();
        let want = x.as_tensor().upsample_nearest2d(10, 14).unwrap();
        let got = upsample_broadcast(x.as_tensor()).unwrap();
        let diff = |a: &Tensor, b: &Tensor| {
            (a - b)
                .unwrap()
                .abs()
                .unwrap()
                .sum_all()
                .unwrap()
                .to_scalar::<f32>()
                .unwrap()
        };
        assert_eq!(diff(&got, &want), 0.0);
        let r = Tensor::randn(0f32, 1., (2, 3, 10, 14), &Device::Cpu).unwrap();
        let gw = (want * &r).unwrap().sum_all().unwrap().backward().unwrap();
        let gg = (got * &r).unwrap().sum_all().unwrap().backward().unwrap();
        let (a, b) = (gg.get(&x).unwrap(), gw.get(&x).unwrap());
        assert!(
            diff(a, b) <= 1e-4 * diff(b, &b.zeros_like().unwrap()),
            "gradients differ"
        );
    }
}
