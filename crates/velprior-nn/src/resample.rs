//! Down- and upsampling between UNet levels (factor 2 in H and W).

use candle_core::Tensor;
use candle_nn::VarBuilder;

use crate::error::Result;
use crate::layers::{Conv, upsample_nearest2x};

/// 3×3 conv with stride 2 and padding 1 (c → c): (N, c, H, W) → (N, c, ⌈H/2⌉, ⌈W/2⌉).
/// Tensor names: `conv.{weight,bias}` (c, c, 3, 3).
#[derive(Debug, Clone)]
pub struct Downsample {
    conv: Conv,
}

impl Downsample {
    /// Downsampling conv on `c` channels.
    pub fn new(c: usize, vb: VarBuilder) -> Result<Self> {
        Ok(Self {
            conv: Conv::new(c, c, 3, 2, vb.pp("conv"))?,
        })
    }

    /// `x`: (N, c, H, W) → (N, c, ⌈H/2⌉, ⌈W/2⌉).
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.conv.forward(x)
    }
}

/// Nearest-neighbour ×2 upsampling then a 3×3 conv (c → c): (N, c, H, W) → (N, c, 2H, 2W).
/// Tensor names: `conv.{weight,bias}` (c, c, 3, 3).
#[derive(Debug, Clone)]
pub struct Upsample {
    conv: Conv,
}

impl Upsample {
    /// Upsampling conv on `c` channels.
    pub fn new(c: usize, vb: VarBuilder) -> Result<Self> {
        Ok(Self {
            conv: Conv::new(c, c, 3, 1, vb.pp("conv"))?,
        })
    }

    /// `x`: (N, c, H, W) → (N, c, 2H, 2W).
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.conv.forward(&upsample_nearest2x(x)?)
    }
}
