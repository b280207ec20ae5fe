//! Convolutional regularised autoencoder for 2-D velocity models (N, C, H, W).

use candle_core::{Device, Tensor};
use candle_nn::{Conv2d, Linear, Module, VarBuilder};
use serde::{Deserialize, Serialize};

use crate::autoencoder::{Autoencoder, Decoder};
use crate::config::PadMode;
use crate::error::{NnError, Result, config_err};
use crate::init::{conv2d, linear};
use crate::pad::{crop, pad_to_multiple};

/// Architecture of [`ConvAutoencoder`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConvAeConfig {
    /// Channels of a model (1).
    pub in_channels: usize,
    /// Depth samples H of the models it is built for.
    pub height: usize,
    /// Lateral samples W.
    pub width: usize,
    /// Channels after each stride-2 stage, e.g. [16, 32, 64] (3 halvings).
    pub channels: Vec<usize>,
    /// Latent dimension k.
    pub latent_dim: usize,
    /// Weight λ of the latent penalty λ‖E(x)‖² (used by the trainer).
    #[serde(default = "default_lambda")]
    pub lambda: f64,
    /// Padding of H, W up to a multiple of 2^stages.
    #[serde(default)]
    pub pad_mode: PadMode,
    /// A variational encoder: a second head predicts log σ² of q(z | x).
    #[serde(default)]
    pub variational: bool,
}

fn default_lambda() -> f64 {
    1e-3
}

impl ConvAeConfig {
    /// Check every key.
    pub fn validate(&self) -> Result<()> {
        if self.in_channels == 0 {
            return Err(config_err("in_channels", "must be at least 1"));
        }
        if self.height == 0 || self.width == 0 {
            return Err(config_err("height", "height and width must be at least 1"));
        }
        if self.channels.is_empty() || self.channels.contains(&0) {
            return Err(config_err(
                "channels",
                "list at least one stage, each with at least 1 channel, e.g. [16, 32, 64]",
            ));
        }
        if self.channels.len() > 10 {
            return Err(config_err("channels", "more than 10 stages"));
        }
        if self.latent_dim == 0 {
            return Err(config_err("latent_dim", "must be at least 1"));
        }
        if !(self.lambda >= 0.0 && self.lambda.is_finite()) {
            return Err(config_err("lambda", "must be a finite number ≥ 0"));
        }
        Ok(())
    }

    fn padded(&self) -> (usize, usize) {
        let m = 1usize << self.channels.len();
        (self.height.div_ceil(m) * m, self.width.div_ceil(m) * m)
    }

    /// Spatial size of the coarsest feature map.
    fn bottleneck(&self) -> (usize, usize) {
        let (h, w) = self.padded();
        let s = self.channels.len();
        (h >> s, w >> s)
    }
}

/// Encoder: pad → conv_in 3×3 (C → c0) → per stage SiLU + 3×3 stride-2 conv → flatten →
/// Linear → z. Decoder: Linear → SiLU → reshape → per stage nearest ×2 + 3×3 conv + SiLU →
/// conv_out 3×3 → crop to H×W.
///
/// Tensor names: `encoder.conv_in.*`, `encoder.down.{s}.*` (c_s, c_{s−1}, 3, 3),
/// `encoder.fc.*` (k, c_last·h·w) (the mean of a variational encoder; its log σ² head is
/// `encoder.fc_log_var.*`, same shape), `decoder.fc.*` (c_last·h·w, k), `decoder.up.{s}.*`
/// (c_{s−1}, c_s, 3, 3) applied from the deepest `s` up, `decoder.conv_out.*` (C, c0, 3, 3).
#[derive(Debug, Clone)]
pub struct ConvAutoencoder {
    cfg: ConvAeConfig,
    enc_in: Conv2d,
    enc_down: Vec<Conv2d>,
    enc_fc: Linear,
    enc_log_var: Option<Linear>,
    dec_fc: Linear,
    dec_up: Vec<Conv2d>,
    dec_out: Conv2d,
}

