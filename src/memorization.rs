//! `velprior memorization`: do generated models copy the training set? Nearest neighbours,
//! ratio criteria, d1 histograms against held-out models and a neighbour grid, in a run folder.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use serde::Serialize;
use velprior_data::{Normalisation, RunDir, Shard, ShardManifest, ShardSet, shard_dir};
use velprior_kernels::DeviceSpec;
use velprior_memorization::source::read_normalised;
use velprior_memorization::sweep::{
    SweepConfig, SweepPoint, finish_sweep, run_sweep, sweep_points,
};
use velprior_memorization::{Assessment, Hdf5Source, assess, write_report};

use crate::parse;

/// `velprior memorization [--samples … --train … | sweep --config …]`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct MemorizationArgs {
    #[command(subcommand)]
    command: Option<MemorizationCommand>,
    #[command(flatten)]
    report: ReportArgs,
}

#[derive(Debug, Subcommand)]
enum MemorizationCommand {
    /// Train the same prior on nested subsets of size N, sample, and plot the memorised
    /// fraction against N (with the empirical-denoiser and Gaussian references).
    Sweep(SweepArgs),
}

/// Flags of a one-off memorization report.
#[derive(Debug, Args, Serialize)]
struct ReportArgs {
    /// Generated models (HDF5, m/s), e.g. from `velprior sample`.
    #[arg(long)]
    samples: Option<PathBuf>,
    /// Training corpus the prior saw (HDF5, m/s), streamed from disk.
    #[arg(long)]
    train: Option<PathBuf>,
    /// Held-out real models (HDF5, m/s): the d1 distribution of models that are not copies.
    #[arg(long)]
    test: Option<PathBuf>,
    /// Normalisation range VMIN,VMAX in m/s (the prior's); the training set's range if omitted.
    #[arg(long, value_parser = parse::range)]
    range: Option<(f32, f32)>,
    /// Rows (sample | 1st NN | 2nd NN) in neighbours.png, most memorised first.
    #[arg(long, default_value_t = 8)]
    rows: usize,
    /// Where the nearest-neighbour searches run their matrix products: cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu", value_parser = parse::device)]
    device: DeviceSpec,
    /// Run folder to write report.json, d1_histogram.png and neighbours.png into.
    #[arg(long, short)]
    out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct SweepArgs {
    /// Sweep config (TOML), e.g. configs/memorization-sweep.toml.
    #[arg(long)]
    config: PathBuf,
    /// Run only shard I of N (0-based) of the training-set sizes, into
    /// `<output>.shards/shard-I-of-N/`; `velprior merge` joins the shards. Read from
    /// SLURM_ARRAY_TASK_ID / SLURM_ARRAY_TASK_COUNT inside a Slurm job array.
    #[arg(long)]
    shard: Option<Shard>,
}

/// The shard manifest's `kind` for `velprior memorization sweep`.
pub const SHARD_KIND: &str = "memorization-sweep";

/// Runs `velprior memorization`.
pub fn run(a: MemorizationArgs) -> Result<()> {
    match a.command {
        Some(MemorizationCommand::Sweep(s)) => sweep(&s.config, s.shard),
        None => report(a.report),
    }
}

fn sweep(config: &Path, shard: Option<Shard>) -> Result<()> {
    let cfg = SweepConfig::load(config)?;
    println!(
        "N  trained  empirical  gaussian  held-out  (fraction memorised, d1/d2 < 1/3)  disjoint NCC  train s"
    );
    if let Some(shard) = Shard::resolve(shard)? {
        return sweep_shard(&cfg, shard);
    }
    let points = run_sweep(&cfg, &mut print_point)?;
    println!("{} sizes; wrote {}", points.len(), cfg.output.display());
    Ok(())
}

/// Runs shard `shard` of the training-set sizes into `<output>.shards/shard-I-of-N/`.
fn sweep_shard(cfg: &SweepConfig, shard: Shard) -> Result<()> {
    let sizes = shard.range(cfg.sizes.len());
    let config = serde_json::to_value(cfg)?;
    let manifest = ShardManifest::new(
        SHARD_KIND,
        shard,
        sizes.clone(),
        cfg.sizes.len(),
        cfg.sample_seed,
        config,
    );
    let run = manifest.begin(&shard_dir(&cfg.output, shard))?;
    let _ = std::fs::remove_file(run.path("metrics.jsonl"));
    let points = sweep_points(cfg, &run, &cfg.sizes[sizes.clone()], &mut print_point)?;
    run.write_json("points.json", &points)?;
    manifest.finish(&run)?;
    println!(
        "shard {shard}: sizes {:?}; wrote {}",
        &cfg.sizes[sizes],
        run.root().display()
    );
    Ok(())
}

/// `velprior merge` of sweep shards: every size's point, in order, and the sweep's summary
/// and charts recomputed in `out`; the priors trained by each shard are copied beside them.
pub fn merge(shards: &ShardSet, out: &Path) -> Result<()> {
    let mut cfg: SweepConfig = serde_json::from_value(shards.run().config.clone())
        .context("shard manifest: not a memorization sweep config")?;
    let mut points: Vec<SweepPoint> = Vec::new();
    for dir in &shards.dirs {
        let path = dir.join("points.json");
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("{}: cannot read", path.display()))?;
        points.extend(
            serde_json::from_str::<Vec<SweepPoint>>(&text)
                .with_context(|| format!("{}: not sweep points", path.display()))?,
        );
    }
    cfg.output = out.to_path_buf();
    let run = RunDir::create(out)?;
    let _ = std::fs::remove_file(run.path("metrics.jsonl"));
    for dir in &shards.dirs {
        for entry in std::fs::read_dir(dir)?.flatten() {
            if entry.path().is_dir() {
                run.copy_in(&entry.path(), &entry.file_name().to_string_lossy())?;
            }
        }
    }
    run.write_json("config.json", &cfg)?;
    for p in &points {
        run.append_jsonl("metrics.jsonl", p)?;
    }
    finish_sweep(&run, &points)?;
    println!(
        "merged {} sizes from {} shards into {}",
        points.len(),
        shards.dirs.len(),
        out.display()
    );
    Ok(())
}

