//! Loading trained priors for sampling: [`DiffusionPrior`] (the EMA weights of a checkpoint
//! wrapped as a [`Denoiser`](crate::Denoiser), with the schedule and normalisation it was
//! trained with) and [`AnyPrior`], which opens a checkpoint of any [`PriorKind`] and samples
//! velocities in m/s.

use std::collections::HashMap;
use std::ops::Range;
use std::path::Path;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use velprior_kernels::Schedule;
use velprior_nn::UNet;

use crate::baselines::{AePrior, GaussianCheckpoint};
use crate::checkpoint::{CheckpointMeta, PriorKind, load_checkpoint};
use crate::denoiser::Denoiser;
use crate::error::{DiffusionError, Result};
use crate::samplers::{NoObserver, SamplerConfig, SamplerObserver, sample};
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

/// A trained prior of any kind, as `velprior sample` sees it.
pub enum AnyPrior {
    /// A diffusion model.
    Diffusion(Box<DiffusionPrior>),
    /// A regularised autoencoder.
    Autoencoder(Box<AePrior>),
    /// A Gaussian/PCA prior.
    Gaussian(Box<GaussianCheckpoint>),
}

impl AnyPrior {
    /// Opens the checkpoint at `path`, whatever prior it holds; a diffusion or autoencoder
    /// prior's network is placed on `device` (the Gaussian prior computes on the host).
    pub fn load(path: &Path, device: &Device) -> Result<AnyPrior> {
        let (meta, tensors) = load_checkpoint(path, device)?;
        Ok(match meta.kind {
            PriorKind::Diffusion => {
                AnyPrior::Diffusion(Box::new(DiffusionPrior::from_parts(meta, tensors, path)?))
            }
            PriorKind::Autoencoder => {
                AnyPrior::Autoencoder(Box::new(AePrior::from_parts(meta, tensors, path)?))
            }
            PriorKind::Gaussian => AnyPrior::Gaussian(Box::new(GaussianCheckpoint::from_parts(
                meta, tensors, path,
            )?)),
        })
    }

    /// The checkpoint metadata (kind, normalisation, model size, spacing, corpus).
    pub fn meta(&self) -> &CheckpointMeta {
        match self {
            AnyPrior::Diffusion(p) => &p.meta,
            AnyPrior::Autoencoder(p) => &p.meta,
            AnyPrior::Gaussian(p) => &p.meta,
        }
    }

    /// Draws `n` models in m/s, row-major (n, H, W), `batch` at a time (batch k seeded
    /// `seed + k`), calling `progress(done)` after each batch. `sampler` and `observer` (given
    /// the first batch) apply to diffusion priors only; the autoencoder decodes
    /// z ~ N(0, s²I) and the Gaussian draws in closed form, each batch from its own seed.
    pub fn sample(
        &self,
        n: usize,
        seed: u64,
        sampler: &SamplerConfig,
        batch: usize,
        observer: &mut dyn SamplerObserver,
        progress: &mut dyn FnMut(usize),
    ) -> Result<Vec<f32>> {
        let batches = n.div_ceil(batch.max(1));
        self.sample_batches(n, seed, sampler, batch, 0..batches, observer, progress)
    }

    /// The models of batches `batches` of [`AnyPrior::sample`]`(n, seed, …, batch)`, bit for
    /// bit: batch k holds models [k·batch, min((k+1)·batch, n)) and is drawn from seed
    /// `seed + k` alone, so a sharded run that splits the batches gives the same models.
    /// `progress` hears the models done so far in this call; `observer` sees batch 0 only.
    #[allow(clippy::too_many_arguments)]
    pub fn sample_batches(
        &self,
        n: usize,
        seed: u64,
        sampler: &SamplerConfig,
        batch: usize,
        batches: Range<usize>,
        observer: &mut dyn SamplerObserver,
        progress: &mut dyn FnMut(usize),
    ) -> Result<Vec<f32>> {
        let batch = batch.max(1);
        let [h, w] = self.meta().model_shape;
        let mut out = Vec::new();
        for k in batches {
            let start = k * batch;
            if start >= n {
                break;
            }
            let count = batch.min(n - start);
            let seed = seed.wrapping_add(k as u64);
            let v = match self {
                AnyPrior::Diffusion(p) => {
                    let obs: &mut dyn SamplerObserver = if k == 0 {
                        &mut *observer
                    } else {
                        &mut NoObserver
                    };
                    let x = sample(
                        &p.denoiser,
                        sampler,
                        &p.schedule,
                        &[count, 1, h, w],
                        p.denoiser.device(),
                        seed,
                        obs,
                    )?;
                    let mut v = x.flatten_all()?.to_vec1::<f32>()?;
                    p.meta.normalisation.denormalise(&mut v);
                    v
                }
                AnyPrior::Autoencoder(p) => p.sample(count, seed)?,
                AnyPrior::Gaussian(p) => p.sample(count, seed),
            };
            out.extend(v);
            progress(out.len() / (h * w));
        }
        Ok(out)
    }
}