impl ConvAutoencoder {
    /// Build from a validated config and a `VarBuilder`.
    pub fn new(cfg: &ConvAeConfig, vb: VarBuilder) -> Result<Self> {
        cfg.validate()?;
        let ch = &cfg.channels;
        let c0 = ch[0];
        let (bh, bw) = cfg.bottleneck();
        let flat = ch[ch.len() - 1] * bh * bw;
        let venc = vb.pp("encoder");
        let vdec = vb.pp("decoder");
        let mut enc_down = Vec::new();
        let mut dec_up = Vec::new();
        for s in 0..ch.len() {
            let cin = if s == 0 { c0 } else { ch[s - 1] };
            enc_down.push(conv2d(cin, ch[s], 3, 2, venc.pp(format!("down.{s}")))?);
            dec_up.push(conv2d(ch[s], cin, 3, 1, vdec.pp(format!("up.{s}")))?);
        }
        Ok(Self {
            cfg: cfg.clone(),
            enc_in: conv2d(cfg.in_channels, c0, 3, 1, venc.pp("conv_in"))?,
            enc_down,
            enc_fc: linear(flat, cfg.latent_dim, venc.pp("fc"))?,
            enc_log_var: if cfg.variational {
                Some(linear(flat, cfg.latent_dim, venc.pp("fc_log_var"))?)
            } else {
                None
            },
            dec_fc: linear(cfg.latent_dim, flat, vdec.pp("fc"))?,
            dec_up,
            dec_out: conv2d(c0, cfg.in_channels, 3, 1, vdec.pp("conv_out"))?,
        })
    }

    /// The encoder up to its heads: x (N, C, H, W) → the flattened coarsest features.
    fn trunk(&self, x: &Tensor) -> Result<Tensor> {
        let c = &self.cfg;
        if x.dims().len() != 4 || x.dims()[1..] != [c.in_channels, c.height, c.width] {
            return Err(NnError::Shape(format!(
                "conv autoencoder expects (N, {}, {}, {}), got {:?}",
                c.in_channels,
                c.height,
                c.width,
                x.dims()
            )));
        }
        let m = 1usize << c.channels.len();
        let mut h = self.enc_in.forward(&pad_to_multiple(x, m, c.pad_mode)?)?;
        for conv in &self.enc_down {
            h = conv.forward(&h.silu()?)?;
        }
        Ok(h.silu()?.flatten_from(1)?)
    }

    /// The configuration.
    pub fn config(&self) -> &ConvAeConfig {
        &self.cfg
    }
}

impl Decoder for ConvAutoencoder {
    fn latent_dim(&self) -> usize {
        self.cfg.latent_dim
    }

    fn device(&self) -> &Device {
        self.enc_in.weight().device()
    }

    fn model_dims(&self) -> Vec<usize> {
        vec![1, self.cfg.height, self.cfg.width]
    }

    /// z (N, k) → x̂ (N, C, H, W).
    fn decode(&self, z: &Tensor) -> Result<Tensor> {
        let c = &self.cfg;
        if z.rank() != 2 || z.dim(1)? != c.latent_dim {
            return Err(NnError::Shape(format!(
                "conv autoencoder expects latents (N, {}), got {:?}",
                c.latent_dim,
                z.dims()
            )));
        }
        let n = z.dim(0)?;
        let (bh, bw) = c.bottleneck();
        let clast = c.channels[c.channels.len() - 1];
        let mut h = self
            .dec_fc
            .forward(z)?
            .silu()?
            .reshape((n, clast, bh, bw))?;
        for conv in self.dec_up.iter().rev() {
            let (_, _, hh, ww) = h.dims4()?;
            h = conv
                .forward(&h.upsample_nearest2d(2 * hh, 2 * ww)?)?
                .silu()?;
        }
        crop(&self.dec_out.forward(&h)?, c.height, c.width)
    }

    fn as_autoencoder(&self) -> Option<&dyn Autoencoder> {
        Some(self)
    }
}

impl Autoencoder for ConvAutoencoder {
    /// x (N, C, H, W) with the configured C, H, W → z (N, k).
    fn encode(&self, x: &Tensor) -> Result<Tensor> {
        Ok(self.enc_fc.forward(&self.trunk(x)?)?)
    }

    fn encode_gaussian(&self, x: &Tensor) -> Result<(Tensor, Option<Tensor>)> {
        let h = self.trunk(x)?;
        let log_var = match &self.enc_log_var {
            Some(head) => Some(head.forward(&h)?),
            None => None,
        };
        Ok((self.enc_fc.forward(&h)?, log_var))
    }
}
