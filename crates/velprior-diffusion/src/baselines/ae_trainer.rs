//! The regularised-autoencoder trainer: loss ‖x − D(E(x))‖² + λ‖E(x)‖² over shuffled
//! mini-batches of an in-memory corpus, AdamW, metrics as JSON lines, atomic checkpoints
//! that store the corpus latents' empirical std s (sampling draws z ~ N(0, s²I)).
//!
//! Resuming is exact without a stored RNG position: epoch e shuffles and flips with its own
//! ChaCha8 stream (seed, stream 1 + e), and checkpoints fall on epoch boundaries.
//!
//! Checkpoint tensors: `model.<name>` (the network's own names, see `velprior_nn::ae_mlp` /
//! `ae_conv`), `adam_m.<name>`, `adam_v.<name>`; `details` = [`AeDetails`].

use std::path::{Path, PathBuf};
use std::time::Instant;

use candle_core::{DType, Device, Var};
use candle_nn::VarMap;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use velprior_data::RunDir;
use velprior_nn::{fit_latent_std, regularised_ae_loss, seeded_var_builder, vae_loss};

use crate::baselines::ae_model::AnyAutoencoder;
use crate::baselines::config::{AeLoopConfig, AeModelConfig, AeTrainConfig};
use crate::baselines::training_corpus::{
    TrainingCorpus, checkpoint_tensor, epoch_order, mismatch, sorted_vars,
};
use crate::checkpoint::{CheckpointMeta, PriorKind, load_checkpoint, save_checkpoint};
use crate::error::{DiffusionError, Result};
use crate::optim::AdamW;
use crate::trainer::{CHECKPOINT_FILE, METRICS_FILE};

/// Autoencoder-specific checkpoint metadata (`CheckpointMeta::details`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AeDetails {
    /// The network.
    pub model: AeModelConfig,
    /// The training loop.
    pub train: AeLoopConfig,
    /// Epochs completed.
    pub epoch: usize,
    /// AdamW updates taken.
    pub optimizer_steps: usize,
    /// Empirical std s of the corpus latents (all entries, about their global mean).
    pub latent_std: f64,
}

/// One logged epoch.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AeEpochMetrics {
    /// Epochs done.
    pub epoch: usize,
    /// Optimiser steps done.
    pub step: usize,
    /// Mean total loss over the epoch.
    pub loss: f64,
    /// Mean reconstruction term ‖x − D(E(x))‖² (per model, normalised units²).
    pub recon: f64,
    /// Mean latent term ‖E(x)‖².
    pub latent: f64,
    /// Learning rate of the last step.
    pub lr: f64,
    /// Epochs per second since the previous log line.
    pub epochs_per_s: f64,
}

/// Hooks for progress bars; no-op defaults.
pub trait AeObserver {
    /// After every epoch.
    fn on_epoch(&mut self, _epoch: usize, _total: usize) {}
    /// After every logged epoch.
    fn on_log(&mut self, _metrics: &AeEpochMetrics) {}
}

/// An observer that does nothing.
pub struct QuietAe;
impl AeObserver for QuietAe {}

/// An autoencoder training run.
pub struct AeTrainer {
    cfg: AeTrainConfig,
    run: RunDir,
    corpus: TrainingCorpus,
    ae: AnyAutoencoder,
    varmap: VarMap,
    names: Vec<String>,
    vars: Vec<Var>,
    opt: AdamW,
    epoch: usize,
    /// Where the weights and batches live.
    device: Device,
}

impl AeTrainer {
    /// A fresh run on `device`: seeded initial weights, zero optimiser state; reads the whole
    /// corpus.
    pub fn new(cfg: AeTrainConfig, device: &Device) -> Result<AeTrainer> {
        let corpus = TrainingCorpus::read(&cfg.data)?;
        let varmap = VarMap::new();
        let vb = seeded_var_builder(&varmap, cfg.train.seed, DType::F32, device);
        let ae = cfg.model.build(corpus.model_shape(), vb)?;
        let (names, vars) = sorted_vars(&varmap);
        let opt = AdamW::new(vars.clone(), cfg.train.optimizer)?;
        let run = RunDir::create(&cfg.output)?;
        Ok(AeTrainer {
            cfg,
            run,
            corpus,
            ae,
            varmap,
            names,
            vars,
            opt,
            epoch: 0,
            device: device.clone(),
        })
    }

