//! Configurations of the baseline priors (`kind = "autoencoder"`, and the closed-form
//! densities `kind = "gaussian" | "gmm" | "gp"`, in a `velprior train` TOML file); unknown
//! keys are rejected by name.

use std::path::{Path, PathBuf};

use candle_nn::VarBuilder;
use serde::{Deserialize, Serialize};
use velprior_density::{FlowFit, GmmFit, GpFit};
use velprior_nn::{ConvAeConfig, ConvAutoencoder, GanConfig, MlpAeConfig, MlpAutoencoder, PadMode};

use crate::baselines::ae_model::AnyAutoencoder;
use crate::checkpoint::PriorKind;
use crate::config::{DataConfig, parse_toml};
use crate::error::{DiffusionError, Result};
use crate::optim::AdamWConfig;

/// Which autoencoder network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AeArch {
    /// [`MlpAutoencoder`] on flattened models (meant for H×1 profiles and small models).
    Mlp,
    /// [`ConvAutoencoder`] on (1, H, W) models.
    Conv,
}

/// The autoencoder architecture; input sizes come from the corpus.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AeModelConfig {
    /// `"mlp"` or `"conv"`.
    pub arch: AeArch,
    /// Latent dimension k.
    pub latent_dim: usize,
    /// Weight λ of the latent penalty λ‖E(x)‖² (0 = plain autoencoder); for a VAE the β of
    /// its KL term.
    pub lambda: f64,
    /// MLP hidden widths of the encoder (the decoder mirrors them).
    #[serde(default = "default_hidden")]
    pub hidden: Vec<usize>,
    /// Conv channels after each stride-2 stage.
    #[serde(default = "default_channels")]
    pub channels: Vec<usize>,
    /// Conv padding of H, W up to a multiple of 2^stages.
    #[serde(default)]
    pub pad_mode: PadMode,
    /// A β-VAE (`kind = "vae"` sets it): the encoder predicts q(z | x) = N(μ, σ²), training
    /// minimises ‖x − D(z)‖² + λ KL(q ‖ N(0, I)) with z = μ + σ ε, and the prior is N(0, I).
    #[serde(default)]
    pub variational: bool,
}

fn default_hidden() -> Vec<usize> {
    vec![64, 32]
}

fn default_channels() -> Vec<usize> {
    vec![16, 32, 64]
}

impl AeModelConfig {
    /// Builds the network for models of size (H, W) from a `VarBuilder`.
    pub fn build(&self, [h, w]: [usize; 2], vb: VarBuilder) -> Result<AnyAutoencoder> {
        Ok(match self.arch {
            AeArch::Mlp => AnyAutoencoder::Mlp(
                MlpAutoencoder::new(
                    &MlpAeConfig {
                        input_dim: h * w,
                        hidden: self.hidden.clone(),
                        latent_dim: self.latent_dim,
                        lambda: self.lambda,
                        variational: self.variational,
                    },
                    vb,
                )?,
                [h, w],
            ),
            AeArch::Conv => AnyAutoencoder::Conv(ConvAutoencoder::new(
                &ConvAeConfig {
                    in_channels: 1,
                    height: h,
                    width: w,
                    channels: self.channels.clone(),
                    latent_dim: self.latent_dim,
                    lambda: self.lambda,
                    pad_mode: self.pad_mode,
                    variational: self.variational,
                },
                vb,
            )?),
        })
    }
}

/// Epochs, batches and bookkeeping of autoencoder training.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AeLoopConfig {
    /// Passes over the corpus.
    pub epochs: usize,
    /// Models per batch (the last batch of an epoch may be smaller).
    pub batch_size: usize,
    /// Seed of the initial weights, the shuffles and the flips.
    pub seed: u64,
    /// Write a metrics line every this many epochs.
    pub log_every: usize,
    /// Write a checkpoint every this many epochs (and at the end).
    pub checkpoint_every: usize,
    /// AdamW; missing keys take the AdamW defaults (lr 2e-4, weight decay 0.01, clip 1).
    pub optimizer: AdamWConfig,
}

impl Default for AeLoopConfig {
    fn default() -> Self {
        AeLoopConfig {
            epochs: 200,
            batch_size: 32,
            seed: 0,
            log_every: 10,
            checkpoint_every: 100,
            optimizer: AdamWConfig {
                lr: 1e-3,
                weight_decay: 0.0,
                grad_clip: None,
                ..AdamWConfig::default()
            },
        }
    }
}