/// Prints one size's line of the sweep table.
fn print_point(p: &SweepPoint) {
    let ncc = p
        .disjoint_ncc_median
        .map_or("-".to_string(), |v| format!("{v:.3}"));
    println!(
        "{}  {:.3}  {:.3}  {:.3}  {:.3}  {ncc}  {:.0}",
        p.n,
        p.trained.fraction_gu,
        p.empirical.fraction_gu,
        p.gaussian.fraction_gu,
        p.held_out.fraction_gu,
        p.train_seconds
    );
}

fn report(a: ReportArgs) -> Result<()> {
    let (Some(samples_path), Some(train_path), Some(out)) = (&a.samples, &a.train, &a.out) else {
        bail!(
            "velprior memorization needs --samples FILE --train FILE --out DIR (or `sweep --config FILE`)"
        );
    };
    let (vmin, vmax) = match a.range {
        Some(r) => r,
        None => Hdf5Source::value_range(train_path, None, 1024)?,
    };
    let norm = Normalisation::new(vmin, vmax)
        .with_context(|| format!("{}: range", train_path.display()))?;
    let train = Hdf5Source::open(train_path, None, norm)?;
    let shape = train.model_shape();
    let samples = read_normalised(samples_path, shape, norm, "--samples")?;
    let test = a
        .test
        .as_deref()
        .map(|p| read_normalised(p, shape, norm, "--test"))
        .transpose()?;
    let assessment = Assessment {
        samples: &samples,
        test: test.as_deref(),
        train: &train,
        shape,
        device: &a.device.open()?,
    };
    let report = assess(&assessment)?;
    let run = RunDir::create(out)?;
    run.write_json(
        "config.json",
        &serde_json::json!({ "args": &a, "vmin": vmin, "vmax": vmax }),
    )?;
    write_report(&run, &report, &assessment, norm, a.rows)?;
    let s = &report.samples;
    println!(
        "{} samples vs {} training models: memorised {:.1} % (d1/d2 < 1/3), {:.1} % (d1/mean < 0.5), \
         {:.1} % (< 0.7); {} distinct nearest neighbours; median d1 {:.3}",
        s.samples,
        report.train_models,
        100.0 * s.fraction_gu,
        100.0 * s.fraction_carlini,
        100.0 * s.fraction_siahkoohi,
        s.distinct_nn1,
        s.d1_median
    );
    if let (Some(t), Some(mw)) = (&report.test, &report.d1_mann_whitney) {
        println!(
            "held-out: memorised {:.1} % (d1/d2 < 1/3), median d1 {:.3}; Mann–Whitney P(d1 generated < d1 held-out) = {:.3}, z = {:.2}, p = {:.2e}",
            100.0 * t.fraction_gu,
            t.d1_median,
            mw.prob_x_smaller,
            mw.z,
            mw.p_two_sided
        );
    }
    println!("wrote {}", run.root().display());
    Ok(())
}
