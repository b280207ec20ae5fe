//! A trained GAN loaded for use: its generator draws models x = G(z), z ~ N(0, I), in m/s,
//! flat row-major (N, H, W); posterior methods search its latent space (GAN-prior FWI).

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Tensor};
use candle_nn::VarBuilder;
use velprior_nn::{ConvDecoder, sample_prior};

use crate::baselines::gan_trainer::{GanDetails, gan_details};
use crate::checkpoint::CheckpointMeta;
use crate::error::{DiffusionError, Result};

/// A GAN's generator ready to sample.
pub struct GanPrior {
    /// z (N, k) → normalised models (N, 1, H, W).
    pub generator: ConvDecoder,
    /// Checkpoint metadata (normalisation, model size, corpus).
    pub meta: CheckpointMeta,
    /// Architecture and training settings.
    pub details: GanDetails,
}

impl GanPrior {
    /// Builds the prior from a loaded checkpoint (`path` names it in errors); the generator
    /// lives where the tensors do.
    pub fn from_parts(
        meta: CheckpointMeta,
        tensors: HashMap<String, Tensor>,
        path: &Path,
    ) -> Result<GanPrior> {
        let details = gan_details(&meta, path)?;
        let weights: HashMap<String, Tensor> = tensors
            .into_iter()
            .filter_map(|(name, t)| {
                name.strip_prefix("model.generator.")
                    .map(|n| (n.to_string(), t))
            })
            .collect();
        let Some(device) = weights.values().next().map(|t| t.device().clone()) else {
            return Err(DiffusionError::Checkpoint(format!(
                "{}: no generator weights (model.generator.*) found",
                path.display()
            )));
        };
        let vb = VarBuilder::from_tensors(weights, DType::F32, &device);
        let network = details.model.network(meta.model_shape);
        let generator = velprior_nn::generator(&network, vb).map_err(|e| {
            DiffusionError::Checkpoint(format!(
                "{}: weights do not match the recorded architecture ({e})",
                path.display()
            ))
        })?;
        Ok(GanPrior {
            generator,
            meta,
            details,
        })
    }

    /// `n` prior draws (m/s, (n, H, W)): z ~ N(0, I) from a ChaCha8 stream of `seed`.
    pub fn sample(&self, n: usize, seed: u64) -> Result<Vec<f32>> {
        let device = velprior_nn::Decoder::device(&self.generator).clone();
        let x = sample_prior(&self.generator, n, 1.0, seed, &device)?;
        let mut v = x.flatten_all()?.to_vec1::<f32>()?;
        self.meta.normalisation.denormalise(&mut v);
        Ok(v)
    }
}