/// `velprior train` with `kind = "autoencoder"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AeTrainConfig {
    /// Run folder.
    pub output: PathBuf,
    /// The corpus (read into memory) and its normalisation.
    pub data: DataConfig,
    /// The network.
    pub model: AeModelConfig,
    /// Optimisation.
    #[serde(default)]
    pub train: AeLoopConfig,
}

impl AeTrainConfig {
    /// Checks every key; `origin` names the file in errors.
    pub fn validate(&self, origin: &Path) -> Result<()> {
        let bad = |key: &str, why: &str| {
            Err(DiffusionError::Config(format!(
                "{}: {key} {why}",
                origin.display()
            )))
        };
        check_range(&self.data, origin)?;
        check_loop(&self.train, origin)?;
        let m = &self.model;
        if m.latent_dim == 0 {
            return bad(
                "model.latent_dim",
                "must be at least 1 (2 to draw latent sweeps)",
            );
        }
        if !(m.lambda >= 0.0 && m.lambda.is_finite()) {
            return bad("model.lambda", "must be a finite number ≥ 0");
        }
        if m.hidden.contains(&0) || m.channels.is_empty() || m.channels.contains(&0) {
            return bad(
                "model.hidden/channels",
                "need positive widths, e.g. [64, 32]",
            );
        }
        Ok(())
    }
}

/// The GAN's architecture (`kind = "gan"`); model sizes come from the corpus.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GanModelConfig {
    /// Latent dimension k; the prior is z ~ N(0, I).
    pub latent_dim: usize,
    /// Discriminator channels after each stride-2 stage (the generator mirrors them).
    #[serde(default = "default_channels")]
    pub channels: Vec<usize>,
    /// Padding of the discriminator's input up to a multiple of 2^stages.
    #[serde(default)]
    pub pad_mode: PadMode,
}

impl GanModelConfig {
    /// The network config for models of size (H, W).
    pub fn network(&self, [height, width]: [usize; 2]) -> GanConfig {
        GanConfig {
            height,
            width,
            channels: self.channels.clone(),
            latent_dim: self.latent_dim,
            pad_mode: self.pad_mode,
        }
    }
}

/// `velprior train` with `kind = "gan"`: a DCGAN with a spectrally normalised discriminator,
/// one discriminator step per generator step; `[train]` as the autoencoder's (DCGAN's
/// optimiser: `optimizer = { lr = 2e-4, beta1 = 0.5 }`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GanTrainConfig {
    /// Run folder.
    pub output: PathBuf,
    /// The corpus (read into memory) and its normalisation.
    pub data: DataConfig,
    /// The networks.
    pub model: GanModelConfig,
    /// Optimisation (both networks use the same AdamW settings).
    #[serde(default)]
    pub train: AeLoopConfig,
}

impl GanTrainConfig {
    /// Checks every key; `origin` names the file in errors.
    pub fn validate(&self, origin: &Path) -> Result<()> {
        check_range(&self.data, origin)?;
        check_loop(&self.train, origin)?;
        let m = &self.model;
        if m.latent_dim == 0 || m.channels.is_empty() || m.channels.contains(&0) {
            return Err(DiffusionError::Config(format!(
                "{}: model.latent_dim and model.channels need positive sizes, e.g. 16 and [16, 32, 64]",
                origin.display()
            )));
        }
        Ok(())
    }
}

/// Sampling settings of a density fit's preview picture.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DensityFitOptions {
    /// Samples drawn into `samples.png` (0 = none).
    pub sample_count: usize,
    /// Seed of those samples.
    pub seed: u64,
}

impl Default for DensityFitOptions {
    fn default() -> Self {
        DensityFitOptions {
            sample_count: 16,
            seed: 0,
        }
    }
}

/// The Gaussian/PCA prior's size.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GaussianModelConfig {
    /// Number k of principal components (below the number of models).
    pub rank: usize,
}

/// Which closed-form density, and its fit settings (`[model]`).
#[derive(Debug, Clone, PartialEq)]
pub enum DensitySpec {
    /// `kind = "gaussian"`: probabilistic PCA.
    Gaussian(GaussianModelConfig),
    /// `kind = "gmm"`: a Gaussian mixture on PCA coordinates.
    Gmm(GmmFit),
    /// `kind = "gp"`: a separable Gaussian process around a depth trend.
    Gp(GpFit),
    /// `kind = "flow"`: a normalizing flow on PCA coordinates.
    Flow(FlowFit),
}

