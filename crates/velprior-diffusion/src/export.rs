//! Shipping a trained prior: the EMA weights of a checkpoint, with its metadata, as a smaller
//! checkpoint that every loader reads (`velprior export`). The training state (weights, Adam
//! moments, RNG position) stays behind, so the export cannot be resumed.

use std::path::Path;

use candle_core::Device;

use crate::checkpoint::{PriorKind, load_checkpoint, save_checkpoint};
use crate::error::{DiffusionError, Result};

/// Writes the `ema.*` tensors and the metadata of the diffusion checkpoint `src` to `dst`
/// (atomically, with its `.json` copy); returns the number of parameters kept.
pub fn export_ema(src: &Path, dst: &Path) -> Result<usize> {
    let host = Device::Cpu; // host: a file-to-file copy
    let (meta, tensors) = load_checkpoint(src, &host)?;
    if meta.kind != PriorKind::Diffusion {
        return Err(DiffusionError::Checkpoint(format!(
            "{}: holds a {:?} prior; only diffusion checkpoints have EMA weights to export",
            src.display(),
            meta.kind
        )));
    }
    let mut ema: Vec<(String, candle_core::Tensor)> = tensors
        .into_iter()
        .filter(|(name, _)| name.starts_with("ema."))
        .collect();
    if ema.is_empty() {
        return Err(DiffusionError::Checkpoint(format!(
            "{}: no EMA weights (ema.*) found",
            src.display()
        )));
    }
    ema.sort_by(|a, b| a.0.cmp(&b.0));
    let parameters = ema.iter().map(|(_, t)| t.elem_count()).sum();
    save_checkpoint(dst, &meta, &ema)?;
    Ok(parameters)
}
