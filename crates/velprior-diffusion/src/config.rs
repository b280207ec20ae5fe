//! The training configuration (`velprior train --config file.toml`): unknown keys are
//! rejected by name. A top-level `kind = "diffusion" | "autoencoder" | "gaussian"` picks the
//! prior (default diffusion); [`AnyTrainConfig`] reads any of them.

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use velprior_kernels::{BetaSchedule, DeviceSpec, Schedule, VpSde};
use velprior_nn::UNetConfig;

use crate::error::{DiffusionError, Result};
use crate::optim::AdamWConfig;

/// Everything `velprior train` needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    /// Run folder for checkpoints, metrics and pictures.
    pub output: PathBuf,
    /// The corpus and its normalisation.
    pub data: DataConfig,
    /// The UNet architecture (every key optional; defaults to the unet_bench network).
    #[serde(default)]
    pub model: UNetConfig,
    /// Noise schedule and training objective.
    #[serde(default)]
    pub diffusion: DiffusionConfig,
    /// Optimisation and bookkeeping.
    #[serde(default)]
    pub train: TrainLoopConfig,
    /// Where to train: `cpu` (default), `cuda` or `cuda:N` (`--device` overrides it).
    #[serde(default)]
    pub device: DeviceSpec,
}

/// Where the training models come from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataConfig {
    /// HDF5 corpus (streamed batch by batch).
    pub corpus: PathBuf,
    /// Dataset holding the velocities.
    #[serde(default = "default_dataset")]
    pub dataset: String,
    /// Velocity mapped to −1, m/s.
    pub vmin: f32,
    /// Velocity mapped to +1, m/s.
    pub vmax: f32,
    /// Randomly mirror models left–right (never up–down: depth has a direction).
    #[serde(default = "yes")]
    pub flip_lateral: bool,
}

/// What the network predicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Objective {
    /// ε (Ho et al. 2020).
    #[default]
    Eps,
    /// v = √ᾱ ε − √(1−ᾱ) x₀ (Salimans & Ho 2022).
    V,
    /// x₀ directly.
    X0,
}

/// The noise process.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DiffusionConfig {
    /// β schedule of the discrete chain: `"linear"`, `"cosine"`, `"sigmoid"` or a table with
    /// every parameter ([`velprior_kernels::schedule_name`]).
    #[serde(with = "velprior_kernels::schedule_name")]
    pub schedule: BetaSchedule,
    /// Number of discrete timesteps T.
    pub timesteps: usize,
    /// What the network predicts.
    pub objective: Objective,
    /// Continuous-time denoising score matching on the VP-SDE (t ~ U(t_min, 1)) instead of
    /// discrete timesteps; sampling then uses the SDE samplers or its T-step discretisation.
    pub continuous: bool,
    /// The VP-SDE (used when `continuous`).
    pub sde: VpSde,
}

impl Default for DiffusionConfig {
    fn default() -> Self {
        DiffusionConfig {
            schedule: BetaSchedule::linear(),
            timesteps: 1000,
            objective: Objective::Eps,
            continuous: false,
            sde: VpSde::default(),
        }
    }
}

impl DiffusionConfig {
    /// The discrete training schedule (for continuous training, the SDE's discretisation).
    pub fn schedule(&self) -> Result<Schedule> {
        if self.timesteps < 2 {
            return Err(DiffusionError::Config(format!(
                "diffusion.timesteps = {} must be at least 2 (1000 is usual)",
                self.timesteps
            )));
        }
        let s = if self.continuous {
            self.sde.discretize(self.timesteps)?
        } else {
            Schedule::new(self.schedule.clone(), self.timesteps)?
        };
        Ok(s)
    }
}

