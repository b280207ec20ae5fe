//! The GAN trainer: per mini-batch of the in-memory corpus one discriminator step on real
//! models against G(z), z ~ N(0, I), then one generator step on fresh codes (non-saturating
//! losses, each network its own AdamW); metrics as JSON lines; atomic checkpoints.
//!
//! Resuming is exact: epoch e shuffles, flips and draws codes from its own ChaCha8 stream
//! (seed, stream 1 + e), checkpoints fall on epoch boundaries and store the discriminator's
//! power-iteration vectors.
//!
//! Checkpoint tensors: `model.generator.*`, `model.discriminator.*` (see `velprior_nn::gan`),
//! `adam_m.<name>`, `adam_v.<name>`, `power.<layer>`; `details` = [`GanDetails`].

use std::path::{Path, PathBuf};
use std::time::Instant;

use candle_core::{DType, Device, Tensor, Var};
use candle_nn::VarMap;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};
use velprior_data::RunDir;
use velprior_nn::{
    Decoder, Gan, discriminator_loss, generator_loss, sample_prior, seeded_var_builder,
};

use crate::baselines::config::{AeLoopConfig, GanModelConfig, GanTrainConfig};
use crate::baselines::training_corpus::{
    TrainingCorpus, checkpoint_tensor, epoch_order, mismatch, sorted_vars,
};
use crate::checkpoint::{CheckpointMeta, PriorKind, load_checkpoint, save_checkpoint};
use crate::error::{DiffusionError, Result};
use crate::optim::AdamW;
use crate::trainer::{CHECKPOINT_FILE, METRICS_FILE};

/// GAN-specific checkpoint metadata (`CheckpointMeta::details`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GanDetails {
    /// The networks.
    pub model: GanModelConfig,
    /// The training loop.
    pub train: AeLoopConfig,
    /// Epochs completed.
    pub epoch: usize,
    /// Generator (= discriminator) updates taken.
    pub optimizer_steps: usize,
}

/// One logged epoch (means over its batches).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GanEpochMetrics {
    /// Epochs done.
    pub epoch: usize,
    /// Generator steps done.
    pub step: usize,
    /// Discriminator loss (2 ln 2 ≈ 1.386 when it cannot tell real from generated).
    pub loss_d: f64,
    /// Generator loss (ln 2 ≈ 0.693 at that point).
    pub loss_g: f64,
    /// Mean discriminator logit of real models.
    pub logit_real: f64,
    /// Mean discriminator logit of generated models.
    pub logit_fake: f64,
    /// Learning rate of the last step.
    pub lr: f64,
    /// Epochs per second since the previous log line.
    pub epochs_per_s: f64,
}

/// Hooks for progress bars; no-op defaults.
pub trait GanObserver {
    /// After every epoch.
    fn on_epoch(&mut self, _epoch: usize, _total: usize) {}
    /// After every logged epoch.
    fn on_log(&mut self, _metrics: &GanEpochMetrics) {}
}

/// An observer that does nothing.
pub struct QuietGan;
impl GanObserver for QuietGan {}

/// A GAN training run.
pub struct GanTrainer {
    cfg: GanTrainConfig,
    run: RunDir,
    corpus: TrainingCorpus,
    gan: Gan,
    varmap: VarMap,
    names: Vec<String>,
    vars: Vec<Var>,
    /// Indices into `names`/`vars` of the generator's and the discriminator's variables.
    parts: [Vec<usize>; 2],
    opts: [AdamW; 2],
    epoch: usize,
    device: Device,
}

const GENERATOR: usize = 0;
const DISCRIMINATOR: usize = 1;

