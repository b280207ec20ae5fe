//! A corpus read into memory and normalised, as the network baselines (autoencoder, VAE, GAN)
//! train on it: mini-batches with random lateral flips, the checkpoint metadata that names
//! it, and the checks a resumed run makes against it.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{Tensor, Var};
use candle_nn::VarMap;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use velprior_data::render::{RenderOptions, display_models, render_grid, save_png};
use velprior_data::transform::flip_lateral;
use velprior_data::{Normalisation, RunDir, read_corpus};

use crate::checkpoint::{CheckpointMeta, CorpusFingerprint, FORMAT, PriorKind, VERSION};
use crate::config::DataConfig;
use crate::error::{DiffusionError, Result};

/// Normalised models (N, H, W), row-major, and what identifies them.
pub struct TrainingCorpus {
    data: Vec<f32>,
    shape: [usize; 3],
    spacing: [f64; 2],
    norm: Normalisation,
    fingerprint: CorpusFingerprint,
    flip: bool,
}

impl TrainingCorpus {
    /// Reads the whole corpus of `cfg` and normalises it.
    pub fn read(cfg: &DataConfig) -> Result<TrainingCorpus> {
        let corpus = read_corpus(&cfg.corpus, Some(&cfg.dataset))?;
        let shape = corpus.shape();
        let fingerprint = CorpusFingerprint::new(
            &cfg.corpus,
            shape,
            corpus.model(0),
            corpus.model(shape[0] - 1),
        );
        let spacing = [corpus.meta.dx, corpus.meta.dz];
        let norm = Normalisation::new(cfg.vmin, cfg.vmax)?;
        let mut data = corpus.into_velocity();
        norm.normalise(&mut data);
        Ok(TrainingCorpus {
            data,
            shape,
            spacing,
            norm,
            fingerprint,
            flip: cfg.flip_lateral,
        })
    }

    /// (N, H, W).
    pub fn shape(&self) -> [usize; 3] {
        self.shape
    }

    /// (H, W) of one model.
    pub fn model_shape(&self) -> [usize; 2] {
        [self.shape[1], self.shape[2]]
    }

    /// All models, normalised.
    pub fn models(&self) -> &[f32] {
        &self.data
    }

    /// The normalisation of velocities to [−1, 1].
    pub fn normalisation(&self) -> Normalisation {
        self.norm
    }

    /// Models `indices`, flat, each mirrored with probability ½ when `data.flip_lateral` is
    /// set.
    pub fn batch(&self, indices: &[usize], rng: &mut ChaCha8Rng) -> Vec<f32> {
        let [_, h, w] = self.shape;
        let mut x = Vec::with_capacity(indices.len() * h * w);
        for &i in indices {
            let start = x.len();
            x.extend_from_slice(&self.data[i * h * w..(i + 1) * h * w]);
            if self.flip && w > 1 && rng.random_bool(0.5) {
                flip_lateral(&mut x[start..], w);
            }
        }
        x
    }

    /// Checkpoint metadata of a `kind` prior trained on this corpus.
    pub fn checkpoint_meta(
        &self,
        kind: PriorKind,
        step: usize,
        details: &impl Serialize,
    ) -> Result<CheckpointMeta> {
        Ok(CheckpointMeta {
            format: FORMAT.to_string(),
            version: VERSION,
            kind,
            step,
            normalisation: self.norm,
            model_shape: self.model_shape(),
            spacing: self.spacing,
            corpus: self.fingerprint.clone(),
            details: serde_json::to_value(details)
                .map_err(|e| DiffusionError::Checkpoint(e.to_string()))?,
        })
    }

    /// Refuses to resume `checkpoint` (metadata `meta`) on another normalisation or corpus.
    pub fn check_resumable(&self, meta: &CheckpointMeta, checkpoint: &Path) -> Result<()> {
        if meta.normalisation != self.norm {
            return Err(mismatch(checkpoint, "data.vmin/vmax"));
        }
        if !meta.corpus.same_data(&self.fingerprint) {
            return Err(mismatch(checkpoint, "corpus (shape or content)"));
        }
        Ok(())
    }

    /// Renders normalised models (n, H, W) as a grid into `samples.png` of `run`.
    pub fn save_samples(&self, run: &RunDir, mut models: Vec<f32>, title: String) -> Result<()> {
        self.norm.denormalise(&mut models);
        let n = models.len() / (self.shape[1] * self.shape[2]);
        let (shown, [h, w]) = display_models(&models, [n, self.shape[1], self.shape[2]]);
        let options = RenderOptions {
            range: Some((self.norm.vmin, self.norm.vmax)),
            title: Some(title),
            ..Default::default()
        };
        save_png(
            &run.path("samples.png"),
            &render_grid(&shown, [n, h, w], 8, &options, None)?,
        )?;
        Ok(())
    }
}

/// Tensor `name` of the checkpoint `tensors` read from `checkpoint`, or an error naming it.
pub fn checkpoint_tensor(
    tensors: &HashMap<String, Tensor>,
    name: &str,
    checkpoint: &Path,
) -> Result<Tensor> {
    tensors.get(name).cloned().ok_or_else(|| {
        DiffusionError::Checkpoint(format!(
            "{}: tensor '{name}' is missing",
            checkpoint.display()
        ))
    })
}

/// Epoch `epoch`'s random stream (ChaCha8 `seed`, stream 1 + epoch: resuming at an epoch
/// boundary needs no stored RNG position) after it has shuffled the order of `n` models.
pub fn epoch_order(seed: u64, epoch: usize, n: usize) -> (ChaCha8Rng, Vec<usize>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(1 + epoch as u64);
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut rng);
    (rng, order)
}

/// The error of a resumed run whose `what` differs from the checkpoint's.
pub fn mismatch(checkpoint: &Path, what: &str) -> DiffusionError {
    DiffusionError::Checkpoint(format!(
        "{}: the checkpoint's {what} differs from the config's; resume with the config it was trained with",
        checkpoint.display()
    ))
}

/// The variables of `varmap` sorted by name (a stable order for optimisers and checkpoints).
pub fn sorted_vars(varmap: &VarMap) -> (Vec<String>, Vec<Var>) {
    let data = varmap.data().lock().expect("varmap lock");
    let mut pairs: Vec<(String, Var)> = data.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    pairs.sort_by(|a, b| a.0.cmp(&b.0));
    pairs.into_iter().unzip()
}
