//! The diffusion trainer: streams batches from an HDF5 corpus, takes AdamW steps on the
//! configured objective, keeps EMA weights, logs metrics as JSON lines and writes atomic,
//! resumable checkpoints. Progress and pictures hang off a [`TrainObserver`].
//!
//! Resuming is exact: every random choice (batch indices, flips, timesteps, noise, dropout)
//! comes from one ChaCha8 stream whose position is checkpointed, so 20 steps equal 10 steps +
//! resume + 10 steps bit for bit on the same machine.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use candle_core::{DType, Device, Tensor, Var};
use candle_nn::{VarBuilder, VarMap};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use velprior_data::render::{RenderOptions, render_grid, save_png};
use velprior_data::transform::flip_lateral;
use velprior_data::{CorpusReader, Normalisation, RunDir};
use velprior_kernels::Schedule;
use velprior_nn::UNet;

use crate::all_reduce::{AllReduce, all_reduce_grads, batch_rows, flatten, unflatten};
use crate::checkpoint::{
    CheckpointMeta, CorpusFingerprint, FORMAT, PriorKind, VERSION, load_checkpoint, save_checkpoint,
};
pub use crate::compatibility::{DiffusionDetails, diffusion_details};
use crate::compatibility::{check_same_model, tensor};
use crate::config::TrainConfig;
use crate::ema::Ema;
use crate::error::{DiffusionError, Result};
use crate::objective::training_loss_rows;
use crate::optim::AdamW;
pub use crate::rng_state::RngState;
use crate::samplers::{NoObserver, SamplerConfig, sample};
use crate::unet_denoiser::UNetDenoiser;

/// File name of the latest checkpoint inside the run folder.
pub const CHECKPOINT_FILE: &str = "checkpoint.safetensors";
/// File name of the metrics log inside the run folder.
pub const METRICS_FILE: &str = "metrics.jsonl";

/// One logged point of training.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepMetrics {
    /// Steps done.
    pub step: usize,
    /// Mean loss since the previous log line.
    pub loss: f64,
    /// Learning rate of the last step.
    pub lr: f64,
    /// Gradient norm (before clipping) of the last step.
    pub grad_norm: f64,
    /// Optimiser steps per second since the previous log line.
    pub steps_per_s: f64,
}

/// Hooks for progress bars, pictures and logs; every method has a no-op default.
pub trait TrainObserver {
    /// Called after every logged step.
    fn on_log(&mut self, _metrics: &StepMetrics) {}
    /// Called after every step with the step count.
    fn on_step(&mut self, _step: usize, _total: usize) {}
    /// Called after a checkpoint is written.
    fn on_checkpoint(&mut self, _trainer: &Trainer, _path: &Path) -> Result<()> {
        Ok(())
    }
}

/// An observer that does nothing.
pub struct Silent;
impl TrainObserver for Silent {}

/// A diffusion training run.
pub struct Trainer {
    cfg: TrainConfig,
    run: RunDir,
    reader: CorpusReader,
    norm: Normalisation,
    schedule: Schedule,
    unet: UNet,
    varmap: VarMap,
    names: Vec<String>,
    vars: Vec<Var>,
    opt: AdamW,
    ema: Ema,
    rng: ChaCha8Rng,
    step: usize,
    fingerprint: CorpusFingerprint,
    /// Data-parallel group (None: one worker on the whole batch).
    comm: Option<Box<dyn AllReduce>>,
    /// Where the weights, optimiser state and batches live.
    device: Device,
}

impl Trainer {
    /// A fresh run on `device`: seeded initial weights, zero optimiser state. The seed gives
    /// the same initial weights, batches and noise on every device (all drawn on the host).
    pub fn new(cfg: TrainConfig, device: &Device) -> Result<Trainer> {
        let reader = CorpusReader::open(&cfg.data.corpus, Some(&cfg.data.dataset))?;
        let [_, h, w] = reader.shape();
        let factor = 1usize << (cfg.model.levels() - 1);
        if h < factor || w < factor {
            return Err(DiffusionError::invalid(format!(
                "{}: models of {h}x{w} are smaller than the UNet's downsampling factor: its {} levels need at least {factor}x{factor}; use fewer [model] channel_mult entries or larger models",
                cfg.data.corpus.display(),
                cfg.model.levels()
            )));
        }
        let norm = Normalisation::new(cfg.data.vmin, cfg.data.vmax)?;
        let schedule = cfg.diffusion.schedule()?;
        let seed = cfg.train.seed;
        let (unet, varmap) = UNet::new_seeded(&cfg.model, seed, device)?;
        let (names, vars) = sorted_vars(&varmap);
        let opt = AdamW::new(vars.clone(), cfg.train.optimizer)?;
        let ema = Ema::new(&vars, cfg.train.ema_decay)?;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(1);
        let fingerprint = fingerprint(&reader)?;
        let run = RunDir::create(&cfg.output)?;
        Ok(Trainer {
            cfg,
            run,
            reader,
            norm,
            schedule,
            unet,
            varmap,
            names,
            vars,
            opt,
            ema,
            rng,
            step: 0,
            fingerprint,
            comm: None,
            device: device.clone(),
        })
    }

