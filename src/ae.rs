//! `velprior ae`: the regularised-autoencoder prior's latent space (encode, decode, sweep,
//! walk, scatter) and the two-layer teaching experiment. Train an autoencoder with
//! `velprior train` (`kind = "autoencoder"`); sample it with `velprior sample`.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use indicatif::ProgressBar;
use velprior_baselines::explore::{
    LatentFile, decode_corpus, decoded_grid, latent_scatter, latent_sweep, latent_walk,
};
use velprior_baselines::{AeExperimentConfig, run_experiment};
use velprior_data::render::{save_gif, save_png};
use velprior_data::{read_corpus, write_corpus};
use velprior_diffusion::baselines::{AeEpochMetrics, AeObserver, AePrior};

use crate::progress;

#[derive(Debug, Subcommand)]
pub enum AeCommand {
    /// Encode the models of an HDF5 corpus into latents (JSON), optionally a scatter PNG.
    Encode(EncodeArgs),
    /// Decode latents (JSON from `encode`) into velocity models (HDF5), optionally a PNG.
    Decode(DecodeArgs),
    /// Decode a regular z1 x z2 grid of latents into one PNG.
    Sweep(SweepArgs),
    /// Interpolate between two encoded corpus models and write the decoded frames as a GIF.
    Walk(WalkArgs),
    /// Scatter plot (PNG) of the encoded corpus in the first two latent dimensions.
    Scatter(ScatterArgs),
    /// The teaching experiment: two-layer profiles, lambda > 0 vs lambda = 0, summary.json.
    Experiment(ExperimentArgs),
}

/// The autoencoder a latent-space command loads, and where it runs.
#[derive(Debug, Args)]
pub struct AeCheckpoint {
    /// Autoencoder checkpoint (.safetensors).
    #[arg(long)]
    checkpoint: PathBuf,
    /// Where the autoencoder runs: cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu", value_parser = crate::parse::device)]
    device: velprior_kernels::DeviceSpec,
}

impl AeCheckpoint {
    fn load(&self) -> Result<AePrior> {
        Ok(AePrior::load(&self.checkpoint, &self.device.open()?)?)
    }
}