    /// Continues the run saved in `checkpoint`; the config must describe the same network,
    /// normalisation and corpus.
    pub fn resume(cfg: AeTrainConfig, checkpoint: &Path, device: &Device) -> Result<AeTrainer> {
        let mut t = AeTrainer::new(cfg, device)?;
        let (meta, tensors) = load_checkpoint(checkpoint, device)?;
        let details = ae_details(&meta, checkpoint)?;
        if details.model != t.cfg.model {
            return Err(mismatch(checkpoint, "[model]"));
        }
        t.corpus.check_resumable(&meta, checkpoint)?;
        let get = |name: String| checkpoint_tensor(&tensors, &name, checkpoint);
        for (k, name) in t.names.iter().enumerate() {
            t.vars[k].set(&get(format!("model.{name}"))?)?;
            t.opt.first[k] = get(format!("adam_m.{name}"))?;
            t.opt.second[k] = get(format!("adam_v.{name}"))?;
        }
        t.opt.steps_taken = details.optimizer_steps;
        t.epoch = details.epoch;
        Ok(t)
    }

    /// Epochs completed.
    pub fn epoch(&self) -> usize {
        self.epoch
    }

    /// The run folder.
    pub fn run_dir(&self) -> &RunDir {
        &self.run
    }

    /// The network being trained.
    pub fn autoencoder(&self) -> &AnyAutoencoder {
        &self.ae
    }

    /// The trained variables by name (for tests).
    pub fn varmap(&self) -> &VarMap {
        &self.varmap
    }

    /// Trains until `train.epochs` (or `stop_after` epochs in total), logging and
    /// checkpointing on the way; draws `samples.png` at the end. Returns the checkpoint path.
    pub fn run(
        &mut self,
        observer: &mut dyn AeObserver,
        stop_after: Option<usize>,
    ) -> Result<PathBuf> {
        let t = self.cfg.train.clone();
        let end = stop_after.map_or(t.epochs, |s| s.min(t.epochs));
        let checkpoint = self.run.path(CHECKPOINT_FILE);
        let n = self.corpus.shape()[0];
        let total_steps = t.epochs * n.div_ceil(t.batch_size);
        let mut tick = Instant::now();
        let mut since_log = 0usize;
        while self.epoch < end {
            let (mut rng, order) = epoch_order(t.seed, self.epoch, n);
            let (mut sums, mut lr) = ([0f64; 3], 0.0);
            for batch in order.chunks(t.batch_size) {
                lr = t.optimizer.lr_at(self.opt.steps_taken, total_steps);
                let x = self.batch(batch, &mut rng)?;
                let lambda = self.cfg.model.lambda;
                let loss = if self.cfg.model.variational {
                    vae_loss(&self.ae, &x, lambda, &mut rng)?
                } else {
                    regularised_ae_loss(&self.ae, &x, lambda)?
                };
                let value = loss.total.to_scalar::<f32>()? as f64;
                if !value.is_finite() {
                    return Err(DiffusionError::Diverged(format!(
                        "autoencoder training diverged in epoch {}: loss is {value}; lower train.optimizer.lr",
                        self.epoch + 1
                    )));
                }
                let w = batch.len() as f64;
                sums[0] += value * w;
                sums[1] += loss.recon.to_scalar::<f32>()? as f64 * w;
                sums[2] += loss.latent.to_scalar::<f32>()? as f64 * w;
                self.opt.step(&loss.total.backward()?, lr)?;
            }
            self.epoch += 1;
            since_log += 1;
            observer.on_epoch(self.epoch, t.epochs);
            if self.epoch.is_multiple_of(t.log_every) || self.epoch == end {
                let m = AeEpochMetrics {
                    epoch: self.epoch,
                    step: self.opt.steps_taken,
                    loss: sums[0] / n as f64,
                    recon: sums[1] / n as f64,
                    latent: sums[2] / n as f64,
                    lr,
                    epochs_per_s: since_log as f64 / tick.elapsed().as_secs_f64(),
                };
                self.run.append_jsonl(METRICS_FILE, &m)?;
                observer.on_log(&m);
                (tick, since_log) = (Instant::now(), 0);
            }
            if self.epoch.is_multiple_of(t.checkpoint_every) || self.epoch == end {
                self.save(&checkpoint)?;
            }
        }
        if self.epoch == t.epochs {
            self.draw_samples(16)?;
        }
        Ok(checkpoint)
    }

