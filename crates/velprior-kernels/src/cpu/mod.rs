//! CPU kernels for the UNet's hot operations, as candle custom ops with analytic backward passes:
//! [`conv2d()`] (3×3 stride-1 convs on AVX-512 or AVX2: Winograd F(2×2, 3×3) with at least 32
//! channels in and out, a direct kernel with fewer — [`force_winograd`] or
//! `VELPRIOR_WINOGRAD=0` turns the first off; im2col / col2im on the `gemm` crate for other
//! geometries and CPUs; bias fused; the level in [`simd()`], `VELPRIOR_SIMD` or [`force_simd`]
//! picks it), [`group_norm()`] (fused
//! GroupNorm + optional SiLU), [`group_norm_conv2d`] (the two as one graph node),
//! [`upsample_nearest2x`] and [`adamw_step`] (fused AdamW update of one parameter tensor).
//!
//! They take and return f32 tensors on `Device::Cpu` and return an error on any other device:
//! callers keep candle's own ops there. Work is split over the batch with rayon (or inside
//! gemm when the batch is smaller than the thread pool); reductions over the batch (weight,
//! bias and affine gradients) are summed in a fixed order, so every result is bitwise
//! reproducible whatever the thread count. Gradients of gradients are not supported.

pub mod adamw;
mod allocator;
mod channels_last;
pub mod conv2d;
mod conv2d_grad;
mod conv3x3;
mod gemm;
pub mod group_norm;
mod group_norm_conv;
mod im2col;
mod lane_sums;
mod simd;
mod taps;
mod thread_count;
mod upsample;
mod winograd;

pub use adamw::{AdamWStep, adamw_step, sum_squares};
pub use allocator::keep_freed_buffers;
pub use conv2d::{conv2d, conv2d_add, conv2d_backward};
pub use group_norm::group_norm;
pub use group_norm_conv::{GroupNormSpec, group_norm_conv2d};
pub use simd::{Simd, detected_simd, force_simd, simd};
pub use thread_count::fix_thread_count;
pub use upsample::upsample_nearest2x;
pub use winograd::{force_winograd, winograd_enabled};

use std::mem::MaybeUninit;

use candle_core::{CpuStorage, DType, Layout, Tensor};

use crate::{Error, Result};

/// Samples per partial sum of a batch reduction: at most 8 partials, independent of the thread
/// count (so results do not depend on it).
pub(crate) fn reduction_chunk(n: usize) -> usize {
    n.div_ceil(8).max(1)
}

/// Threads to give each gemm when `tasks` independent tasks run in parallel.
pub(crate) fn gemm_threads(tasks: usize) -> usize {
    let pool = rayon::current_num_threads();
    if tasks >= pool { 1 } else { pool }
}

/// A vector of `len` f32s written by `fill`, without zeroing it first (for outputs whose every
/// element a kernel writes).
///
/// # Safety
/// `fill` must write every element of the slice it is given.
pub(crate) unsafe fn written_vec(
    len: usize,
    fill: impl FnOnce(&mut [MaybeUninit<f32>]),
) -> Vec<f32> {
    let mut v = Vec::with_capacity(len);
    fill(&mut v.spare_capacity_mut()[..len]);
    // SAFETY: the caller's `fill` initialised the first `len` elements.
    unsafe { v.set_len(len) };
    v
}

/// The f32 data of a contiguous CPU input.
pub(crate) fn cpu_slice<'a>(
    op: &'static str,
    s: &'a CpuStorage,
    l: &Layout,
) -> candle_core::Result<&'a [f32]> {
    let data = s.as_slice::<f32>()?;
    match l.contiguous_offsets() {
        Some((a, b)) => Ok(&data[a..b]),
        None => Err(candle_core::Error::Msg(format!(
            "{op}: input is not contiguous"
        ))),
    }
}

/// Checks that every tensor is f32 on the CPU.
pub(crate) fn check_cpu_f32(op: &'static str, ts: &[&Tensor]) -> Result<()> {
    for t in ts {
        if !t.device().is_cpu() {
            return Err(Error::arg(
                op,
                "CPU-only op called on another device; use candle's own op there",
            ));
        }
        if t.dtype() != DType::F32 {
            return Err(Error::arg(
                op,
                format!("tensors must be f32, got {:?}", t.dtype()),
            ));
        }
    }
    Ok(())
}