impl GanTrainer {
    /// A fresh run on `device`: seeded weights and power vectors, zero optimiser state.
    pub fn new(cfg: GanTrainConfig, device: &Device) -> Result<GanTrainer> {
        let corpus = TrainingCorpus::read(&cfg.data)?;
        let varmap = VarMap::new();
        let vb = seeded_var_builder(&varmap, cfg.train.seed, DType::F32, device);
        let gan = Gan::new(&cfg.model.network(corpus.model_shape()), cfg.train.seed, vb)?;
        let (names, vars) = sorted_vars(&varmap);
        let part = |prefix: &str| -> Vec<usize> {
            (0..names.len())
                .filter(|&k| names[k].starts_with(prefix))
                .collect()
        };
        let parts = [part("generator."), part("discriminator.")];
        let optimiser = |p: &Vec<usize>| {
            AdamW::new(
                p.iter().map(|&k| vars[k].clone()).collect(),
                cfg.train.optimizer,
            )
        };
        let opts = [optimiser(&parts[0])?, optimiser(&parts[1])?];
        let run = RunDir::create(&cfg.output)?;
        Ok(GanTrainer {
            cfg,
            run,
            corpus,
            gan,
            varmap,
            names,
            vars,
            parts,
            opts,
            epoch: 0,
            device: device.clone(),
        })
    }

    /// Continues the run saved in `checkpoint`; the config must describe the same networks,
    /// normalisation and corpus.
    pub fn resume(cfg: GanTrainConfig, checkpoint: &Path, device: &Device) -> Result<GanTrainer> {
        let mut t = GanTrainer::new(cfg, device)?;
        let (meta, tensors) = load_checkpoint(checkpoint, device)?;
        let details = gan_details(&meta, checkpoint)?;
        if details.model != t.cfg.model {
            return Err(mismatch(checkpoint, "[model]"));
        }
        t.corpus.check_resumable(&meta, checkpoint)?;
        let get = |name: String| checkpoint_tensor(&tensors, &name, checkpoint);
        for (k, name) in t.names.iter().enumerate() {
            t.vars[k].set(&get(format!("model.{name}"))?)?;
        }
        for (part, opt) in t.parts.iter().zip(t.opts.iter_mut()) {
            for (j, &k) in part.iter().enumerate() {
                opt.first[j] = get(format!("adam_m.{}", t.names[k]))?;
                opt.second[j] = get(format!("adam_v.{}", t.names[k]))?;
            }
            opt.steps_taken = details.optimizer_steps;
        }
        t.gan
            .discriminator
            .set_power_vectors(|layer| tensors.get(&format!("power.{layer}")).cloned())?;
        t.epoch = details.epoch;
        Ok(t)
    }

    /// Epochs completed.
    pub fn epoch(&self) -> usize {
        self.epoch
    }

    /// The trained variables by name (for tests).
    pub fn varmap(&self) -> &VarMap {
        &self.varmap
    }

