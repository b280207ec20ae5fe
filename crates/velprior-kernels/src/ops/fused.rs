//! Shared machinery of the fused ops: input checks, the CPU batch loop and the CUDA launch.
//!
//! Every op maps up to three input tensors of one shape (N, ...) to one output of that shape,
//! with a small row of f32 coefficients per sample n (N × stride, computed in f64 by the op's
//! public function from the schedule). The CPU loop walks the flat output in blocks, split at
//! sample boundaries, in parallel (rayon); the op's inner loop over a block is a zip of slices
//! that the compiler vectorises. The CUDA kernels share one signature:
//! `(in0, in1, in2, coef, out, sample_len, numel, flags)`, launched on a grid of (elements of a
//! sample) × (samples), grid-stride on both (`kernels/fused.cuh`).

use std::mem::MaybeUninit;

use candle_core::{CpuStorage, DType, Layout, Tensor};
use rayon::prelude::*;

use crate::{Error, Result};

/// Elements per parallel block of the CPU loop (128 KiB of f32 per input: large enough to hide
/// rayon's overhead, small enough to balance 2–64 threads on a 64 × 128 × 128 batch).
const BLOCK: usize = 1 << 15;

/// Checks that all inputs are f32 tensors of one shape with a batch dimension; returns
/// (N, elements per sample).
pub(crate) fn check_inputs(op: &'static str, inputs: &[&Tensor]) -> Result<(usize, usize)> {
    let first = inputs[0];
    if first.rank() == 0 {
        return Err(Error::arg(
            op,
            "inputs need a leading batch dimension (N, ...)",
        ));
    }
    for t in inputs {
        if t.dtype() != DType::F32 {
            return Err(Error::arg(
                op,
                format!("inputs must be f32, got {:?}", t.dtype()),
            ));
        }
        if t.shape() != first.shape() {
            return Err(Error::arg(
                op,
                format!(
                    "all inputs must have the same shape, got {:?} and {:?}",
                    first.dims(),
                    t.dims()
                ),
            ));
        }
        if !t.device().same_device(first.device()) {
            return Err(Error::arg(op, "all inputs must be on the same device"));
        }
    }
    let n = first.dims()[0];
    let sample_len = first.elem_count().checked_div(n).unwrap_or(0);
    Ok((n, sample_len))
}

/// Elements per sample of a (N, ...) layout.
pub(crate) fn sample_len(l: &Layout) -> usize {
    let n = l.dims().first().copied().unwrap_or(1);
    l.shape().elem_count().checked_div(n).unwrap_or(0)
}

/// The f32 data of a contiguous CPU input.
pub(crate) fn cpu_input<'a>(
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

/// One pass over memory: `out[i] = f(n, inputs[..][i])` for every sample n, computed block by
/// block in parallel. `f(n, ins, out)` receives equally long slices of one sample.
pub(crate) fn cpu_map<const K: usize, F>(ins: [&[f32]; K], sample_len: usize, f: F) -> Vec<f32>
where
    F: Fn(usize, [&[f32]; K], &mut [MaybeUninit<f32>]) + Sync + Send,
{
    let numel = ins[0].len();
    let mut out: Vec<f32> = Vec::with_capacity(numel);
    if numel > 0 {
        out.spare_capacity_mut()[..numel]
            .par_chunks_mut(BLOCK)
            .enumerate()
            .for_each(|(bi, chunk)| {
                let start = bi * BLOCK;
                let end = start + chunk.len();
                let mut i = start;
                while i < end {
                    let n = i / sample_len;
                    let seg_end = end.min((n + 1) * sample_len);
                    let seg = ins.map(|s| &s[i..seg_end]);
                    f(n, seg, &mut chunk[i - start..seg_end - start]);
                    i = seg_end;
                }
            });
    }
    // SAFETY: the blocks above cover 0..numel exactly once and every op's inner loop writes
    // every element of the slice it is given (all slices of a segment have equal length).
    unsafe { out.set_len(numel) };
    out
}

