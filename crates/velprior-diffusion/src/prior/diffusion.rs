//! [`DiffusionPrior`]: the EMA weights of a checkpoint wrapped as a [`Denoiser`], with the
//! schedule and normalisation it was trained with.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use velprior_kernels::Schedule;
use velprior_nn::UNet;

use super::{Prior, PriorForm};
use crate::checkpoint::{CheckpointMeta, load_checkpoint};
use crate::denoiser::Denoiser;
use crate::error::{DiffusionError, Result};
use crate::samplers::{SamplerConfig, SamplerObserver, sample};
use crate::trainer::{DiffusionDetails, diffusion_details};
use crate::unet_denoiser::UNetDenoiser;

/// A diffusion prior ready to sample.
pub struct DiffusionPrior {
    /// The EMA network as a denoiser.
    pub denoiser: UNetDenoiser,
    /// The discrete training schedule.
    pub schedule: Schedule,
    /// Checkpoint metadata (normalisation, model size, corpus, step).
    pub meta: CheckpointMeta,
    /// Architecture, noise process, optimiser.
    pub details: DiffusionDetails,
}

impl DiffusionPrior {
    /// Loads the EMA weights (`ema.*`) of the checkpoint at `path` onto `device`.
    pub fn load(path: &Path, device: &Device) -> Result<DiffusionPrior> {
        let (meta, tensors) = load_checkpoint(path, device)?;
        DiffusionPrior::from_parts(meta, tensors, path)
    }

    /// Builds the prior from a loaded checkpoint (`path` names it in errors); the network
    /// lives where the tensors do.
    pub fn from_parts(
        meta: CheckpointMeta,
        tensors: HashMap<String, Tensor>,
        path: &Path,
    ) -> Result<DiffusionPrior> {
        let details = diffusion_details(&meta, path)?;
        let ema: HashMap<String, Tensor> = tensors
            .into_iter()
            .filter_map(|(name, t)| name.strip_prefix("ema.").map(|n| (n.to_string(), t)))
            .collect();
        let Some(device) = ema.values().next().map(|t| t.device().clone()) else {
            return Err(DiffusionError::Checkpoint(format!(
                "{}: no EMA weights (ema.*) found",
                path.display()
            )));
        };
        let vb = VarBuilder::from_tensors(ema, DType::F32, &device);
        let unet = UNet::new(&details.model, vb).map_err(|e| {
            DiffusionError::Checkpoint(format!(
                "{}: weights do not match the recorded architecture ({e})",
                path.display()
            ))
        })?;
        let schedule = details.diffusion.schedule()?;
        Ok(DiffusionPrior {
            denoiser: UNetDenoiser::new(unet, &details.diffusion),
            schedule,
            meta,
            details,
        })
    }
}

impl Prior for DiffusionPrior {
    fn meta(&self) -> &CheckpointMeta {
        &self.meta
    }

    fn draw(
        &self,
        count: usize,
        seed: u64,
        sampler: &SamplerConfig,
        observer: &mut dyn SamplerObserver,
    ) -> Result<Vec<f32>> {
        let [h, w] = self.meta.model_shape;
        let x = sample(
            &self.denoiser,
            sampler,
            &self.schedule,
            &[count, 1, h, w],
            self.denoiser.device(),
            seed,
            observer,
        )?;
        let mut v = x.flatten_all()?.to_vec1::<f32>()?;
        self.meta.normalisation.denormalise(&mut v);
        Ok(v)
    }

    fn form(&self) -> PriorForm<'_> {
        PriorForm::Denoiser {
            denoiser: &self.denoiser,
            schedule: &self.schedule,
        }
    }
}
