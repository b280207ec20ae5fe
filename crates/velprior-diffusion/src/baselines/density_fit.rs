//! Fitting a density prior with an exact log-density from an HDF5 corpus (`velprior train`
//! with `kind = "gaussian" | "gmm" | "gp" | "flow"`) and loading it back from its checkpoint.
//!
//! Checkpoint tensors: those of the density's `to_tensors` (`gaussian.*`, `gmm.*`, `gp.*`, `flow.*`,
//! names in velprior-density), in normalised units over flattened (H, W) models; `details`
//! is a JSON summary of the fit (per kind: rank, components, lengths, variances).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};
use serde_json::json;
use velprior_data::render::{RenderOptions, display_models, render_grid, save_png};
use velprior_data::transform::flip_lateral;
use velprior_data::{Normalisation, RunDir, read_corpus};
use velprior_density::{
    DensityModel, GaussianMixture, GaussianPrior, GaussianProcess, NormalizingFlow,
};

use crate::baselines::config::{DensityFitConfig, DensitySpec};
use crate::checkpoint::{
    CheckpointMeta, CorpusFingerprint, FORMAT, PriorKind, VERSION, save_checkpoint,
};
use crate::error::{DiffusionError, Result};
use crate::trainer::CHECKPOINT_FILE;

/// A fitted density prior with its checkpoint metadata.
pub struct DensityCheckpoint {
    /// The density (normalised units, D = H·W).
    pub density: Box<dyn DensityModel>,
    /// Kind, normalisation, model size, corpus; `details` summarises the fit.
    pub meta: CheckpointMeta,
}

impl DensityCheckpoint {
    /// Builds it from a loaded checkpoint of a density kind (`path` names it in errors).
    pub fn from_parts(
        meta: CheckpointMeta,
        tensors: HashMap<String, Tensor>,
        path: &Path,
    ) -> Result<DensityCheckpoint> {
        let bad = |e: velprior_density::DensityError| {
            DiffusionError::Checkpoint(format!("{}: {e}", path.display()))
        };
        let density: Box<dyn DensityModel> = match meta.kind {
            PriorKind::Gaussian => Box::new(GaussianPrior::from_tensors(&tensors).map_err(bad)?),
            PriorKind::Gmm => Box::new(GaussianMixture::from_tensors(&tensors).map_err(bad)?),
            PriorKind::Gp => Box::new(GaussianProcess::from_tensors(&tensors).map_err(bad)?),
            PriorKind::Flow => Box::new(NormalizingFlow::from_tensors(&tensors).map_err(bad)?),
            kind => {
                return Err(DiffusionError::Checkpoint(format!(
                    "{}: holds a {kind:?} prior, not a closed-form density",
                    path.display()
                )));
            }
        };
        let [h, w] = meta.model_shape;
        if density.dim() != h * w {
            return Err(DiffusionError::Checkpoint(format!(
                "{}: the density has dimension {} but the models are {h}x{w}",
                path.display(),
                density.dim()
            )));
        }
        Ok(DensityCheckpoint { density, meta })
    }

    /// `n` draws in m/s, (n, H, W), seeded.
    pub fn sample(&self, n: usize, seed: u64) -> Result<Vec<f32>> {
        let mut v = self.density.sample(n, seed)?;
        self.meta.normalisation.denormalise(&mut v);
        Ok(v)
    }
}

/// Fits the density of `cfg`, writes `checkpoint.safetensors` (and `samples.png` unless
/// `fit.sample_count = 0`) into the run folder; returns the checkpoint path.
pub fn fit_density(cfg: &DensityFitConfig) -> Result<PathBuf> {
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
    let (density, mut details, title) =
        fit_spec(&cfg.model, &data, [h, w], spacing).map_err(|e| {
            DiffusionError::Config(format!("[model] on {models} models of {h}x{w}: {e}"))
        })?;
    details["models"] = json!(models);
    details["flip_lateral"] = json!(flip);
    let meta = CheckpointMeta {
        format: FORMAT.to_string(),
        version: VERSION,
        kind: cfg.model.kind(),
        step: 0,
        normalisation: norm,
        model_shape: [h, w],
        spacing,
        corpus: fingerprint,
        details,
    };
    let run = RunDir::create(&cfg.output)?;
    let path = run.path(CHECKPOINT_FILE);
    let host = Device::Cpu; // host: the fits are computed with nalgebra
    save_checkpoint(&path, &meta, &density.to_tensors(&host)?)?;
    let count = cfg.fit.sample_count;
    if count > 0 {
        let mut v = density.sample(count, cfg.fit.seed)?;
        norm.denormalise(&mut v);
        let (shown, [dh, dw]) = display_models(&v, [count, h, w]);
        let options = RenderOptions {
            range: Some((norm.vmin, norm.vmax)),
            title: Some(title),
            ..Default::default()
        };
        save_png(
            &run.path("samples.png"),
            &render_grid(&shown, [count, dh, dw], 8, &options, None)?,
        )?;
    }
    Ok(path)
}

/// Fits one density kind; returns it, a JSON summary and the preview's title.
fn fit_spec(
    spec: &DensitySpec,
    data: &[f32],
    [h, w]: [usize; 2],
    [dx, dz]: [f64; 2],
) -> velprior_density::Result<(Box<dyn DensityModel>, serde_json::Value, String)> {
    Ok(match spec {
        DensitySpec::Gaussian(m) => {
            let prior = GaussianPrior::fit(data, h * w, m.rank)?;
            let kept = prior.eigenvalues().iter().sum::<f64>();
            let total = kept + (h * w - prior.rank()) as f64 * prior.residual_variance();
            let details = json!({
                "rank": prior.rank(),
                "explained_variance": kept / total,
                "residual_variance": prior.residual_variance(),
            });
            let title = format!("Gaussian/PCA prior samples, rank {}", prior.rank());
            (Box::new(prior), details, title)
        }
        DensitySpec::Gmm(m) => {
            let gmm = GaussianMixture::fit(data, h * w, m)?;
            let details = json!({
                "rank": gmm.rank(),
                "components": m.components,
                "weights": gmm.weights(),
                "residual_variance": gmm.residual_variance(),
            });
            let title = format!(
                "Gaussian-mixture prior samples, {} components on rank {}",
                m.components,
                gmm.rank()
            );
            (Box::new(gmm), details, title)
        }
        DensitySpec::Gp(m) => {
            let gp = GaussianProcess::fit(data, [h, w], m)?;
            let [lz, lx] = gp.lengths();
            let details = json!({
                "kernel": gp.kernel(),
                "variance": gp.variance(),
                "nugget": gp.nugget(),
                "length_z_cells": lz,
                "length_x_cells": lx,
                "length_z_m": lz * dz,
                "length_x_m": lx * dx,
            });
            let title = format!(
                "Gaussian-process prior samples, {:?} kernel, lengths {:.0} m (z) x {:.0} m (x)",
                gp.kernel(),
                lz * dz,
                lx * dx
            );
            (Box::new(gp), details, title)
        }
        DensitySpec::Flow(m) => {
            let (flow, nll) = NormalizingFlow::fit(data, h * w, m)?;
            let details = json!({
                "rank": m.rank,
                "blocks": m.blocks,
                "hidden": m.hidden,
                "epochs": m.epochs,
                "final_nll_whitened": nll,
            });
            let title = format!(
                "Normalizing-flow prior samples, {} coupling blocks on rank {}",
                m.blocks, m.rank
            );
            (Box::new(flow), details, title)
        }
    })
}