/// Optimisation and bookkeeping of the training loop.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainLoopConfig {
    /// Total optimiser steps.
    pub steps: usize,
    /// Models per batch.
    pub batch_size: usize,
    /// Seed of every random choice (batches, flips, timesteps, noise, initial weights, dropout).
    pub seed: u64,
    /// EMA decay of the sampling weights.
    pub ema_decay: f64,
    /// Write a metrics line every this many steps.
    pub log_every: usize,
    /// Write a checkpoint every this many steps (and at the end).
    pub checkpoint_every: usize,
    /// Draw a grid of samples every this many steps (0 = only at the end).
    pub sample_every: usize,
    /// Samples in that grid (0 = no sample grids).
    pub sample_count: usize,
    /// DDIM steps used for those samples.
    pub sample_steps: usize,
    /// AdamW and learning-rate schedule.
    pub optimizer: AdamWConfig,
    /// Min-SNR-γ loss weighting (Hang et al. 2023; 5 there): each sample's squared error
    /// weighted so that it counts as min(SNR, γ) times its x₀ error; unset, the plain MSE of the
    /// objective. The logged loss is then the weighted one.
    pub min_snr_gamma: Option<f64>,
}

impl Default for TrainLoopConfig {
    fn default() -> Self {
        TrainLoopConfig {
            steps: 1000,
            batch_size: 16,
            seed: 0,
            ema_decay: 0.999,
            log_every: 10,
            checkpoint_every: 500,
            sample_every: 0,
            sample_count: 16,
            sample_steps: 50,
            optimizer: AdamWConfig::default(),
            min_snr_gamma: None,
        }
    }
}

fn default_dataset() -> String {
    "velocity".to_string()
}

fn yes() -> bool {
    true
}

impl TrainConfig {
    /// Parses TOML text; `origin` names the file in errors.
    pub fn from_toml(text: &str, origin: &Path) -> Result<TrainConfig> {
        let cfg: TrainConfig = parse_toml(text, origin)?;
        cfg.validate(origin)?;
        Ok(cfg)
    }

    /// Reads and parses a TOML file.
    pub fn load(path: &Path) -> Result<TrainConfig> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            DiffusionError::Config(format!("{}: cannot read config ({e})", path.display()))
        })?;
        TrainConfig::from_toml(&text, path)
    }

    fn validate(&self, origin: &Path) -> Result<()> {
        let bad = |key: &str, why: &str| {
            Err(DiffusionError::Config(format!(
                "{}: {key} {why}",
                origin.display()
            )))
        };
        if self.data.vmin >= self.data.vmax || self.data.vmin.is_nan() || self.data.vmax.is_nan() {
            return bad("data.vmin/vmax", "must satisfy vmin < vmax (m/s)");
        }
        let t = &self.train;
        if t.steps == 0 || t.batch_size == 0 {
            return bad("train.steps/batch_size", "must be positive");
        }
        if !(0.0..1.0).contains(&t.ema_decay) {
            return bad("train.ema_decay", "must lie in [0, 1), e.g. 0.999");
        }
        if t.log_every == 0 || t.checkpoint_every == 0 {
            return bad("train.log_every/checkpoint_every", "must be positive");
        }
        if t.optimizer.lr <= 0.0 || t.optimizer.lr.is_nan() {
            return bad("train.optimizer.lr", "must be positive");
        }
        if t.min_snr_gamma.is_some_and(|g| !(g > 0.0 && g.is_finite())) {
            return bad("train.min_snr_gamma", "must be a positive number, e.g. 5");
        }
        self.model
            .validate()
            .map_err(|e| DiffusionError::Config(format!("{}: model: {e}", origin.display())))?;
        self.diffusion.schedule()?;
        Ok(())
    }
}

/// Parses TOML text into `T` (`velprior_data::toml_file::parse_toml`); errors name `origin`,
/// the line and the offending key.
pub fn parse_toml<T: DeserializeOwned>(text: &str, origin: &Path) -> Result<T> {
    velprior_data::toml_file::parse_toml(text, origin)
        .map_err(|e| DiffusionError::Config(e.to_string()))
}