    /// Continues the run saved in `checkpoint`; the config must describe the same model,
    /// noise process and corpus.
    pub fn resume(cfg: TrainConfig, checkpoint: &Path, device: &Device) -> Result<Trainer> {
        let (meta, tensors) = load_checkpoint(checkpoint, device)?;
        let details = check_same_model(&cfg, &meta, checkpoint, "resume")?;
        let mut t = Trainer::new(cfg, device)?;
        if !meta.corpus.same_data(&t.fingerprint) {
            return Err(DiffusionError::Checkpoint(format!(
                "{}: the checkpoint's corpus (shape or content) differs from the config's; \
                 resume with the config it was trained with",
                checkpoint.display()
            )));
        }
        let get = |name: &str| tensor(&tensors, name, checkpoint);
        for (k, name) in t.names.iter().enumerate() {
            t.vars[k].set(&get(&format!("model.{name}"))?)?;
            t.ema.shadow[k] = get(&format!("ema.{name}"))?;
            t.opt.first[k] = get(&format!("adam_m.{name}"))?;
            t.opt.second[k] = get(&format!("adam_v.{name}"))?;
        }
        t.opt.steps_taken = details.optimizer_steps;
        t.rng = details.rng.restore()?;
        t.step = meta.step;
        Ok(t)
    }

    /// A fresh run (step 0, zero optimiser state, the config's learning-rate schedule and
    /// seed) whose weights and EMA start from the EMA weights of `prior` (a shipped prior or a
    /// training checkpoint): more training of a prior, on its corpus or another. The config
    /// must describe the same model, noise process and normalisation; its objective may differ
    /// (an ε-prior retrained to predict v keeps its features, its loss retrains the output).
    pub fn warm_start(cfg: TrainConfig, prior: &Path, device: &Device) -> Result<Trainer> {
        let (meta, tensors) = load_checkpoint(prior, device)?;
        let mut as_trained = cfg.clone();
        as_trained.diffusion.objective = diffusion_details(&meta, prior)?.diffusion.objective;
        check_same_model(&as_trained, &meta, prior, "warm-start")?;
        let mut t = Trainer::new(cfg, device)?;
        for (k, name) in t.names.iter().enumerate() {
            let w = tensor(&tensors, &format!("ema.{name}"), prior)?;
            t.vars[k].set(&w)?;
            t.ema.shadow[k] = w;
        }
        Ok(t)
    }

    /// Makes this trainer one rank of a data-parallel group: rank 0's weights, EMA and
    /// optimiser state are broadcast, each step trains on this rank's rows of the batch
    /// ([`batch_rows`]) and all-reduces the gradients; only rank 0 writes logs, checkpoints
    /// and pictures. With dropout the ranks' masks differ from a single worker's.
    pub fn with_data_parallel(mut self, mut comm: Box<dyn AllReduce>) -> Result<Trainer> {
        let state: Vec<Tensor> = self
            .vars
            .iter()
            .map(|v| v.as_tensor().clone())
            .chain(self.ema.shadow.iter().cloned())
            .chain(self.opt.first.iter().cloned())
            .chain(self.opt.second.iter().cloned())
            .collect();
        let restored = unflatten(&comm.broadcast(&flatten(&state)?)?, &state)?;
        let k = self.vars.len();
        for (i, t) in restored.into_iter().enumerate() {
            match i / k {
                0 => self.vars[i % k].set(&t)?,
                1 => self.ema.shadow[i % k] = t,
                2 => self.opt.first[i % k] = t,
                _ => self.opt.second[i % k] = t,
            }
        }
        self.comm = Some(comm);
        Ok(self)
    }

    /// Whether this trainer writes the run folder (a single worker, or rank 0).
    fn writes(&self) -> bool {
        self.comm.as_ref().is_none_or(|c| c.rank() == 0)
    }

