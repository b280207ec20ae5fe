//! Checkpoints: one `.safetensors` file holding the tensors and, in its header's
//! `__metadata__["velprior"]`, the JSON metadata; a pretty copy of the metadata is written
//! beside it (`<file>.json`) for people. Both are written atomically (temp file + rename), so a
//! killed run leaves the previous checkpoint intact.
//!
//! Tensor names (stable, documented):
//! - `model.<name>`: the network weights, `<name>` as in the network's own scheme
//!   (see `velprior_nn::UNet`, e.g. `model.down.0.res.1.conv1.weight`);
//! - `ema.<name>`: the exponential-moving-average weights used for sampling;
//! - `adam_m.<name>`, `adam_v.<name>`: AdamW first and second moments (training state).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::safetensors::Load;
use candle_core::{Device, Tensor};
use serde::{Deserialize, Serialize};
use velprior_data::Normalisation;
use velprior_data::atomic::write_bytes;

use crate::error::{DiffusionError, Result};

/// Identifies the checkpoint format in the metadata.
pub const FORMAT: &str = "velprior-checkpoint";
/// Current metadata version.
pub const VERSION: u32 = 1;
const METADATA_KEY: &str = "velprior";

/// Which prior a checkpoint holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PriorKind {
    /// A diffusion model (UNet denoiser).
    Diffusion,
    /// A regularised autoencoder.
    Autoencoder,
    /// A β-VAE (the autoencoder networks with a variational encoder).
    Vae,
    /// A Gaussian/PCA prior.
    Gaussian,
    /// A Gaussian mixture on PCA coordinates.
    Gmm,
    /// A Gaussian-process (geostatistical) prior.
    Gp,
    /// A normalizing flow on PCA coordinates.
    Flow,
    /// A DCGAN (its generator; latent z ~ N(0, I)).
    Gan,
}

impl PriorKind {
    /// The name configs use (`kind = "…"`).
    pub fn name(self) -> &'static str {
        match self {
            PriorKind::Diffusion => "diffusion",
            PriorKind::Autoencoder => "autoencoder",
            PriorKind::Vae => "vae",
            PriorKind::Gaussian => "gaussian",
            PriorKind::Gmm => "gmm",
            PriorKind::Gp => "gp",
            PriorKind::Flow => "flow",
            PriorKind::Gan => "gan",
        }
    }
}

/// A cheap identity of the training corpus: its shape and a hash of its first and last model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CorpusFingerprint {
    /// File the corpus was read from (informational).
    pub path: PathBuf,
    /// Shape (N, H, W).
    pub shape: [usize; 3],
    /// FNV-1a hash of the first and last model's bytes, hex.
    pub hash: String,
}

impl CorpusFingerprint {
    /// Fingerprints a corpus from its path, shape and first and last models.
    pub fn new(path: &Path, shape: [usize; 3], first: &[f32], last: &[f32]) -> Self {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for v in first.iter().chain(last) {
            for b in v.to_le_bytes() {
                h ^= b as u64;
                h = h.wrapping_mul(0x0000_0100_0000_01b3);
            }
        }
        CorpusFingerprint {
            path: path.to_path_buf(),
            shape,
            hash: format!("{h:016x}"),
        }
    }

    /// True when both describe the same data (the path may differ).
    pub fn same_data(&self, other: &CorpusFingerprint) -> bool {
        self.shape == other.shape && self.hash == other.hash
    }
}

/// Metadata common to every prior's checkpoint, plus the kind-specific `details`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckpointMeta {
    /// Always [`FORMAT`].
    pub format: String,
    /// Metadata version.
    pub version: u32,
    /// Which prior.
    pub kind: PriorKind,
    /// Optimiser steps taken.
    pub step: usize,
    /// Velocity normalisation the model was trained in.
    pub normalisation: Normalisation,
    /// Model size (H, W) of the training corpus.
    pub model_shape: [usize; 2],
    /// Grid spacing (dx, dz) of the training corpus, m.
    pub spacing: [f64; 2],
    /// The corpus it was trained on.
    pub corpus: CorpusFingerprint,
    /// Kind-specific metadata (architecture, schedule, optimiser, RNG state, ...).
    pub details: serde_json::Value,
}

/// Writes `tensors` and `meta` to `path` (and `path.json`) atomically.
pub fn save_checkpoint(
    path: &Path,
    meta: &CheckpointMeta,
    tensors: &[(String, Tensor)],
) -> Result<()> {
    let json = serde_json::to_string(meta)
        .map_err(|e| DiffusionError::Checkpoint(format!("metadata: {e}")))?;
    let info = HashMap::from([(METADATA_KEY.to_string(), json)]);
    let data: Vec<(&str, &Tensor)> = tensors.iter().map(|(n, t)| (n.as_str(), t)).collect();
    let bytes = safetensors::serialize(data, Some(info)).map_err(|e| {
        DiffusionError::Checkpoint(format!("{}: cannot serialise ({e})", path.display()))
    })?;
    write_bytes(path, &bytes)?;
    let pretty = serde_json::to_string_pretty(meta)
        .map_err(|e| DiffusionError::Checkpoint(e.to_string()))?;
    write_bytes(&sidecar(path), format!("{pretty}\n").as_bytes())?;
    Ok(())
}

/// Reads a checkpoint: its metadata and every tensor by name.
pub fn load_checkpoint(
    path: &Path,
    device: &Device,
) -> Result<(CheckpointMeta, HashMap<String, Tensor>)> {
    let bytes = std::fs::read(path).map_err(|e| {
        DiffusionError::Checkpoint(format!("{}: cannot read checkpoint ({e})", path.display()))
    })?;
    let bad = |what: String| {
        DiffusionError::Checkpoint(format!(
            "{}: {what}; the file is truncated or not a velprior checkpoint (use another checkpoint or retrain)",
            path.display()
        ))
    };
    let st = safetensors::SafeTensors::deserialize(&bytes)
        .map_err(|e| bad(format!("unreadable ({e})")))?;
    let (_, header) = safetensors::SafeTensors::read_metadata(&bytes)
        .map_err(|e| bad(format!("unreadable ({e})")))?;
    let json = header
        .metadata()
        .as_ref()
        .and_then(|m| m.get(METADATA_KEY))
        .ok_or_else(|| bad("no velprior metadata".into()))?;
    let meta: CheckpointMeta =
        serde_json::from_str(json).map_err(|e| bad(format!("bad metadata ({e})")))?;
    if meta.format != FORMAT || meta.version > VERSION {
        return Err(bad(format!(
            "format {} v{} is not {FORMAT} v{VERSION} or older",
            meta.format, meta.version
        )));
    }
    let mut tensors = HashMap::new();
    for (name, view) in st.tensors() {
        tensors.insert(name, view.load(device)?);
    }
    Ok((meta, tensors))
}

/// The human-readable metadata copy written beside a checkpoint.
pub fn sidecar(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".json");
    PathBuf::from(s)
}
