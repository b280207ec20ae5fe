//! A diffusion checkpoint's details ([`DiffusionDetails`]) and whether a checkpoint fits a
//! training config: what resume and warm starts check before a run folder is made, and reading
//! the checkpoint's tensors by name.

use std::collections::HashMap;
use std::path::Path;

use candle_core::Tensor;
use serde::{Deserialize, Serialize};
use velprior_data::Normalisation;

use crate::checkpoint::{CheckpointMeta, PriorKind};
use crate::config::{DiffusionConfig, TrainConfig};
use crate::error::{DiffusionError, Result};
use crate::optim::AdamWConfig;
use crate::rng_state::RngState;

/// Diffusion-specific checkpoint metadata (`CheckpointMeta::details`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiffusionDetails {
    /// UNet architecture.
    pub model: velprior_nn::UNetConfig,
    /// Noise process and objective.
    pub diffusion: DiffusionConfig,
    /// Optimiser settings.
    pub optimizer: AdamWConfig,
    /// AdamW updates taken.
    pub optimizer_steps: usize,
    /// Total steps of the run (the learning-rate schedule depends on it).
    pub total_steps: usize,
    /// Batch size.
    pub batch_size: usize,
    /// Seed of the run.
    pub seed: u64,
    /// EMA decay.
    pub ema_decay: f64,
    /// The random stream's position.
    pub rng: RngState,
}

/// Parses the diffusion details of a checkpoint, refusing other prior kinds.
pub fn diffusion_details(meta: &CheckpointMeta, path: &Path) -> Result<DiffusionDetails> {
    if meta.kind != PriorKind::Diffusion {
        return Err(DiffusionError::Checkpoint(format!(
            "{}: holds a {:?} prior, not a diffusion model",
            path.display(),
            meta.kind
        )));
    }
    serde_json::from_value(meta.details.clone()).map_err(|e| {
        DiffusionError::Checkpoint(format!("{}: bad diffusion metadata ({e})", path.display()))
    })
}

/// The checkpoint's training details, after checking it holds `cfg`'s model, noise process and
/// normalisation (`what`: the action, for the error).
pub(crate) fn check_same_model(
    cfg: &TrainConfig,
    meta: &CheckpointMeta,
    path: &Path,
    what: &str,
) -> Result<DiffusionDetails> {
    let details = diffusion_details(meta, path)?;
    let differs = if details.model != cfg.model {
        Some("[model]")
    } else if details.diffusion != cfg.diffusion {
        Some("[diffusion]")
    } else if meta.normalisation != Normalisation::new(cfg.data.vmin, cfg.data.vmax)? {
        Some("data.vmin/vmax")
    } else {
        None
    };
    match differs {
        Some(part) => Err(DiffusionError::Checkpoint(format!(
            "{}: the checkpoint's {part} differs from the config's; {what} with the config it \
             was trained with",
            path.display()
        ))),
        None => Ok(details),
    }
}

/// Tensor `name` of a checkpoint read from `path`, or an error naming it.
pub(crate) fn tensor(tensors: &HashMap<String, Tensor>, name: &str, path: &Path) -> Result<Tensor> {
    tensors.get(name).cloned().ok_or_else(|| {
        DiffusionError::Checkpoint(format!("{}: tensor '{name}' is missing", path.display()))
    })
}
