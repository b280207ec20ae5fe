//! `velprior sample`: draw velocity models from a trained prior of any kind (diffusion,
//! regularised autoencoder, Gaussian/PCA).

use std::path::PathBuf;

use anyhow::{Result, bail};
use clap::{Args, ValueEnum};
use velprior_data::render::{RenderOptions, render_grid, render_model, save_gif, save_png};
use velprior_data::{Corpus, CorpusMeta, write_corpus};
use velprior_diffusion::baselines::display::display_models;
use velprior_diffusion::prior::AnyPrior;
use velprior_diffusion::samplers::{SamplerConfig, SamplerObserver, SamplerStep, Variance};

use crate::progress;

#[derive(Debug, Clone, Copy, ValueEnum)]
enum SamplerKind {
    /// DDPM ancestral sampling (all training steps unless --steps).
    Ddpm,
    /// DDIM with --steps and --eta.
    Ddim,
    /// Reverse VP-SDE, Euler–Maruyama.
    EulerMaruyama,
    /// Predictor–corrector (Euler–Maruyama + Langevin, --snr).
    Pc,
}

/// The sampler flags (--sampler, --steps, --eta, --snr, --batch, --gif) apply to diffusion
/// checkpoints only; autoencoder checkpoints decode z ~ N(0, s²I) and Gaussian checkpoints
/// draw in closed form, both from --seed.
#[derive(Debug, Args)]
pub struct SampleArgs {
    /// Checkpoint of a trained prior (.safetensors): diffusion, autoencoder or Gaussian.
    #[arg(long)]
    checkpoint: PathBuf,
    /// Number of models to draw.
    #[arg(long, short, default_value_t = 16)]
    n: usize,
    /// Sampler (diffusion only).
    #[arg(long, value_enum, default_value = "ddim")]
    sampler: SamplerKind,
    /// Sampler steps (diffusion only; DDPM: all training steps when omitted).
    #[arg(long)]
    steps: Option<usize>,
    /// DDIM η in [0, 1] (0 = deterministic; diffusion only).
    #[arg(long, default_value_t = 0.0)]
    eta: f64,
    /// Predictor–corrector signal-to-noise ratio (diffusion only).
    #[arg(long, default_value_t = 0.16)]
    snr: f64,
    /// Random seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Models per batch (bounds memory; diffusion only).
    #[arg(long, default_value_t = 16)]
    batch: usize,
    /// Output HDF5 file (velocities in m/s).
    #[arg(long, short)]
    output: PathBuf,
    /// Also draw the samples as a PNG grid here.
    #[arg(long)]
    png: Option<PathBuf>,
    /// Also write the x̂0 trajectory of the first sample as an animated GIF here (diffusion
    /// only).
    #[arg(long)]
    gif: Option<PathBuf>,
}

/// Records the first sample's x̂0 at every step when `keep` is set.
struct Trajectory {
    keep: bool,
    frames: Vec<Vec<f32>>,
}

impl SamplerObserver for Trajectory {
    fn on_step(&mut self, s: &SamplerStep<'_>) -> velprior_diffusion::Result<()> {
        if self.keep {
            self.frames.push(s.x0_hat.get(0)?.flatten_all()?.to_vec1()?);
        }
        Ok(())
    }
}

/// Runs `velprior sample`.
pub fn run(a: SampleArgs) -> Result<()> {
    if a.n == 0 || a.batch == 0 {
        bail!("--n and --batch must be at least 1");
    }
    let prior = AnyPrior::load(&a.checkpoint)?;
    if a.gif.is_some() && !matches!(prior, AnyPrior::Diffusion(_)) {
        bail!(
            "--gif draws a diffusion sampling trajectory; {} holds a {:?} prior: drop --gif",
            a.checkpoint.display(),
            prior.meta().kind
        );
    }
    let clip = Some([-1.0, 1.0]);
    let cfg = match a.sampler {
        SamplerKind::Ddpm => SamplerConfig::Ddpm {
            steps: a.steps,
            variance: Variance::Posterior,
            clip,
        },
        SamplerKind::Ddim => SamplerConfig::Ddim {
            steps: a.steps.unwrap_or(50),
            eta: a.eta,
            clip,
        },
        SamplerKind::EulerMaruyama => SamplerConfig::EulerMaruyama {
            steps: a.steps.unwrap_or(500),
            t_min: 1e-3,
            clip,
        },
        SamplerKind::Pc => SamplerConfig::Pc {
            steps: a.steps.unwrap_or(500),
            snr: a.snr,
            corrector_steps: 1,
            t_min: 1e-3,
            clip,
        },
    };
    let meta = prior.meta().clone();
    let [h, w] = meta.model_shape;
    let norm = meta.normalisation;
    let bar = progress::bar(a.n as u64, "models");
    let mut trajectory = Trajectory {
        keep: a.gif.is_some(),
        frames: Vec::new(),
    };
    let velocity = prior.sample(a.n, a.seed, &cfg, a.batch, &mut trajectory, &mut |done| {
        bar.set_position(done as u64)
    })?;
    bar.finish_and_clear();
    let [dx, dz] = meta.spacing;
    let meta = CorpusMeta {
        dx,
        dz,
        source: format!("velprior sample {} seed {}", a.checkpoint.display(), a.seed),
    };
    let corpus = Corpus::new(velocity, [a.n, h, w], meta)?;
    write_corpus(&a.output, &corpus)?;
    let options = RenderOptions {
        range: Some((norm.vmin, norm.vmax)),
        ..Default::default()
    };
    if let Some(png) = &a.png {
        let shown = a.n.min(64);
        let (models, [dh, dw]) = display_models(&corpus.velocity()[..shown * h * w], [shown, h, w]);
        save_png(
            png,
            &render_grid(&models, [shown, dh, dw], 8, &options, None)?,
        )?;
    }
    if let Some(gif) = &a.gif {
        let frames = trajectory
            .frames
            .iter()
            .step_by((trajectory.frames.len() / 50).max(1))
            .map(|f| {
                let mut v = f.clone();
                norm.denormalise(&mut v);
                render_model(&v, [h, w], &options)
            })
            .collect::<velprior_data::Result<Vec<_>>>()?;
        save_gif(gif, &frames, 80)?;
    }
    tracing::info!("wrote {} samples of {h}x{w} to {}", a.n, a.output.display());
    Ok(())
}
