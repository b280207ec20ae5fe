//! `velprior sample`: draw velocity models from a trained prior of any kind (diffusion,
//! regularised autoencoder, Gaussian/PCA).

use std::path::PathBuf;

use anyhow::{Result, bail};
use clap::Args;
use velprior_data::render::display_models;
use velprior_data::render::{RenderOptions, render_grid, render_model, save_gif, save_png};
use velprior_data::{Corpus, CorpusMeta, Shard, ShardManifest, ShardSet, shard_dir, write_corpus};
use velprior_diffusion::prior::{AnyPrior, Prior, PriorForm};
use velprior_diffusion::samplers::{SamplerConfig, SamplerObserver, SamplerStep};

use crate::progress;
use crate::sampler_flags::SamplerFlags;

/// The sampler flags (--sampler, --steps, --eta, --snr, --batch, --gif) apply to diffusion
/// checkpoints only; autoencoder checkpoints decode z ~ N(0, s²I) and Gaussian checkpoints
/// draw in closed form, both from --seed.
#[derive(Debug, Args)]
pub struct SampleArgs {
    /// Checkpoint of a trained prior (.safetensors): diffusion, autoencoder or Gaussian.
    #[arg(long)]
    checkpoint: PathBuf,
    /// Where the diffusion network runs: cpu, cuda or cuda:N (the same seed gives the same
    /// models on every device, up to f32 rounding).
    #[arg(long, default_value = "cpu", value_parser = crate::parse::device)]
    device: velprior_kernels::DeviceSpec,
    /// Number of models to draw.
    #[arg(long, short, default_value_t = 16)]
    n: usize,
    #[command(flatten)]
    sampler: SamplerFlags,
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
    /// Draw only shard I of N (0-based) of the --batch-sized batches, into
    /// `<output>.shards/shard-I-of-N/`; `velprior merge` joins the shards. Read from
    /// SLURM_ARRAY_TASK_ID / SLURM_ARRAY_TASK_COUNT inside a Slurm job array.
    #[arg(long)]
    shard: Option<Shard>,
}

/// The shard manifest's `kind` for `velprior sample`.
pub const SHARD_KIND: &str = "sample";

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
    let prior = AnyPrior::load(&a.checkpoint, &a.device.open()?)?;
    if a.gif.is_some() && !matches!(prior.form(), PriorForm::Denoiser { .. }) {
        bail!(
            "--gif draws a diffusion sampling trajectory; {} holds a {:?} prior: drop --gif",
            a.checkpoint.display(),
            prior.meta().kind
        );
    }
    let cfg = a.sampler.config()?;
    let meta = prior.meta().clone();
    let [h, w] = meta.model_shape;
    let norm = meta.normalisation;
    if let Some(shard) = Shard::resolve(a.shard)? {
        return run_shard(&a, shard, &prior, &cfg);
    }
    let bar = progress::bar(a.n as u64, "models");
    let mut trajectory = Trajectory {
        keep: a.gif.is_some(),
        frames: Vec::new(),
    };
    let velocity = prior.sample(a.n, a.seed, &cfg, a.batch, &mut trajectory, &mut |done| {
        bar.set_position(done as u64)
    })?;
    bar.finish_and_clear();
    let corpus = Corpus::new(velocity, [a.n, h, w], corpus_meta(&a, &meta))?;
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

/// Spacing and provenance of the written samples (the same in every shard).
fn corpus_meta(
    a: &SampleArgs,
    meta: &velprior_diffusion::checkpoint::CheckpointMeta,
) -> CorpusMeta {
    let [dx, dz] = meta.spacing;
    CorpusMeta {
        dx,
        dz,
        source: format!("velprior sample {} seed {}", a.checkpoint.display(), a.seed),
    }
}

/// Draws shard `shard` of the batches into `<output>.shards/shard-I-of-N/samples.h5`.
fn run_shard(a: &SampleArgs, shard: Shard, prior: &AnyPrior, cfg: &SamplerConfig) -> Result<()> {
    if a.png.is_some() || a.gif.is_some() {
        bail!("--png and --gif draw the whole run: drop them with --shard (draw the merged file)");
    }
    let [h, w] = prior.meta().model_shape;
    let batches = shard.range(a.n.div_ceil(a.batch));
    let items = [
        (batches.start * a.batch).min(a.n),
        (batches.end * a.batch).min(a.n),
    ];
    let config = serde_json::json!({
        "checkpoint": a.checkpoint, "n": a.n, "batch": a.batch, "sampler": cfg,
    });
    let manifest = ShardManifest::new(SHARD_KIND, shard, items[0]..items[1], a.n, a.seed, config);
    let run = manifest.begin(&shard_dir(&a.output, shard))?;
    let count = items[1] - items[0];
    let bar = progress::bar(count as u64, "models");
    let velocity = prior.sample_batches(
        a.n,
        a.seed,
        cfg,
        a.batch,
        batches,
        &mut velprior_diffusion::samplers::NoObserver,
        &mut |done| bar.set_position(done as u64),
    )?;
    bar.finish_and_clear();
    if count > 0 {
        let corpus = Corpus::new(velocity, [count, h, w], corpus_meta(a, prior.meta()))?;
        write_corpus(&run.path("samples.h5"), &corpus)?;
    }
    manifest.finish(&run)?;
    println!(
        "shard {shard}: models {}..{} of {} in {}",
        items[0],
        items[1],
        a.n,
        run.root().display()
    );
    Ok(())
}

/// `velprior merge` of sample shards: the models of every shard, in order, in
/// `<out>/samples.h5`.
pub fn merge(shards: &ShardSet, out: &std::path::Path) -> Result<()> {
    let path = out.join("samples.h5");
    shards.concat_corpora("samples.h5", &path)?;
    println!(
        "merged {} models from {} shards into {}",
        shards.run().total,
        shards.dirs.len(),
        path.display()
    );
    Ok(())
}
