//! Loading a trained diffusion prior for sampling: the EMA weights of a checkpoint wrapped
//! as a [`Denoiser`](crate::Denoiser), with the schedule and normalisation it was trained with.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device};
use candle_nn::VarBuilder;
use velprior_kernels::Schedule;
use velprior_nn::UNet;

use crate::checkpoint::{CheckpointMeta, load_checkpoint};
use crate::error::{DiffusionError, Result};
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
    /// Loads the EMA weights (`ema.*`) of the checkpoint at `path`.
    pub fn load(path: &Path) -> Result<DiffusionPrior> {
        let device = Device::Cpu;
        let (meta, tensors) = load_checkpoint(path, &device)?;
        let details = diffusion_details(&meta, path)?;
        let ema: HashMap<String, candle_core::Tensor> = tensors
            .into_iter()
            .filter_map(|(name, t)| name.strip_prefix("ema.").map(|n| (n.to_string(), t)))
            .collect();
        if ema.is_empty() {
            return Err(DiffusionError::Checkpoint(format!(
                "{}: no EMA weights (ema.*) found",
                path.display()
            )));
        }
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