impl DensitySpec {
    /// The checkpoint kind.
    pub fn kind(&self) -> PriorKind {
        match self {
            DensitySpec::Gaussian(_) => PriorKind::Gaussian,
            DensitySpec::Gmm(_) => PriorKind::Gmm,
            DensitySpec::Gp(_) => PriorKind::Gp,
            DensitySpec::Flow(_) => PriorKind::Flow,
        }
    }
}

/// A density config as written: `[model]` of type `M`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DensityFitFile<M> {
    pub output: PathBuf,
    pub data: DataConfig,
    pub model: M,
    #[serde(default)]
    pub fit: DensityFitOptions,
}

/// `velprior train` with `kind = "gaussian" | "gmm" | "gp" | "flow"`: fit a density with an
/// exact log-density.
#[derive(Debug, Clone, PartialEq)]
pub struct DensityFitConfig {
    /// Run folder.
    pub output: PathBuf,
    /// The corpus and its normalisation; `flip_lateral` adds every model's mirror image.
    pub data: DataConfig,
    /// The density and its settings.
    pub model: DensitySpec,
    /// Preview samples.
    pub fit: DensityFitOptions,
}

impl DensityFitConfig {
    /// Parses a config whose `[model]` is of type `M` (the `kind` key already removed).
    pub(crate) fn parse<M: serde::de::DeserializeOwned>(
        text: &str,
        origin: &Path,
        spec: impl FnOnce(M) -> DensitySpec,
    ) -> Result<DensityFitConfig> {
        let file: DensityFitFile<M> = parse_toml(text, origin)?;
        let cfg = DensityFitConfig {
            output: file.output,
            data: file.data,
            model: spec(file.model),
            fit: file.fit,
        };
        cfg.validate(origin)?;
        Ok(cfg)
    }

    /// Checks every key; `origin` names the file in errors.
    pub fn validate(&self, origin: &Path) -> Result<()> {
        check_range(&self.data, origin)?;
        let bad = |msg: &str| {
            Err(DiffusionError::Config(format!(
                "{}: {msg}",
                origin.display()
            )))
        };
        match &self.model {
            DensitySpec::Gaussian(m) if m.rank == 0 => {
                bad("model.rank must be at least 1 (e.g. 16)")
            }
            DensitySpec::Gmm(m) if m.rank == 0 || m.components == 0 => {
                bad("model.rank and model.components must be at least 1 (e.g. 16 and 8)")
            }
            DensitySpec::Gmm(m) if !(m.regularisation >= 0.0 && m.regularisation.is_finite()) => {
                bad("model.regularisation must be a finite number ≥ 0 (e.g. 0.001)")
            }
            DensitySpec::Gp(m) if !(m.nugget > 0.0 && m.nugget < 1.0) => {
                bad("model.nugget must lie strictly between 0 and 1 (e.g. 0.01)")
            }
            DensitySpec::Gp(m) if m.max_lag == 0 => {
                bad("model.max_lag must be at least 1 (e.g. 20)")
            }
            DensitySpec::Flow(m) if m.rank < 2 || m.blocks == 0 || m.hidden == 0 => {
                bad("model.rank must be at least 2 and blocks, hidden at least 1 (e.g. 16, 6, 64)")
            }
            DensitySpec::Flow(m) if !(m.epochs > 0 && m.batch_size > 0 && m.lr > 0.0) => {
                bad("model.epochs, batch_size and lr must be positive (e.g. 100, 256, 0.001)")
            }
            _ => Ok(()),
        }
    }
}

fn check_range(data: &DataConfig, origin: &Path) -> Result<()> {
    if data.vmin.is_nan() || data.vmax.is_nan() || data.vmin >= data.vmax {
        return Err(DiffusionError::Config(format!(
            "{}: data.vmin/vmax must satisfy vmin < vmax (m/s)",
            origin.display()
        )));
    }
    Ok(())
}

fn check_loop(t: &AeLoopConfig, origin: &Path) -> Result<()> {
    let bad = |key: &str, why: &str| {
        Err(DiffusionError::Config(format!(
            "{}: {key} {why}",
            origin.display()
        )))
    };
    if t.epochs == 0 || t.batch_size == 0 {
        return bad("train.epochs/batch_size", "must be positive");
    }
    if t.log_every == 0 || t.checkpoint_every == 0 {
        return bad("train.log_every/checkpoint_every", "must be positive");
    }
    if t.optimizer.lr.is_nan() || t.optimizer.lr <= 0.0 {
        return bad("train.optimizer.lr", "must be positive");
    }
    Ok(())
}
