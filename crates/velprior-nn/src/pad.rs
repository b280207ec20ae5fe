//! Padding of (N, C, H, W) images up to a multiple of the UNet's downsampling factor, and the
//! crop back.

use candle_core::Tensor;

use crate::config::PadMode;
use crate::error::{NnError, Result};

/// Pad `x` (N, C, H, W) at the bottom and right so that H and W become multiples of `m`.
/// Returns the padded tensor, (N, C, ⌈H/m⌉·m, ⌈W/m⌉·m). Gradients flow through the padding.
pub fn pad_to_multiple(x: &Tensor, m: usize, mode: PadMode) -> Result<Tensor> {
    let (_, _, h, w) = x.dims4()?;
    let ph = h.div_ceil(m) * m - h;
    let pw = w.div_ceil(m) * m - w;
    let x = pad_axis(x, 2, ph, mode)?;
    pad_axis(&x, 3, pw, mode)
}

fn pad_axis(x: &Tensor, dim: usize, pad: usize, mode: PadMode) -> Result<Tensor> {
    if pad == 0 {
        return Ok(x.clone());
    }
    let n = x.dim(dim)?;
    match mode {
        PadMode::Replicate => Ok(x.pad_with_same(dim, 0, pad)?),
        PadMode::Reflect => {
            if pad >= n {
                return Err(NnError::Shape(format!(
                    "reflect padding by {pad} needs a size larger than {pad} along axis {dim}, \
                     got {n}; use pad_mode = \"replicate\""
                )));
            }
            // indices n-2, n-3, ..., n-1-pad (mirror without repeating the edge)
            let idx: Vec<u32> = (0..pad).map(|i| (n - 2 - i) as u32).collect();
            let idx = Tensor::from_vec(idx, pad, x.device())?;
            let tail = x.index_select(&idx, dim)?;
            Ok(Tensor::cat(&[x, &tail], dim)?)
        }
    }
}

/// Crop (N, C, H', W') back to its top-left (N, C, h, w).
pub fn crop(x: &Tensor, h: usize, w: usize) -> Result<Tensor> {
    let (_, _, hh, ww) = x.dims4()?;
    if hh == h && ww == w {
        return Ok(x.clone());
    }
    Ok(x.narrow(2, 0, h)?.narrow(3, 0, w)?)
}
