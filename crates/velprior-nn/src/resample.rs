//! Down- and upsampling between UNet levels (factor 2 in H and W).

use candle_core::Tensor;
use candle_nn::{Conv2d, Module, VarBuilder};

use crate::error::Result;
use crate::init::conv2d;

/// 3×3 conv with stride 2 and padding 1 (c → c): (N, c, H, W) → (N, c, ⌈H/2⌉, ⌈W/2⌉).
/// Tensor names: `conv.{weight,bias}` (c, c, 3, 3).
#[derive(Debug, Clone)]
pub struct Downsample {
    conv: Conv2d,
}

impl Downsample {
    /// Downsampling conv on `c` channels.
    pub fn new(c: usize, vb: VarBuilder) -> Result<Self> {
        Ok(Self {
            conv: conv2d(c, c, 3, 2, vb.pp("conv"))?,
        })
    }

    /// `x`: (N, c, H, W) → (N, c, ⌈H/2⌉, ⌈W/2⌉).
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        Ok(self.conv.forward(x)?)
    }
}

/// Nearest-neighbour ×2 upsampling then a 3×3 conv (c → c): (N, c, H, W) → (N, c, 2H, 2W).
/// Tensor names: `conv.{weight,bias}` (c, c, 3, 3).
#[derive(Debug, Clone)]
pub struct Upsample {
    conv: Conv2d,
}

impl Upsample {
    /// Upsampling conv on `c` channels.
    pub fn new(c: usize, vb: VarBuilder) -> Result<Self> {
        Ok(Self {
            conv: conv2d(c, c, 3, 1, vb.pp("conv"))?,
        })
    }

    /// `x`: (N, c, H, W) → (N, c, 2H, 2W).
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (_, _, h, w) = x.dims4()?;
        Ok(self.conv.forward(&x.upsample_nearest2d(2 * h, 2 * w)?)?)
    }
}
