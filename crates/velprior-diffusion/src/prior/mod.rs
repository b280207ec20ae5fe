//! Trained priors for sampling and inversion. Every kind (diffusion, autoencoder, VAE, GAN, the
//! closed-form densities) implements [`Prior`]: its metadata, draws in m/s, and the [`PriorForm`] a posterior method
//! uses. [`AnyPrior`] opens a checkpoint of any [`PriorKind`] as a `Prior`.

mod autoencoder;
mod density;
mod diffusion;
mod gan;
mod latent;

use std::ops::Range;
use std::path::Path;

use candle_core::Device;
use velprior_density::LogDensity;
use velprior_kernels::Schedule;
use velprior_nn::Decoder;

pub use diffusion::DiffusionPrior;
pub use latent::{decode_latents, encode_models, latent_parts};

use crate::baselines::{AePrior, DensityCheckpoint, GanPrior};
use crate::checkpoint::{CheckpointMeta, PriorKind, load_checkpoint};
use crate::denoiser::Denoiser;
use crate::error::Result;
use crate::samplers::{NoObserver, SamplerConfig, SamplerObserver};

/// How a posterior method uses a prior.
pub enum PriorForm<'a> {
    /// A noise-predicting network and the schedule it was trained with.
    Denoiser {
        denoiser: &'a dyn Denoiser,
        schedule: &'a Schedule,
    },
    /// A closed-form density on normalised models (Gaussian, mixture, Gaussian process).
    Density(&'a dyn LogDensity),
    /// A decoder (autoencoder, VAE) or generator (GAN) of latent codes z ~ N(0, s²I),
    /// s = `latent_std`.
    Latent {
        decoder: &'a dyn Decoder,
        latent_std: f64,
    },
}

/// A trained prior: what `velprior sample`, the posterior methods and the benchmark need.
pub trait Prior: Send + Sync {
    /// The checkpoint metadata (kind, normalisation, model size, spacing, corpus).
    fn meta(&self) -> &CheckpointMeta;
    /// Draws `count` models in m/s, row-major (count, H, W), from `seed`; `sampler` and
    /// `observer` apply to diffusion priors only.
    fn draw(
        &self,
        count: usize,
        seed: u64,
        sampler: &SamplerConfig,
        observer: &mut dyn SamplerObserver,
    ) -> Result<Vec<f32>>;
    /// The form a posterior method uses.
    fn form(&self) -> PriorForm<'_>;
    /// A map from latent codes z ~ N(0, s²I) to models and s, where the prior has one (the
    /// latent-variable priors; a flow's base variable).
    fn latent(&self) -> Option<(&dyn Decoder, f64)> {
        match self.form() {
            PriorForm::Latent {
                decoder,
                latent_std,
            } => Some((decoder, latent_std)),
            _ => None,
        }
    }
}

/// A trained prior of any kind, opened from its checkpoint.
pub struct AnyPrior(Box<dyn Prior>);

impl Prior for AnyPrior {
    fn meta(&self) -> &CheckpointMeta {
        self.0.meta()
    }

    fn draw(
        &self,
        count: usize,
        seed: u64,
        sampler: &SamplerConfig,
        observer: &mut dyn SamplerObserver,
    ) -> Result<Vec<f32>> {
        self.0.draw(count, seed, sampler, observer)
    }

    fn form(&self) -> PriorForm<'_> {
        self.0.form()
    }

    fn latent(&self) -> Option<(&dyn Decoder, f64)> {
        self.0.latent()
    }
}

impl AnyPrior {
    /// Opens the checkpoint at `path`, whatever prior it holds; a diffusion or autoencoder
    /// prior's network is placed on `device` (a closed-form density computes on the host).
    pub fn load(path: &Path, device: &Device) -> Result<AnyPrior> {
        let (meta, tensors) = load_checkpoint(path, device)?;
        Ok(AnyPrior(match meta.kind {
            PriorKind::Diffusion => Box::new(DiffusionPrior::from_parts(meta, tensors, path)?),
            PriorKind::Autoencoder | PriorKind::Vae => {
                Box::new(AePrior::from_parts(meta, tensors, path)?)
            }
            PriorKind::Gan => Box::new(GanPrior::from_parts(meta, tensors, path)?),
            PriorKind::Gaussian | PriorKind::Gmm | PriorKind::Gp | PriorKind::Flow => {
                Box::new(DensityCheckpoint::from_parts(meta, tensors, path)?)
            }
        }))
    }

    /// Draws `n` models in m/s, row-major (n, H, W), `batch` at a time (batch k seeded
    /// `seed + k`), calling `progress(done)` after each batch; `observer` sees the first batch.
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
        let models =
            batches.end.saturating_mul(batch).min(n) - batches.start.saturating_mul(batch).min(n);
        velprior_data::memory::check_models_fit(
            "sampling",
            models,
            h,
            w,
            "draw fewer models, or split the run into shards (`velprior sample --shard I/N`)",
        )?;
        let mut out = Vec::new();
        for k in batches {
            let start = k * batch;
            if start >= n {
                break;
            }
            let count = batch.min(n - start);
            let obs: &mut dyn SamplerObserver = if k == 0 {
                &mut *observer
            } else {
                &mut NoObserver
            };
            out.extend(self.draw(count, seed.wrapping_add(k as u64), sampler, obs)?);
            progress(out.len() / (h * w));
        }
        Ok(out)
    }
}