    /// Trains until `train.epochs` (or `stop_after` epochs in total), logging and
    /// checkpointing on the way; draws `samples.png` at the end. Returns the checkpoint path.
    pub fn run(
        &mut self,
        observer: &mut dyn GanObserver,
        stop_after: Option<usize>,
    ) -> Result<PathBuf> {
        let t = self.cfg.train.clone();
        let end = stop_after.map_or(t.epochs, |s| s.min(t.epochs));
        let checkpoint = self.run.path(CHECKPOINT_FILE);
        let n = self.corpus.shape()[0];
        let total_steps = t.epochs * n.div_ceil(t.batch_size);
        let (mut tick, mut since_log) = (Instant::now(), 0usize);
        while self.epoch < end {
            let (mut rng, order) = epoch_order(t.seed, self.epoch, n);
            let (mut sums, mut lr) = ([0f64; 4], 0.0);
            for batch in order.chunks(t.batch_size) {
                lr = t
                    .optimizer
                    .lr_at(self.opts[GENERATOR].steps_taken, total_steps);
                let terms = self.step(batch, lr, &mut rng)?;
                for (s, v) in sums.iter_mut().zip(terms) {
                    *s += v * batch.len() as f64;
                }
            }
            self.epoch += 1;
            since_log += 1;
            observer.on_epoch(self.epoch, t.epochs);
            if self.epoch.is_multiple_of(t.log_every) || self.epoch == end {
                let m = GanEpochMetrics {
                    epoch: self.epoch,
                    step: self.opts[GENERATOR].steps_taken,
                    loss_d: sums[0] / n as f64,
                    loss_g: sums[1] / n as f64,
                    logit_real: sums[2] / n as f64,
                    logit_fake: sums[3] / n as f64,
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
            let x = sample_prior(&self.gan.generator, 16, 1.0, t.seed, &self.device)?;
            let title = format!("GAN samples, epoch {}", self.epoch);
            self.corpus
                .save_samples(&self.run, x.flatten_all()?.to_vec1::<f32>()?, title)?;
        }
        Ok(checkpoint)
    }

    /// One discriminator and one generator update on the models `batch`; returns the
    /// discriminator loss, the generator loss and the mean real and generated logits.
    fn step(&mut self, batch: &[usize], lr: f64, rng: &mut ChaCha8Rng) -> Result<[f64; 4]> {
        let [_, h, w] = self.corpus.shape();
        let real = Tensor::from_vec(
            self.corpus.batch(batch, rng),
            (batch.len(), 1, h, w),
            &self.device,
        )?;
        let fake = self.gan.generator.decode(&self.codes(batch.len(), rng)?)?;
        let logit_real = self.gan.discriminator.forward(&real)?;
        let logit_fake = self.gan.discriminator.forward(&fake.detach())?;
        let loss_d = discriminator_loss(&logit_real, &logit_fake)?;
        self.opts[DISCRIMINATOR].step(&loss_d.backward()?, lr)?;
        let fake = self.gan.generator.decode(&self.codes(batch.len(), rng)?)?;
        let loss_g = generator_loss(&self.gan.discriminator.forward(&fake)?)?;
        self.opts[GENERATOR].step(&loss_g.backward()?, lr)?;
        let scalar = |t: &Tensor| -> Result<f64> { Ok(f64::from(t.to_scalar::<f32>()?)) };
        let terms = [
            scalar(&loss_d)?,
            scalar(&loss_g)?,
            scalar(&logit_real.mean_all()?)?,
            scalar(&logit_fake.mean_all()?)?,
        ];
        if terms.iter().any(|v| !v.is_finite()) {
            return Err(DiffusionError::Diverged(format!(
                "GAN training diverged in epoch {}: losses {terms:?}; lower train.optimizer.lr",
                self.epoch + 1
            )));
        }
        Ok(terms)
    }

    /// `n` codes z ~ N(0, I) from `rng`.
    fn codes(&self, n: usize, rng: &mut ChaCha8Rng) -> Result<Tensor> {
        let k = self.cfg.model.latent_dim;
        let z: Vec<f32> = (0..n * k)
            .map(|_| StandardNormal.sample(&mut *rng))
            .collect();
        Ok(Tensor::from_vec(z, (n, k), &self.device)?)
    }

    /// Writes a checkpoint of the current state to `path`.
    pub fn save(&self, path: &Path) -> Result<()> {
        let details = GanDetails {
            model: self.cfg.model.clone(),
            train: self.cfg.train.clone(),
            epoch: self.epoch,
            optimizer_steps: self.opts[GENERATOR].steps_taken,
        };
        let meta =
            self.corpus
                .checkpoint_meta(PriorKind::Gan, details.optimizer_steps, &details)?;
        let mut tensors = Vec::with_capacity(3 * self.names.len());
        for (part, opt) in self.parts.iter().zip(&self.opts) {
            for (j, &k) in part.iter().enumerate() {
                let name = &self.names[k];
                tensors.push((format!("model.{name}"), self.vars[k].as_tensor().clone()));
                tensors.push((format!("adam_m.{name}"), opt.first[j].clone()));
                tensors.push((format!("adam_v.{name}"), opt.second[j].clone()));
            }
        }
        for (layer, u) in self.gan.discriminator.power_vectors() {
            tensors.push((format!("power.{layer}"), u));
        }
        save_checkpoint(path, &meta, &tensors)
    }
}

/// Parses the GAN details of a checkpoint, refusing other prior kinds.
pub fn gan_details(meta: &CheckpointMeta, path: &Path) -> Result<GanDetails> {
    if meta.kind != PriorKind::Gan {
        return Err(DiffusionError::Checkpoint(format!(
            "{}: holds a {} prior, not a GAN",
            path.display(),
            meta.kind.name()
        )));
    }
    serde_json::from_value(meta.details.clone()).map_err(|e| {
        DiffusionError::Checkpoint(format!("{}: bad GAN metadata ({e})", path.display()))
    })
}
