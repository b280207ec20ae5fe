//! The convolutional decoder shared by the conv autoencoder and the GAN's generator:
//! z (N, k) → Linear → SiLU → reshape to the coarsest feature map → per stage nearest ×2 +
//! 3×3 conv + SiLU → 3×3 conv_out → crop to H×W.

use candle_core::{Device, Tensor};
use candle_nn::{Linear, Module, VarBuilder};

use crate::autoencoder::Decoder;
use crate::error::{NnError, Result};
use crate::init::linear;
use crate::layers::{Conv, upsample_nearest2x};
use crate::pad::crop;

/// Tensor names (under the builder's prefix): `fc.*` (c_last·h·w, k), `up.{s}.*`
/// (c_{s−1}, c_s, 3, 3) applied from the deepest `s` up, `conv_out.*` (C, c0, 3, 3).
#[derive(Debug, Clone)]
pub struct ConvDecoder {
    channels: usize,
    size: [usize; 2],
    stages: Vec<usize>,
    latent_dim: usize,
    fc: Linear,
    up: Vec<Conv>,
    out: Conv,
}

/// (H, W) rounded up to a multiple of 2^stages, halved `stages` times: the coarsest map.
pub(crate) fn bottleneck([h, w]: [usize; 2], stages: usize) -> (usize, usize) {
    let m = 1usize << stages;
    (h.div_ceil(m), w.div_ceil(m))
}

impl ConvDecoder {
    /// A decoder of `latent_dim` codes into (`channels`, H, W) models, `stages` channel
    /// counts after each stride-2 stage of the matching encoder (e.g. [16, 32, 64]); the
    /// caller has validated the sizes.
    pub fn new(
        channels: usize,
        size: [usize; 2],
        stages: &[usize],
        latent_dim: usize,
        vb: VarBuilder,
    ) -> Result<Self> {
        let (bh, bw) = bottleneck(size, stages.len());
        let last = stages[stages.len() - 1];
        let mut up = Vec::with_capacity(stages.len());
        for s in 0..stages.len() {
            let cout = if s == 0 { stages[0] } else { stages[s - 1] };
            up.push(Conv::new(stages[s], cout, 3, 1, vb.pp(format!("up.{s}")))?);
        }
        Ok(Self {
            channels,
            size,
            stages: stages.to_vec(),
            latent_dim,
            fc: linear(latent_dim, last * bh * bw, vb.pp("fc"))?,
            up,
            out: Conv::new(stages[0], channels, 3, 1, vb.pp("conv_out"))?,
        })
    }
}

impl Decoder for ConvDecoder {
    fn latent_dim(&self) -> usize {
        self.latent_dim
    }

    fn device(&self) -> &Device {
        self.out.device()
    }

    fn model_dims(&self) -> Vec<usize> {
        vec![self.channels, self.size[0], self.size[1]]
    }

    /// z (N, k) → x̂ (N, C, H, W).
    fn decode(&self, z: &Tensor) -> Result<Tensor> {
        if z.rank() != 2 || z.dim(1)? != self.latent_dim {
            return Err(NnError::Shape(format!(
                "the conv decoder expects latents (N, {}), got {:?}",
                self.latent_dim,
                z.dims()
            )));
        }
        let n = z.dim(0)?;
        let (bh, bw) = bottleneck(self.size, self.stages.len());
        let last = self.stages[self.stages.len() - 1];
        let mut h = self.fc.forward(z)?.silu()?.reshape((n, last, bh, bw))?;
        for conv in self.up.iter().rev() {
            h = conv.forward(&upsample_nearest2x(&h)?)?.silu()?;
        }
        crop(&self.out.forward(&h)?, self.size[0], self.size[1])
    }
}