    /// Steps taken so far.
    pub fn step(&self) -> usize {
        self.step
    }

    /// The run folder.
    pub fn run_dir(&self) -> &RunDir {
        &self.run
    }

    /// The configuration.
    pub fn config(&self) -> &TrainConfig {
        &self.cfg
    }

    /// The normalisation of the corpus.
    pub fn normalisation(&self) -> Normalisation {
        self.norm
    }

    /// The device the run trains on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The trained network's variables by name (for tests and inspection).
    pub fn varmap(&self) -> &VarMap {
        &self.varmap
    }

    /// The EMA weights by their network names.
    pub fn ema_tensors(&self) -> HashMap<String, Tensor> {
        self.names
            .iter()
            .cloned()
            .zip(self.ema.shadow.iter().cloned())
            .collect()
    }

    /// Trains until `cfg.train.steps` (or `stop_after` steps, for interrupted runs), logging
    /// and checkpointing on the way. Returns the path of the last checkpoint.
    pub fn run(
        &mut self,
        observer: &mut dyn TrainObserver,
        stop_after: Option<usize>,
    ) -> Result<PathBuf> {
        let total = self.cfg.train.steps;
        let end = stop_after.map_or(total, |s| s.min(total));
        let checkpoint = self.run.path(CHECKPOINT_FILE);
        let (mut loss_sum, mut loss_count, mut tick) = (0.0, 0usize, Instant::now());
        while self.step < end {
            let lr = self.cfg.train.optimizer.lr_at(self.step, total);
            let x0 = self.next_batch()?;
            let b = self.cfg.train.batch_size;
            let (rank, world) = self
                .comm
                .as_ref()
                .map_or((0, 1), |c| (c.rank(), c.world_size()));
            let rows = batch_rows(b, rank, world);
            self.unet.set_dropout_seed(
                self.cfg.train.seed
                    ^ (self.step as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)
                    ^ (rank as u64).wrapping_mul(0xd1b5_4a32_d192_ed03),
            );
            let mut loss = training_loss_rows(
                &self.unet,
                &x0,
                &self.cfg.diffusion,
                self.cfg.train.min_snr_gamma,
                &self.schedule,
                &mut self.rng,
                rows.clone(),
            )?;
            if world > 1 {
                // This rank's share of the whole batch's mean loss.
                loss = (loss * (rows.len() as f64 / b as f64))?;
            }
            let mut value = loss.to_scalar::<f32>()? as f64;
            let mut grads = loss.backward()?;
            if let Some(comm) = self.comm.as_mut() {
                value = all_reduce_grads(comm.as_mut(), &self.vars, &mut grads, value)?;
            }
            if !value.is_finite() {
                let keep = if checkpoint.exists() {
                    format!("the last good checkpoint is {}", checkpoint.display())
                } else {
                    "no checkpoint was written yet".to_string()
                };
                return Err(DiffusionError::Diverged(format!(
                    "training diverged at step {}: loss is {value}; {keep}; lower train.optimizer.lr or set train.optimizer.grad_clip",
                    self.step + 1
                )));
            }
            let report = self.opt.step(&grads, lr)?;
            self.ema.update(&self.vars)?;
            self.step += 1;
            loss_sum += value;
            loss_count += 1;
            observer.on_step(self.step, total);
            if self.step.is_multiple_of(self.cfg.train.log_every) || self.step == end {
                let metrics = StepMetrics {
                    step: self.step,
                    loss: loss_sum / loss_count as f64,
                    lr,
                    grad_norm: report.grad_norm,
                    steps_per_s: loss_count as f64 / tick.elapsed().as_secs_f64(),
                };
                if self.writes() {
                    self.run.append_jsonl(METRICS_FILE, &metrics)?;
                    observer.on_log(&metrics);
                }
                (loss_sum, loss_count, tick) = (0.0, 0, Instant::now());
            }
            let save =
                self.step.is_multiple_of(self.cfg.train.checkpoint_every) || self.step == end;
            if save && self.writes() {
                self.save(&checkpoint)?;
                observer.on_checkpoint(self, &checkpoint)?;
            }
            let every = self.cfg.train.sample_every;
            if self.cfg.train.sample_count > 0
                && self.writes()
                && ((every > 0 && self.step.is_multiple_of(every)) || self.step == total)
            {
                self.draw_samples()?;
            }
        }
        Ok(checkpoint)
    }

