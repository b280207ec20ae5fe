//! Fitting the Gaussian/PCA prior from an HDF5 corpus (`velprior train` with
//! `kind = "gaussian"`) and loading it back from its checkpoint.
//!
//! Checkpoint tensors: those of [`GaussianPrior::to_tensors`] (`gaussian.*`), in normalised
//! units over flattened (H, W) models; `details` = [`GaussianDetails`].

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};
use serde::{Deserialize, Serialize};
use velprior_data::render::{RenderOptions, render_grid, save_png};
use velprior_data::transform::flip_lateral;
use velprior_data::{Normalisation, RunDir, read_corpus};
use velprior_nn::GaussianPrior;

use crate::baselines::config::GaussianFitConfig;
use crate::checkpoint::{
    CheckpointMeta, CorpusFingerprint, FORMAT, PriorKind, VERSION, save_checkpoint,
};
use crate::error::{DiffusionError, Result};
use crate::trainer::CHECKPOINT_FILE;
use velprior_data::render::display_models;

/// Gaussian-specific checkpoint metadata (`CheckpointMeta::details`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GaussianDetails {
    /// Number of components k.
    pub rank: usize,
    /// Models the fit saw (mirror images included).
    pub models: usize,
    /// Whether mirror images were added.
    pub flip_lateral: bool,
    /// Fraction of the corpus variance the k components explain.
    pub explained_variance: f64,
    /// Residual variance σ² (normalised units²).
    pub residual_variance: f64,
}

/// A fitted Gaussian prior with its checkpoint metadata.
pub struct GaussianCheckpoint {
    /// The density (normalised units, D = H·W).
    pub prior: GaussianPrior,
    /// Normalisation, model size, corpus.
    pub meta: CheckpointMeta,
    /// Fit summary.
    pub details: GaussianDetails,
}

impl GaussianCheckpoint {
    /// Builds it from a loaded checkpoint (`path` names it in errors).
    pub fn from_parts(
        meta: CheckpointMeta,
        tensors: HashMap<String, Tensor>,
        path: &Path,
    ) -> Result<GaussianCheckpoint> {
        if meta.kind != PriorKind::Gaussian {
            return Err(DiffusionError::Checkpoint(format!(
                "{}: holds a {:?} prior, not a Gaussian",
                path.display(),
                meta.kind
            )));
        }
        let details: GaussianDetails =
            serde_json::from_value(meta.details.clone()).map_err(|e| {
                DiffusionError::Checkpoint(format!(
                    "{}: bad Gaussian metadata ({e})",
                    path.display()
                ))
            })?;
        let prior = GaussianPrior::from_tensors(&tensors)
            .map_err(|e| DiffusionError::Checkpoint(format!("{}: {e}", path.display())))?;
        let [h, w] = meta.model_shape;
        if prior.dim() != h * w {
            return Err(DiffusionError::Checkpoint(format!(
                "{}: the Gaussian has dimension {} but the models are {h}x{w}",
                path.display(),
                prior.dim()
            )));
        }
        Ok(GaussianCheckpoint {
            prior,
            meta,
            details,
        })
    }

    /// `n` draws in m/s, (n, H, W), seeded.
    pub fn sample(&self, n: usize, seed: u64) -> Vec<f32> {
        let mut v = self.prior.sample(n, seed);
        self.meta.normalisation.denormalise(&mut v);
        v
    }
}

/// Fits the prior of `cfg`, writes `checkpoint.safetensors` (and `samples.png` unless
/// `fit.sample_count = 0`) into the run folder; returns the checkpoint path.
pub fn fit_gaussian(cfg: &GaussianFitConfig) -> Result<PathBuf> {
    let corpus = read_corpus(&cfg.data.corpus, Some(&cfg.data.dataset))?;
    let [n, h, w] = corpus.shape();
    let fingerprint = CorpusFingerprint::new(
        &cfg.data.corpus,
        [n, h, w],
        corpus.model(0),
        corpus.model(n - 1),
    );
    let norm = Normalisation::new(cfg.data.vmin, cfg.data.vmax)?;
    let spacing = [corpus.meta.dx, corpus.meta.dz];
    let mut data = corpus.into_velocity();
    norm.normalise(&mut data);
    let flip = cfg.data.flip_lateral && w > 1;
    if flip {
        let mirrored: Vec<f32> = data
            .chunks_exact(h * w)
            .flat_map(|m| {
                let mut m = m.to_vec();
                flip_lateral(&mut m, w);
                m
            })
            .collect();
        data.extend(mirrored);
    }
    let models = data.len() / (h * w);
    let prior = GaussianPrior::fit(&data, h * w, cfg.model.rank).map_err(|e| {
        DiffusionError::Config(format!(
            "model.rank = {} on {models} models of {h}x{w}: {e}",
            cfg.model.rank
        ))
    })?;
    let total = prior.eigenvalues().iter().sum::<f64>()
        + (h * w - prior.rank()) as f64 * prior.residual_variance();
    let details = GaussianDetails {
        rank: prior.rank(),
        models,
        flip_lateral: flip,
        explained_variance: prior.eigenvalues().iter().sum::<f64>() / total,
        residual_variance: prior.residual_variance(),
    };
    let meta = CheckpointMeta {
        format: FORMAT.to_string(),
        version: VERSION,
        kind: PriorKind::Gaussian,
        step: 0,
        normalisation: norm,
        model_shape: [h, w],
        spacing,
        corpus: fingerprint,
        details: serde_json::to_value(&details)
            .map_err(|e| DiffusionError::Checkpoint(e.to_string()))?,
    };
    let run = RunDir::create(&cfg.output)?;
    let path = run.path(CHECKPOINT_FILE);
    let host = Device::Cpu; // host: the fit is computed with nalgebra
    save_checkpoint(&path, &meta, &prior.to_tensors(&host)?)?;
    let count = cfg.fit.sample_count;
    if count > 0 {
        let mut v = prior.sample(count, cfg.fit.seed);
        norm.denormalise(&mut v);
        let (shown, [dh, dw]) = display_models(&v, [count, h, w]);
        let options = RenderOptions {
            range: Some((norm.vmin, norm.vmax)),
            title: Some(format!("Gaussian/PCA prior samples, rank {}", prior.rank())),
            ..Default::default()
        };
        save_png(
            &run.path("samples.png"),
            &render_grid(&shown, [count, dh, dw], 8, &options, None)?,
        )?;
    }
    Ok(path)
}
