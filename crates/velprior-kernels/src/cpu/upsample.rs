//! Nearest-neighbour ×2 upsampling of (N, C, H, W) images, with its adjoint (the sum over each
//! 2×2 block) as the backward pass. candle's own backward for `upsample_nearest2d` is a grouped
//! convolution with one group per channel, far slower than this one pass.

use std::mem::MaybeUninit;

use candle_core::{CpuStorage, CustomOp1, Layout, Shape, Tensor};
use rayon::prelude::*;

use super::{check_cpu_f32, cpu_slice, written_vec};
use crate::{Error, Result};

const OP: &str = "upsample_nearest2x";

/// `x` (N, C, H, W) → (N, C, 2H, 2W), each pixel repeated over a 2×2 block (as
/// `torch.nn.functional.interpolate(x, scale_factor=2, mode="nearest")`). Differentiable;
/// f32 on the CPU only.
pub fn upsample_nearest2x(x: &Tensor) -> Result<Tensor> {
    check_cpu_f32(OP, &[x])?;
    x.dims4()
        .map_err(|_| Error::arg(OP, format!("x must be (N, C, H, W), got {:?}", x.dims())))?;
    Ok(x.contiguous()?.apply_op1(Upsample2x)?)
}

/// The forward op.
struct Upsample2x;

impl CustomOp1 for Upsample2x {
    fn name(&self) -> &'static str {
        OP
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let x = cpu_slice(OP, s, l)?;
        let (n, c, h, w) = l.shape().dims4()?;
        let fill = |y: &mut [MaybeUninit<f32>]| {
            y.par_chunks_mut(4 * h * w)
                .zip(x.par_chunks(h * w))
                .for_each(|(yp, xp)| {
                    for (yrows, xrow) in yp.chunks_exact_mut(4 * w).zip(xp.chunks_exact(w)) {
                        let (top, bottom) = yrows.split_at_mut(2 * w);
                        for (pair, &v) in top.chunks_exact_mut(2).zip(xrow) {
                            pair[0].write(v);
                            pair[1].write(v);
                        }
                        bottom.copy_from_slice(top);
                    }
                })
        };
        // SAFETY: each input row writes both halves of its two output rows.
        let y = unsafe { written_vec(4 * x.len(), fill) };
        Ok((CpuStorage::F32(y), Shape::from((n, c, 2 * h, 2 * w))))
    }

    fn bwd(&self, _x: &Tensor, _y: &Tensor, dy: &Tensor) -> candle_core::Result<Option<Tensor>> {
        Ok(Some(dy.contiguous()?.apply_op1_no_bwd(&BlockSum2x2)?))
    }
}

/// The adjoint: (N, C, 2H, 2W) → (N, C, H, W), the sum of each 2×2 block.
struct BlockSum2x2;

impl CustomOp1 for BlockSum2x2 {
    fn name(&self) -> &'static str {
        "upsample_nearest2x_grad"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let dy = cpu_slice(self.name(), s, l)?;
        let (n, c, h2, w2) = l.shape().dims4()?;
        let (h, w) = (h2 / 2, w2 / 2);
        let fill = |dx: &mut [MaybeUninit<f32>]| {
            dx.par_chunks_mut(h * w)
                .zip(dy.par_chunks(4 * h * w))
                .for_each(|(xp, yp)| {
                    for (xrow, yrows) in xp.chunks_exact_mut(w).zip(yp.chunks_exact(4 * w)) {
                        let (top, bottom) = yrows.split_at(2 * w);
                        for ((d, t), b) in xrow
                            .iter_mut()
                            .zip(top.chunks_exact(2))
                            .zip(bottom.chunks_exact(2))
                        {
                            d.write((t[0] + t[1]) + (b[0] + b[1]));
                        }
                    }
                })
        };
        // SAFETY: every output pixel is written once.
        let dx = unsafe { written_vec(dy.len() / 4, fill) };
        Ok((CpuStorage::F32(dx), Shape::from((n, c, h, w))))
    }
}