/// Launches `kernel` over (N, ...) inputs of one shape on their CUDA device.
#[cfg(feature = "cuda")]
pub(crate) fn cuda_launch(
    kernel: &crate::cuda::KernelSource,
    ins: &[(&candle_core::CudaStorage, &Layout)],
    coef: &[f32],
    flags: u32,
) -> candle_core::Result<candle_core::CudaStorage> {
    use candle_core::backend::BackendStorage;
    use candle_core::cuda_backend::WrapErr;
    use candle_core::cuda_backend::cudarc::driver::{LaunchConfig, PushKernelArg};

    let (s0, l0) = ins[0];
    let dev = s0.device().clone();
    let numel = l0.shape().elem_count();
    let sample_len = sample_len(l0);
    let views = ins
        .iter()
        .map(|(s, l)| {
            let slice = s.as_cuda_slice::<f32>()?;
            match l.contiguous_offsets() {
                Some((a, b)) => Ok(slice.slice(a..b)),
                None => candle_core::bail!("{}: input is not contiguous", kernel.name),
            }
        })
        .collect::<candle_core::Result<Vec<_>>>()?;
    // SAFETY: every element is written by the kernel below (grid-stride loop over numel).
    let out = unsafe { dev.alloc::<f32>(numel)? };
    if numel > 0 {
        let ptx = crate::cuda::ptx(kernel).map_err(candle_core::Error::wrap)?;
        // Loaded once per device: candle caches modules by name in each `CudaDevice`.
        let module = format!("velprior_{}", kernel.name);
        let func = dev.get_or_load_custom_func(kernel.func, &module, &ptx)?;
        let coef_dev = dev.clone_htod(coef)?;
        let (v0, v1, v2) = (
            &views[0],
            views.get(1).unwrap_or(&views[0]),
            views.get(2).unwrap_or(&views[0]),
        );
        let mut b = func.builder();
        b.arg(v0);
        b.arg(v1);
        b.arg(v2);
        b.arg(&coef_dev);
        b.arg(&out);
        b.arg(&sample_len);
        b.arg(&numel);
        b.arg(&flags);
        // x over a sample's elements, y over samples (kernels/fused.cuh), both grid-stride.
        let threads = 256u32;
        let samples = numel / sample_len;
        let blocks_x = sample_len.div_ceil(threads as usize).min(1 << 20) as u32;
        let blocks_y = samples.min(65_535) as u32;
        let cfg = LaunchConfig {
            grid_dim: (blocks_x, blocks_y, 1),
            block_dim: (threads, 1, 1),
            shared_mem_bytes: 0,
        };
        // SAFETY: the argument list matches the kernel signature shared by kernels/*.cu.
        unsafe { b.launch(cfg) }.w()?;
    }
    Ok(candle_core::CudaStorage::wrap_cuda_slice(out, dev))
}

/// Kernel flag: a noise input z is present (in2).
#[cfg_attr(not(feature = "cuda"), allow(dead_code))]
pub(crate) const HAS_Z: u32 = 1;
/// Kernel flag: clip x̂_0 to [lo, hi].
pub(crate) const CLIP: u32 = 2;

/// out = a x + b e (+ g z): the inner loop of the noise-adding steps.
pub(crate) fn affine3(
    a: f32,
    b: f32,
    g: f32,
    x: &[f32],
    e: &[f32],
    z: Option<&[f32]>,
    out: &mut [MaybeUninit<f32>],
) {
    match z {
        Some(z) => {
            for (((o, &x), &e), &z) in out.iter_mut().zip(x).zip(e).zip(z) {
                o.write(a * x + b * e + g * z);
            }
        }
        None => {
            for ((o, &x), &e) in out.iter_mut().zip(x).zip(e) {
                o.write(a * x + b * e);
            }
        }
    }
}

/// v clamped to [lo, hi], NaN mapping to lo like CUDA's `fminf(fmaxf(v, lo), hi)`. Written with
/// comparisons (not `f32::max`) so that the loops using it vectorise to `maxps`/`minps`.
#[inline(always)]
pub(crate) fn clip(v: f32, lo: f32, hi: f32) -> f32 {
    let v = if v > lo { v } else { lo };
    if v < hi { v } else { hi }
}

/// Validates optional clip bounds; returns them (±∞ when absent).
pub(crate) fn check_clip(op: &'static str, clip: Option<(f32, f32)>) -> Result<(f32, f32)> {
    match clip {
        None => Ok((f32::NEG_INFINITY, f32::INFINITY)),
        Some((lo, hi)) if lo <= hi => Ok((lo, hi)),
        Some((lo, hi)) => Err(Error::arg(
            op,
            format!("clip bounds must satisfy lo <= hi, got ({lo}, {hi})"),
        )),
    }
}
