//! `velprior evaluate`: how close a prior's samples are to held-out real models of its family
//! (precision/recall, Fréchet PCA distance, velocity-histogram W1, lateral/vertical steps, and
//! the memorised fraction given the training set), each beside what real models score.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args;
use velprior_data::render::save_png;
use velprior_data::{Normalisation, RunDir, read_corpus};
use velprior_diffusion::prior::{AnyPrior, Prior};
use velprior_diffusion::samplers::NoObserver;
use velprior_kernels::DeviceSpec;
use velprior_memorization::Hdf5Source;
use velprior_memorization::evaluate::{EvaluateOptions, SetScores, evaluate, evaluation_pictures};

use crate::sampler_flags::SamplerFlags;
use crate::{parse, progress};

#[derive(Debug, Args)]
pub struct EvaluateArgs {
    /// Prior to draw the samples from (with the sampler flags of `velprior sample`).
    #[arg(long, required_unless_present = "samples", conflicts_with = "samples")]
    checkpoint: Option<PathBuf>,
    /// Or samples already drawn (an HDF5 file of `velprior sample`, m/s).
    #[arg(long)]
    samples: Option<PathBuf>,
    /// Held-out real models of the prior's family (HDF5): the first half is the reference, the
    /// second half the real models scored beside the samples.
    #[arg(long)]
    test: PathBuf,
    /// The prior's training set: adds the fraction of samples that copy a training model.
    #[arg(long)]
    train: Option<PathBuf>,
    /// Samples to draw from --checkpoint.
    #[arg(short, default_value_t = 256)]
    n: usize,
    #[command(flatten)]
    sampler: SamplerFlags,
    /// Seed of the samples.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Samples per batch.
    #[arg(long, default_value_t = 16)]
    batch: usize,
    /// Where the network and the training-set search run: cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu", value_parser = parse::device)]
    device: DeviceSpec,
    /// Normalisation range MIN,MAX (m/s) of the distances for --samples (a checkpoint brings
    /// its own).
    #[arg(long, value_parser = parse::range, default_value = "1500,4500")]
    range: (f32, f32),
    /// Neighbour rank of precision and recall.
    #[arg(long, default_value_t = 3)]
    k: usize,
    /// Output folder: report.json, samples.png, velocity-histogram.png.
    #[arg(long, short)]
    out: PathBuf,
}

/// Runs `velprior evaluate`.
pub fn run(a: EvaluateArgs) -> Result<()> {
    let held =
        read_corpus(&a.test, None).with_context(|| format!("--test {}", a.test.display()))?;
    let [_, h, w] = held.shape();
    let device = a.device.open()?;
    let (samples, norm) = match (&a.checkpoint, &a.samples) {
        (Some(ck), _) => {
            if a.n == 0 || a.batch == 0 {
                bail!("-n and --batch must be at least 1");
            }
            let prior = AnyPrior::load(ck, &device)?;
            let meta = prior.meta();
            if meta.model_shape != [h, w] {
                bail!(
                    "{} draws {:?} models but --test {} holds {h}x{w}: use held-out models of the prior's size",
                    ck.display(),
                    meta.model_shape,
                    a.test.display()
                );
            }
            let norm = meta.normalisation;
            let bar = progress::bar(a.n as u64, "models");
            let v = prior.sample(
                a.n,
                a.seed,
                &a.sampler.config()?,
                a.batch,
                &mut NoObserver,
                &mut |done| bar.set_position(done as u64),
            )?;
            bar.finish_and_clear();
            (v, norm)
        }
        (None, Some(path)) => {
            let c =
                read_corpus(path, None).with_context(|| format!("--samples {}", path.display()))?;
            if c.shape()[1..] != [h, w] {
                bail!(
                    "--samples {} holds {:?} models but --test holds {h}x{w}; use models of one size",
                    path.display(),
                    &c.shape()[1..]
                );
            }
            (c.into_velocity(), Normalisation::new(a.range.0, a.range.1)?)
        }
        (None, None) => bail!("give --checkpoint or --samples"),
    };
    let train = match &a.train {
        Some(p) => Some(
            Hdf5Source::open(p, None, norm).with_context(|| format!("--train {}", p.display()))?,
        ),
        None => None,
    };
    let opts = EvaluateOptions {
        k: a.k,
        device,
        ..Default::default()
    };
    let report = evaluate(
        &samples,
        held.velocity(),
        [h, w],
        norm,
        train.as_ref().map(|t| t as _),
        &opts,
    )?;
    let run = RunDir::create(&a.out)?;
    run.write_json("report.json", &report)?;
    let (grid, hist) = evaluation_pictures(&samples, held.velocity(), [h, w], norm)?;
    save_png(&run.path("samples.png"), &grid)?;
    save_png(&run.path("velocity-histogram.png"), &hist)?;
    let row = |name: &str, s: &SetScores| {
        println!(
            "{name:<8} {:>5} {:>9.3} {:>7.3} {:>12.2} {:>10.2} {:>11.1} {:>12.1} {:>12.1}",
            s.models,
            s.precision,
            s.recall,
            s.frechet_pca,
            s.frechet_pca_mean,
            s.velocity_w1,
            s.lateral_step,
            s.vertical_step
        )
    };
    println!(
        "{:<8} {:>5} {:>9} {:>7} {:>12} {:>10} {:>11} {:>12} {:>12}",
        "set",
        "n",
        "precision",
        "recall",
        "frechet_pca",
        "mean term",
        "w1 (m/s)",
        "lateral m/s",
        "vertical m/s"
    );
    row("samples", &report.samples);
    row("real", &report.real);
    println!(
        "precision {:.2} and recall {:.2} of the real models'{}; report in {}",
        report.precision_ratio,
        report.recall_ratio,
        report
            .memorised_fraction
            .map(|f| format!("; memorised (d1/d2 < 1/3): {f:.3}"))
            .unwrap_or_default(),
        run.path("report.json").display()
    );
    Ok(())
}
