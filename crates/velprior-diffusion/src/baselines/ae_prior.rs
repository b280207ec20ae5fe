//! A trained regularised autoencoder loaded for use: encode and decode velocity models and
//! sample the prior z ~ N(0, s²I), x = D(z). Inputs and outputs are velocities in m/s,
//! flat row-major (N, H, W); latents are flat row-major (N, k).

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use velprior_nn::{Autoencoder, Decoder, sample_prior};

use crate::baselines::ae_model::AnyAutoencoder;
use crate::baselines::ae_trainer::{AeDetails, ae_details};
use crate::checkpoint::{CheckpointMeta, load_checkpoint};
use crate::error::{DiffusionError, Result};

/// An autoencoder prior ready to encode, decode and sample.
pub struct AePrior {
    /// The network.
    pub ae: AnyAutoencoder,
    /// Checkpoint metadata (normalisation, model size, corpus).
    pub meta: CheckpointMeta,
    /// Architecture, training settings and the latent std s.
    pub details: AeDetails,
    /// Where the network's weights live.
    device: Device,
}

impl AePrior {
    /// Loads the checkpoint at `path` onto `device`.
    pub fn load(path: &Path, device: &Device) -> Result<AePrior> {
        let (meta, tensors) = load_checkpoint(path, device)?;
        AePrior::from_parts(meta, tensors, path)
    }

    /// Builds the prior from a loaded checkpoint (`path` names it in errors); the network lives
    /// where the tensors do.
    pub fn from_parts(
        meta: CheckpointMeta,
        tensors: HashMap<String, Tensor>,
        path: &Path,
    ) -> Result<AePrior> {
        let details = ae_details(&meta, path)?;
        let weights: HashMap<String, Tensor> = tensors
            .into_iter()
            .filter_map(|(name, t)| name.strip_prefix("model.").map(|n| (n.to_string(), t)))
            .collect();
        let Some(device) = weights.values().next().map(|t| t.device().clone()) else {
            return Err(DiffusionError::Checkpoint(format!(
                "{}: no autoencoder weights (model.*) found",
                path.display()
            )));
        };
        let vb = VarBuilder::from_tensors(weights, DType::F32, &device);
        let ae = details.model.build(meta.model_shape, vb).map_err(|e| {
            DiffusionError::Checkpoint(format!(
                "{}: weights do not match the recorded architecture ({e})",
                path.display()
            ))
        })?;
        Ok(AePrior {
            ae,
            meta,
            details,
            device,
        })
    }

    /// The device the network computes on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Latent dimension k.
    pub fn latent_dim(&self) -> usize {
        self.ae.latent_dim()
    }

    /// The latent std s sampling uses.
    pub fn latent_std(&self) -> f64 {
        self.details.latent_std
    }

    /// Values per model, H·W.
    fn model_len(&self) -> usize {
        self.meta.model_shape[0] * self.meta.model_shape[1]
    }

    /// Encodes velocity models (m/s, (N, H, W) with the checkpoint's H, W) → latents (N, k).
    pub fn encode(&self, velocity: &[f32]) -> Result<Vec<f32>> {
        let size = self.model_len();
        if velocity.is_empty() || !velocity.len().is_multiple_of(size) {
            let [h, w] = self.meta.model_shape;
            return Err(DiffusionError::invalid(format!(
                "the autoencoder takes {h}x{w} models; got {} values",
                velocity.len()
            )));
        }
        let mut x = velocity.to_vec();
        self.meta.normalisation.normalise(&mut x);
        let n = x.len() / size;
        let input = self.ae.input(x, n, &self.device)?;
        Ok(self.ae.encode(&input)?.flatten_all()?.to_vec1::<f32>()?)
    }

    /// Decodes latents (N, k) → velocity models (m/s, (N, H, W)).
    pub fn decode(&self, latents: &[f32]) -> Result<Vec<f32>> {
        let k = self.latent_dim();
        if latents.is_empty() || !latents.len().is_multiple_of(k) {
            return Err(DiffusionError::invalid(format!(
                "latents must hold N rows of {k} values; got {} values",
                latents.len()
            )));
        }
        let z = Tensor::from_slice(latents, (latents.len() / k, k), &self.device)?;
        let mut v = self.ae.decode_flat(&z)?;
        self.meta.normalisation.denormalise(&mut v);
        Ok(v)
    }

    /// `n` prior draws (m/s, (n, H, W)): z ~ N(0, s²I) from a ChaCha8 stream of `seed`.
    pub fn sample(&self, n: usize, seed: u64) -> Result<Vec<f32>> {
        let x = sample_prior(&self.ae, n, self.latent_std(), seed, &self.device)?;
        let mut v = x.flatten_all()?.to_vec1::<f32>()?;
        self.meta.normalisation.denormalise(&mut v);
        Ok(v)
    }
}
