//! Residual block of the UNet: GroupNorm → SiLU → 3×3 conv, plus the projected time
//! embedding, then GroupNorm → SiLU → dropout → 3×3 conv, plus a (1×1-projected) skip.

use candle_core::Tensor;
use candle_nn::{Linear, Module, VarBuilder};

use crate::dropout::Dropout;
use crate::error::Result;
use crate::init::linear;
use crate::layers::{Conv, ConvAdd, Norm, norm_silu_conv};

/// `ResBlock(cin, cout)` of `unet_bench.py`:
/// ```text
/// h = conv1(silu(norm1(x)))                 cin → cout
/// h = h + time_proj(silu(temb))[:, :, None, None]
/// h = conv2(dropout(silu(norm2(h))))        cout → cout
/// return h + (x if cin == cout else skip(x))   skip: 1×1 conv
/// ```
/// Tensor names under its prefix: `norm1.{weight,bias}` (cin), `conv1.{weight,bias}`
/// (cout, cin, 3, 3), `time_proj.{weight,bias}` (cout, tdim), `norm2.*` (cout),
/// `conv2.*` (cout, cout, 3, 3), and `skip.*` (cout, cin, 1, 1) only when cin ≠ cout.
#[derive(Debug, Clone)]
pub struct ResBlock {
    norm1: Norm,
    conv1: Conv,
    time_proj: Linear,
    norm2: Norm,
    conv2: Conv,
    skip: Option<Conv>,
}

impl ResBlock {
    /// Block from `cin` to `cout` channels with time-embedding width `tdim`.
    pub fn new(
        cin: usize,
        cout: usize,
        tdim: usize,
        groups: usize,
        vb: VarBuilder,
    ) -> Result<Self> {
        Ok(Self {
            norm1: Norm::new(groups, cin, vb.pp("norm1"))?,
            conv1: Conv::new(cin, cout, 3, 1, vb.pp("conv1"))?,
            time_proj: linear(tdim, cout, vb.pp("time_proj"))?,
            norm2: Norm::new(groups, cout, vb.pp("norm2"))?,
            conv2: Conv::new(cout, cout, 3, 1, vb.pp("conv2"))?,
            skip: if cin != cout {
                Some(Conv::new(cin, cout, 1, 1, vb.pp("skip"))?)
            } else {
                None
            },
        })
    }

    /// `x`: (N, cin, H, W); `temb_silu`: (N, tdim), the time embedding *after* SiLU (computed
    /// once per forward in the UNet). Returns (N, cout, H, W).
    pub fn forward(
        &self,
        x: &Tensor,
        temb_silu: &Tensor,
        dropout: &Dropout,
        train: bool,
    ) -> Result<Tensor> {
        let t = self.time_proj.forward(temb_silu)?;
        let h = norm_silu_conv(&self.norm1, &self.conv1, x, ConvAdd::SampleBias(&t))?;
        let s = match &self.skip {
            Some(c) => c.forward(x)?,
            None => x.clone(),
        };
        if dropout.is_identity(train) {
            return norm_silu_conv(&self.norm2, &self.conv2, &h, ConvAdd::Residual(&s));
        }
        let h = dropout.forward(&self.norm2.forward(&h, true)?, train)?;
        self.conv2.forward_plus(&h, &s)
    }
}