    /// Writes a checkpoint of the current state to `path`.
    pub fn save(&self, path: &Path) -> Result<()> {
        let c = &self.cfg;
        let details = DiffusionDetails {
            model: c.model.clone(),
            diffusion: c.diffusion.clone(),
            optimizer: c.train.optimizer,
            optimizer_steps: self.opt.steps_taken,
            total_steps: c.train.steps,
            batch_size: c.train.batch_size,
            seed: c.train.seed,
            ema_decay: c.train.ema_decay,
            rng: RngState::capture(&self.rng),
        };
        let [_, h, w] = self.reader.shape();
        let meta = CheckpointMeta {
            format: FORMAT.to_string(),
            version: VERSION,
            kind: PriorKind::Diffusion,
            step: self.step,
            normalisation: self.norm,
            model_shape: [h, w],
            spacing: [self.reader.meta.dx, self.reader.meta.dz],
            corpus: self.fingerprint.clone(),
            details: serde_json::to_value(details)
                .map_err(|e| DiffusionError::Checkpoint(e.to_string()))?,
        };
        let mut tensors = Vec::with_capacity(4 * self.names.len());
        for (k, name) in self.names.iter().enumerate() {
            tensors.push((format!("model.{name}"), self.vars[k].as_tensor().clone()));
            tensors.push((format!("ema.{name}"), self.ema.shadow[k].clone()));
            tensors.push((format!("adam_m.{name}"), self.opt.first[k].clone()));
            tensors.push((format!("adam_v.{name}"), self.opt.second[k].clone()));
        }
        save_checkpoint(path, &meta, &tensors)
    }

    /// Samples `train.sample_count` models from the EMA weights with deterministic DDIM
    /// (`train.sample_steps` steps, seed = run seed) and saves them as `samples-step<N>.png`.
    pub fn draw_samples(&self) -> Result<PathBuf> {
        let device = &self.device;
        let vb = VarBuilder::from_tensors(self.ema_tensors(), DType::F32, device);
        let denoiser = UNetDenoiser::new(UNet::new(&self.cfg.model, vb)?, &self.cfg.diffusion);
        let [_, h, w] = self.reader.shape();
        let n = self.cfg.train.sample_count.max(1);

        let sampler = SamplerConfig::Ddim {
            steps: self.cfg.train.sample_steps.max(1),
            eta: 0.0,
            clip: Some([-1.0, 1.0]),
        };
        let x = sample(
            &denoiser,
            &sampler,
            &self.schedule,
            &[n, 1, h, w],
            device,
            self.cfg.train.seed,
            &mut NoObserver,
        )?;
        let mut v = x.flatten_all()?.to_vec1::<f32>()?;
        self.norm.denormalise(&mut v);
        let options = RenderOptions {
            range: Some((self.norm.vmin, self.norm.vmax)),
            title: Some(format!("EMA samples at step {}", self.step)),
            ..Default::default()
        };
        let img = render_grid(&v, [n, h, w], n.min(8), &options, None)?;
        let path = self.run.path(&format!("samples-step{:06}.png", self.step));
        save_png(&path, &img)?;
        Ok(path)
    }

    /// Draws a batch: uniform indices, normalised, randomly mirrored; shape (B, 1, H, W).
    fn next_batch(&mut self) -> Result<Tensor> {
        let [n, h, w] = self.reader.shape();
        let b = self.cfg.train.batch_size;
        let indices: Vec<usize> = (0..b).map(|_| self.rng.random_range(0..n)).collect();
        let mut data = self.reader.read_batch(&indices)?;
        self.norm.normalise(&mut data);
        if self.cfg.data.flip_lateral {
            for model in data.chunks_exact_mut(h * w) {
                if self.rng.random_bool(0.5) {
                    flip_lateral(model, w);
                }
            }
        }
        Ok(Tensor::from_vec(data, (b, 1, h, w), &self.device)?)
    }
}

fn sorted_vars(varmap: &VarMap) -> (Vec<String>, Vec<Var>) {
    let data = varmap.data().lock().expect("varmap lock");
    let mut pairs: Vec<(String, Var)> = data.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    pairs.sort_by(|a, b| a.0.cmp(&b.0));
    pairs.into_iter().unzip()
}

fn fingerprint(reader: &CorpusReader) -> Result<CorpusFingerprint> {
    let shape = reader.shape();
    let first = reader.read_range(0, 1)?;
    let last = reader.read_range(shape[0] - 1, 1)?;
    Ok(CorpusFingerprint::new(reader.path(), shape, &first, &last))
}