    /// The std s of the latent prior N(0, s²I): 1 for a VAE, else the empirical std of the
    /// whole corpus's latents (no flips).
    pub fn latent_std(&self) -> Result<f64> {
        if self.cfg.model.variational {
            return Ok(1.0);
        }
        let x = self.ae.input(
            self.corpus.models().to_vec(),
            self.corpus.shape()[0],
            &self.device,
        )?;
        Ok(fit_latent_std(&self.ae, &x, 256)?)
    }

    /// Writes a checkpoint of the current state (with a fresh latent std) to `path`.
    pub fn save(&self, path: &Path) -> Result<()> {
        let details = AeDetails {
            model: self.cfg.model.clone(),
            train: self.cfg.train.clone(),
            epoch: self.epoch,
            optimizer_steps: self.opt.steps_taken,
            latent_std: self.latent_std()?,
        };
        let kind = if self.cfg.model.variational {
            PriorKind::Vae
        } else {
            PriorKind::Autoencoder
        };
        let meta = self
            .corpus
            .checkpoint_meta(kind, self.opt.steps_taken, &details)?;
        let mut tensors = Vec::with_capacity(3 * self.names.len());
        for (k, name) in self.names.iter().enumerate() {
            tensors.push((format!("model.{name}"), self.vars[k].as_tensor().clone()));
            tensors.push((format!("adam_m.{name}"), self.opt.first[k].clone()));
            tensors.push((format!("adam_v.{name}"), self.opt.second[k].clone()));
        }
        save_checkpoint(path, &meta, &tensors)
    }

    /// Decodes `n` latents z ~ N(0, s²I) (seed = run seed) into `samples.png`.
    fn draw_samples(&self, n: usize) -> Result<()> {
        let s = self.latent_std()?;
        let x = velprior_nn::sample_prior(&self.ae, n, s, self.cfg.train.seed, &self.device)?;
        let title = format!("AE samples, epoch {}", self.epoch);
        self.corpus
            .save_samples(&self.run, x.flatten_all()?.to_vec1::<f32>()?, title)
    }

    /// Models `indices` as the network's input (see [`TrainingCorpus::batch`]).
    fn batch(&self, indices: &[usize], rng: &mut ChaCha8Rng) -> Result<candle_core::Tensor> {
        let x = self.corpus.batch(indices, rng);
        self.ae.input(x, indices.len(), &self.device)
    }
}

/// Parses the autoencoder details of a checkpoint, refusing other prior kinds.
pub fn ae_details(meta: &CheckpointMeta, path: &Path) -> Result<AeDetails> {
    if !matches!(meta.kind, PriorKind::Autoencoder | PriorKind::Vae) {
        return Err(DiffusionError::Checkpoint(format!(
            "{}: holds a {:?} prior, not an autoencoder",
            path.display(),
            meta.kind
        )));
    }
    serde_json::from_value(meta.details.clone()).map_err(|e| {
        DiffusionError::Checkpoint(format!(
            "{}: bad autoencoder metadata ({e})",
            path.display()
        ))
    })
}
