//! What a fused op states — its kernel, coefficients, flags and the loop over one sample's
//! elements ([`RowOp`]) — and the one candle op of two or three inputs that runs it on CPU
//! tensors (the parallel block loop of `fused`) or CUDA tensors (the kernel) ([`Fused`]).

use std::mem::MaybeUninit;

use candle_core::{CpuStorage, CustomOp2, CustomOp3, Layout, Shape, Tensor};

use super::fused;
use crate::Result;
use crate::cuda::KernelSource;

/// An elementwise op over two or three (N, ...) f32 inputs with coefficients per sample.
pub(crate) trait RowOp: Send + Sync {
    /// Its CUDA kernel (`kernels/<name>.cu`).
    fn kernel(&self) -> &'static KernelSource;
    /// The coefficients the kernel reads.
    #[cfg_attr(not(feature = "cuda"), allow(dead_code))]
    fn coef(&self) -> &[f32];
    /// The kernel's flags when it gets `inputs` (2 or 3) inputs.
    #[cfg_attr(not(feature = "cuda"), allow(dead_code))]
    fn flags(&self, inputs: usize) -> u32;
    /// Writes `out` from equally long slices `a`, `b` (and `c`) of sample `n`'s elements.
    fn row(&self, n: usize, a: &[f32], b: &[f32], c: Option<&[f32]>, out: &mut [MaybeUninit<f32>]);
}

/// A [`RowOp`] as a candle op.
pub(crate) struct Fused<T>(pub T);

/// Applies `op` to `a`, `b` and, when given, `c` (made contiguous); no gradient.
pub(crate) fn apply<T: RowOp>(op: T, a: &Tensor, b: &Tensor, c: Option<&Tensor>) -> Result<Tensor> {
    let (a, b, op) = (a.contiguous()?, b.contiguous()?, Fused(op));
    Ok(match c {
        Some(c) => a.apply_op3_no_bwd(&b, &c.contiguous()?, &op)?,
        None => a.apply_op2_no_bwd(&b, &op)?,
    })
}

impl<T: RowOp> CustomOp2 for Fused<T> {
    fn name(&self) -> &'static str {
        self.0.kernel().name
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let a = fused::cpu_input(self.0.kernel().name, s1, l1)?;
        let b = fused::cpu_input(self.0.kernel().name, s2, l2)?;
        let out = fused::cpu_map([a, b], fused::sample_len(l1), |n, [a, b], o| {
            self.0.row(n, a, b, None, o)
        });
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }

    #[cfg(feature = "cuda")]
    fn cuda_fwd(
        &self,
        s1: &candle_core::CudaStorage,
        l1: &Layout,
        s2: &candle_core::CudaStorage,
        l2: &Layout,
    ) -> candle_core::Result<(candle_core::CudaStorage, Shape)> {
        let (op, ins) = (&self.0, [(s1, l1), (s2, l2)]);
        let out = fused::cuda_launch(op.kernel(), &ins, op.coef(), op.flags(2))?;
        Ok((out, l1.shape().clone()))
    }
}

impl<T: RowOp> CustomOp3 for Fused<T> {
    fn name(&self) -> &'static str {
        self.0.kernel().name
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let a = fused::cpu_input(self.0.kernel().name, s1, l1)?;
        let b = fused::cpu_input(self.0.kernel().name, s2, l2)?;
        let c = fused::cpu_input(self.0.kernel().name, s3, l3)?;
        let out = fused::cpu_map([a, b, c], fused::sample_len(l1), |n, [a, b, c], o| {
            self.0.row(n, a, b, Some(c), o)
        });
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }

    #[cfg(feature = "cuda")]
    fn cuda_fwd(
        &self,
        s1: &candle_core::CudaStorage,
        l1: &Layout,
        s2: &candle_core::CudaStorage,
        l2: &Layout,
        s3: &candle_core::CudaStorage,
        l3: &Layout,
    ) -> candle_core::Result<(candle_core::CudaStorage, Shape)> {
        let (op, ins) = (&self.0, [(s1, l1), (s2, l2), (s3, l3)]);
        let out = fused::cuda_launch(op.kernel(), &ins, op.coef(), op.flags(3))?;
        Ok((out, l1.shape().clone()))
    }
}

/// out = a_n x + b_n y with coefficients [a_n, b_n] per sample: the forward noising, Tweedie's
/// x̂₀, the v-parameterisation and the guided update, each with its own kernel.
pub(crate) struct Affine2 {
    pub kernel: &'static KernelSource,
    pub coef: Vec<f32>,
}

impl RowOp for Affine2 {
    fn kernel(&self) -> &'static KernelSource {
        self.kernel
    }

    fn coef(&self) -> &[f32] {
        &self.coef
    }

    fn flags(&self, _inputs: usize) -> u32 {
        0
    }

    fn row(&self, n: usize, x: &[f32], y: &[f32], _: Option<&[f32]>, out: &mut [MaybeUninit<f32>]) {
        let (a, b) = (self.coef[2 * n], self.coef[2 * n + 1]);
        for ((o, &x), &y) in out.iter_mut().zip(x).zip(y) {
            o.write(a * x + b * y);
        }
    }
}

/// out = A_n x + B_n ε (+ G_n z) with coefficients [A_n, B_n, G_n] per sample: the
/// Euler–Maruyama and Langevin steps, each with its own kernel.
pub(crate) struct Affine3 {
    pub kernel: &'static KernelSource,
    pub coef: Vec<f32>,
}

impl RowOp for Affine3 {
    fn kernel(&self) -> &'static KernelSource {
        self.kernel
    }

    fn coef(&self) -> &[f32] {
        &self.coef
    }

    fn flags(&self, inputs: usize) -> u32 {
        if inputs == 3 { fused::HAS_Z } else { 0 }
    }

    fn row(&self, n: usize, x: &[f32], e: &[f32], z: Option<&[f32]>, out: &mut [MaybeUninit<f32>]) {
        let c = &self.coef[3 * n..3 * n + 3];
        fused::affine3(c[0], c[1], c[2], x, e, z, out);
    }
}