#[derive(Debug, Args)]
pub struct EncodeArgs {
    #[command(flatten)]
    prior: AeCheckpoint,
    /// HDF5 corpus of models the size the autoencoder was trained on.
    #[arg(long, short)]
    input: PathBuf,
    /// Dataset holding the velocities.
    #[arg(long, default_value = "velocity")]
    dataset: String,
    /// Output latents (JSON).
    #[arg(long, short)]
    output: PathBuf,
    /// Also draw a latent scatter PNG here (latent dimension >= 2).
    #[arg(long)]
    png: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct DecodeArgs {
    #[command(flatten)]
    prior: AeCheckpoint,
    /// Latents (JSON, as written by `velprior ae encode`).
    #[arg(long)]
    latents: PathBuf,
    /// Output HDF5 file (velocities in m/s).
    #[arg(long, short)]
    output: PathBuf,
    /// Also draw the decoded models as a PNG grid here.
    #[arg(long)]
    png: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct SweepArgs {
    #[command(flatten)]
    prior: AeCheckpoint,
    /// Points per latent axis.
    #[arg(long, default_value_t = 9)]
    grid: usize,
    /// Half-width of the grid in units of the latent std s.
    #[arg(long, default_value_t = 2.5)]
    extent: f64,
    /// Output PNG.
    #[arg(long, short)]
    output: PathBuf,
}

#[derive(Debug, Args)]
pub struct WalkArgs {
    #[command(flatten)]
    prior: AeCheckpoint,
    /// HDF5 corpus holding the two end models.
    #[arg(long, short)]
    input: PathBuf,
    /// Dataset holding the velocities.
    #[arg(long, default_value = "velocity")]
    dataset: String,
    /// Index of the first model.
    #[arg(long, default_value_t = 0)]
    from: usize,
    /// Index of the last model.
    #[arg(long, default_value_t = 1)]
    to: usize,
    /// Number of frames.
    #[arg(long, default_value_t = 30)]
    frames: usize,
    /// Output GIF.
    #[arg(long, short)]
    output: PathBuf,
}

#[derive(Debug, Args)]
pub struct ScatterArgs {
    #[command(flatten)]
    prior: AeCheckpoint,
    /// HDF5 corpus to encode.
    #[arg(long, short)]
    input: PathBuf,
    /// Dataset holding the velocities.
    #[arg(long, default_value = "velocity")]
    dataset: String,
    /// Output PNG.
    #[arg(long, short)]
    output: PathBuf,
}

#[derive(Debug, Args)]
pub struct ExperimentArgs {
    /// Experiment config, e.g. configs/ae-two-layer.toml.
    #[arg(long, short)]
    config: PathBuf,
    /// Output folder (overrides the config's `output`).
    #[arg(long)]
    out: Option<PathBuf>,
}

/// Runs `velprior ae ...`.
pub fn run(cmd: AeCommand) -> Result<()> {
    match cmd {
        AeCommand::Encode(a) => encode(a),
        AeCommand::Decode(a) => decode(a),
        AeCommand::Sweep(a) => {
            let prior = a.prior.load()?;
            save_png(&a.output, &latent_sweep(&prior, a.grid, a.extent)?)?;
            tracing::info!("wrote {}", a.output.display());
            Ok(())
        }
        AeCommand::Walk(a) => walk(a),
        AeCommand::Scatter(a) => {
            let prior = a.prior.load()?;
            let corpus = read_corpus(&a.input, Some(&a.dataset))?;
            let z = prior.encode(corpus.velocity())?;
            let title = format!("Encoded {}", file_name(&a.input));
            save_png(&a.output, &latent_scatter(&prior, &z, &title)?)?;
            tracing::info!("wrote {}", a.output.display());
            Ok(())
        }
        AeCommand::Experiment(a) => experiment(a),
    }
}

fn file_name(p: &std::path::Path) -> String {
    p.file_name()
        .map_or_else(|| p.display().to_string(), |n| n.to_string_lossy().into())
}

fn encode(a: EncodeArgs) -> Result<()> {
    let prior = a.prior.load()?;
    let corpus = read_corpus(&a.input, Some(&a.dataset))?;
    if corpus.model_shape() != prior.meta.model_shape {
        let [h, w] = prior.meta.model_shape;
        let [ch, cw] = corpus.model_shape();
        bail!(
            "{}: models are {ch}x{cw} but the autoencoder takes {h}x{w}; use a corpus of its size",
            a.input.display()
        );
    }
    let z = prior.encode(corpus.velocity())?;
    LatentFile::new(&z, prior.latent_dim()).save(&a.output)?;
    if let Some(png) = &a.png {
        let title = format!("Encoded {}", file_name(&a.input));
        save_png(png, &latent_scatter(&prior, &z, &title)?)?;
    }
    tracing::info!("wrote {} latents to {}", corpus.len(), a.output.display());
    Ok(())
}

fn decode(a: DecodeArgs) -> Result<()> {
    let prior = a.prior.load()?;
    let (z, k) = LatentFile::load(&a.latents)?;
    if k != prior.latent_dim() {
        bail!(
            "{}: latents have {k} dimensions but the autoencoder has {}; encode with this checkpoint",
            a.latents.display(),
            prior.latent_dim()
        );
    }
    let source = format!("velprior ae decode {}", a.prior.checkpoint.display());
    let corpus = decode_corpus(&prior, &z, source)?;
    write_corpus(&a.output, &corpus)?;
    if let Some(png) = &a.png {
        save_png(png, &decoded_grid(&prior, &corpus)?)?;
    }
    tracing::info!(
        "wrote {} decoded models to {}",
        corpus.len(),
        a.output.display()
    );
    Ok(())
}

fn walk(a: WalkArgs) -> Result<()> {
    let prior = a.prior.load()?;
    let corpus = read_corpus(&a.input, Some(&a.dataset))?;
    if a.from >= corpus.len() || a.to >= corpus.len() {
        bail!(
            "--from {} / --to {}: {} holds {} models (indices 0..{})",
            a.from,
            a.to,
            a.input.display(),
            corpus.len(),
            corpus.len()
        );
    }
    let frames = latent_walk(&prior, corpus.model(a.from), corpus.model(a.to), a.frames)?;
    save_gif(&a.output, &frames, 100)?;
    tracing::info!("wrote {} frames to {}", frames.len(), a.output.display());
    Ok(())
}

struct Epochs {
    bar: ProgressBar,
}

impl AeObserver for Epochs {
    fn on_epoch(&mut self, epoch: usize, _total: usize) {
        self.bar.set_position(epoch as u64);
    }

    fn on_log(&mut self, m: &AeEpochMetrics) {
        self.bar
            .set_message(format!("recon {:.4} latent {:.3}", m.recon, m.latent));
    }
}

fn experiment(a: ExperimentArgs) -> Result<()> {
    let mut cfg = AeExperimentConfig::load(&a.config)?;
    if let Some(out) = a.out {
        cfg.output = out;
    }
    let bar = progress::bar(cfg.train.epochs as u64, "epochs");
    let summary = run_experiment(&cfg, &mut Epochs { bar: bar.clone() })
        .with_context(|| format!("experiment of {}", a.config.display()))?;
    bar.finish_and_clear();
    print!("{summary}");
    println!("summary: {}", cfg.output.join("summary.json").display());
    Ok(())
}
