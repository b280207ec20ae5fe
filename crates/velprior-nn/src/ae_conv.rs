//! Convolutional regularised autoencoder for 2-D velocity models (N, C, H, W).

use candle_core::{Device, Tensor};
use candle_nn::{Linear, Module, VarBuilder};
use serde::{Deserialize, Serialize};

use crate::autoencoder::{Autoencoder, Decoder};
use crate::config::PadMode;
use crate::conv_decoder::{ConvDecoder, bottleneck};
use crate::error::{NnError, Result, config_err};
use crate::init::linear;
use crate::layers::Conv;
use crate::pad::pad_to_multiple;

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
}

/// Encoder: pad → conv_in 3×3 (C → c0) → per stage SiLU + 3×3 stride-2 conv → flatten →
/// Linear → z. Decoder: a [`ConvDecoder`].
///
/// Tensor names: `encoder.conv_in.*`, `encoder.down.{s}.*` (c_s, c_{s−1}, 3, 3),
/// `encoder.fc.*` (k, c_last·h·w) (the mean of a variational encoder; its log σ² head is
/// `encoder.fc_log_var.*`, same shape), `decoder.*` (see [`ConvDecoder`]).
#[derive(Debug, Clone)]
pub struct ConvAutoencoder {
    cfg: ConvAeConfig,
    enc_in: Conv,
    enc_down: Vec<Conv>,
    enc_fc: Linear,
    enc_log_var: Option<Linear>,
    decoder: ConvDecoder,
}

impl ConvAutoencoder {
    /// Build from a validated config and a `VarBuilder`.
    pub fn new(cfg: &ConvAeConfig, vb: VarBuilder) -> Result<Self> {
        cfg.validate()?;
        let ch = &cfg.channels;
        let c0 = ch[0];
        let (bh, bw) = bottleneck([cfg.height, cfg.width], ch.len());
        let flat = ch[ch.len() - 1] * bh * bw;
        let venc = vb.pp("encoder");
        let mut enc_down = Vec::new();
        for s in 0..ch.len() {
            let cin = if s == 0 { c0 } else { ch[s - 1] };
            enc_down.push(Conv::new(cin, ch[s], 3, 2, venc.pp(format!("down.{s}")))?);
        }
        Ok(Self {
            cfg: cfg.clone(),
            enc_in: Conv::new(cfg.in_channels, c0, 3, 1, venc.pp("conv_in"))?,
            enc_down,
            enc_fc: linear(flat, cfg.latent_dim, venc.pp("fc"))?,
            enc_log_var: if cfg.variational {
                Some(linear(flat, cfg.latent_dim, venc.pp("fc_log_var"))?)
            } else {
                None
            },
            decoder: ConvDecoder::new(
                cfg.in_channels,
                [cfg.height, cfg.width],
                ch,
                cfg.latent_dim,
                vb.pp("decoder"),
            )?,
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
        self.enc_in.device()
    }

    fn model_dims(&self) -> Vec<usize> {
        vec![1, self.cfg.height, self.cfg.width]
    }

    /// z (N, k) → x̂ (N, C, H, W).
    fn decode(&self, z: &Tensor) -> Result<Tensor> {
        self.decoder.decode(z)
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
