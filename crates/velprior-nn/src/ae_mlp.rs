//! MLP regularised autoencoder for 1-D velocity profiles (N, L) (e.g. one depth column).

use candle_core::{Device, Tensor};
use candle_nn::{Linear, Module, VarBuilder};
use serde::{Deserialize, Serialize};

use crate::autoencoder::{Autoencoder, Decoder};
use crate::error::{NnError, Result, config_err};
use crate::init::linear;

/// Architecture of [`MlpAutoencoder`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MlpAeConfig {
    /// Length L of a profile.
    pub input_dim: usize,
    /// Hidden widths of the encoder (the decoder mirrors them), e.g. [256, 128].
    pub hidden: Vec<usize>,
    /// Latent dimension k.
    pub latent_dim: usize,
    /// Weight λ of the latent penalty λ‖E(x)‖² (used by the trainer).
    #[serde(default = "default_lambda")]
    pub lambda: f64,
    /// A variational encoder: a second last layer `encoder_log_var` predicts log σ² of
    /// q(z | x) from the same features as the mean.
    #[serde(default)]
    pub variational: bool,
}

fn default_lambda() -> f64 {
    1e-3
}

impl MlpAeConfig {
    /// Check every key.
    pub fn validate(&self) -> Result<()> {
        if self.input_dim == 0 {
            return Err(config_err("input_dim", "must be at least 1"));
        }
        if self.latent_dim == 0 {
            return Err(config_err("latent_dim", "must be at least 1"));
        }
        if self.hidden.contains(&0) {
            return Err(config_err("hidden", "widths must be at least 1"));
        }
        if !(self.lambda >= 0.0 && self.lambda.is_finite()) {
            return Err(config_err("lambda", "must be a finite number ≥ 0"));
        }
        Ok(())
    }
}

/// Encoder `L → hidden… → k` and decoder `k → …hidden → L`, SiLU between linear layers.
///
/// Tensor names: `encoder.{i}.{weight,bias}` and `decoder.{i}.{weight,bias}`, `i` = layer
/// index from the input side of each network; a variational encoder's log σ² layer is
/// `encoder_log_var.{weight,bias}`.
#[derive(Debug, Clone)]
pub struct MlpAutoencoder {
    cfg: MlpAeConfig,
    encoder: Vec<Linear>,
    encoder_log_var: Option<Linear>,
    decoder: Vec<Linear>,
}

fn mlp(dims: &[usize], vb: VarBuilder) -> Result<Vec<Linear>> {
    dims.windows(2)
        .enumerate()
        .map(|(i, d)| Ok(linear(d[0], d[1], vb.pp(i.to_string()))?))
        .collect()
}

fn run(layers: &[Linear], x: &Tensor) -> Result<Tensor> {
    let mut h = x.clone();
    for (i, l) in layers.iter().enumerate() {
        h = l.forward(&h)?;
        if i + 1 < layers.len() {
            h = h.silu()?;
        }
    }
    Ok(h)
}

impl MlpAutoencoder {
    /// Build from a validated config and a `VarBuilder` (e.g. [`crate::seeded_var_builder`]).
    pub fn new(cfg: &MlpAeConfig, vb: VarBuilder) -> Result<Self> {
        cfg.validate()?;
        let mut enc = vec![cfg.input_dim];
        enc.extend(&cfg.hidden);
        enc.push(cfg.latent_dim);
        let dec: Vec<usize> = enc.iter().rev().copied().collect();
        let features = enc[enc.len() - 2];
        Ok(Self {
            cfg: cfg.clone(),
            encoder: mlp(&enc, vb.pp("encoder"))?,
            encoder_log_var: if cfg.variational {
                Some(linear(features, cfg.latent_dim, vb.pp("encoder_log_var"))?)
            } else {
                None
            },
            decoder: mlp(&dec, vb.pp("decoder"))?,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &MlpAeConfig {
        &self.cfg
    }

    /// An error unless `x` is (N, L) with the configured L.
    fn check_profiles(&self, x: &Tensor) -> Result<()> {
        if x.rank() != 2 || x.dim(1)? != self.cfg.input_dim {
            return Err(NnError::Shape(format!(
                "MLP autoencoder expects (N, {}) profiles, got {:?}",
                self.cfg.input_dim,
                x.dims()
            )));
        }
        Ok(())
    }
}

impl Decoder for MlpAutoencoder {
    fn latent_dim(&self) -> usize {
        self.cfg.latent_dim
    }

    fn device(&self) -> &Device {
        self.encoder[0].weight().device()
    }

    fn model_dims(&self) -> Vec<usize> {
        vec![self.cfg.input_dim]
    }

    /// z (N, k) → x̂ (N, L).
    fn decode(&self, z: &Tensor) -> Result<Tensor> {
        if z.rank() != 2 || z.dim(1)? != self.cfg.latent_dim {
            return Err(NnError::Shape(format!(
                "MLP autoencoder expects latents (N, {}), got {:?}",
                self.cfg.latent_dim,
                z.dims()
            )));
        }
        run(&self.decoder, z)
    }

    fn as_autoencoder(&self) -> Option<&dyn Autoencoder> {
        Some(self)
    }
}

impl Autoencoder for MlpAutoencoder {
    /// x (N, L) → z (N, k).
    fn encode(&self, x: &Tensor) -> Result<Tensor> {
        self.check_profiles(x)?;
        run(&self.encoder, x)
    }

    fn encode_gaussian(&self, x: &Tensor) -> Result<(Tensor, Option<Tensor>)> {
        let Some(head) = &self.encoder_log_var else {
            return Ok((self.encode(x)?, None));
        };
        self.check_profiles(x)?;
        let last = self.encoder.len() - 1;
        let mut h = x.clone();
        for l in &self.encoder[..last] {
            h = l.forward(&h)?.silu()?;
        }
        Ok((self.encoder[last].forward(&h)?, Some(head.forward(&h)?)))
    }
}
