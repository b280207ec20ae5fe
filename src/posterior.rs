//! `velprior posterior --config file.toml`: draw velocity models from the posterior of a
//! prior and seismic data (RED-diff, DPS, diffusion-regularised FWI and Boomerang with a
//! diffusion prior; MALA, ULA and random-walk Metropolis with a Gaussian or autoencoder
//! prior), with a run folder of samples (HDF5), mean / std / error / z-score pictures and
//! metrics; a config with a `[calibration]` table measures the sampler's ±1σ/±2σ coverage
//! instead ([`calibration`]).

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::progress;
use anyhow::{Context, Result, bail};
use candle_core::Device;
use clap::Args;
use velprior_data::import::read_npy;
use velprior_data::{
    Corpus, RunDir, Shard, ShardManifest, ShardSet, read_corpus, shard_dir, write_corpus, write_npy,
};
use velprior_physics::velocity_metrics;
use velprior_posterior::IterationRecord;
use velprior_posterior::experiment::{Chains, Experiment};
use velprior_posterior::report::{samples_meta, write_report};

pub mod calibration;

#[derive(Debug, Args)]
pub struct PosteriorArgs {
    /// TOML posterior config (configs/posterior-*.toml); unknown keys are rejected.
    #[arg(long, short)]
    config: PathBuf,
    /// Run folder.
    #[arg(long, short, default_value = "runs/posterior")]
    out: PathBuf,
    /// Random seed of every stochastic step (sample j is an independent chain seeded
    /// seed + j).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Run only shard I of N (0-based) of the samples (chains), into
    /// `<out>.shards/shard-I-of-N/`; `velprior merge` joins the shards. Read from
    /// SLURM_ARRAY_TASK_ID / SLURM_ARRAY_TASK_COUNT inside a Slurm job array.
    #[arg(long)]
    shard: Option<Shard>,
    /// Where the prior's network runs: cpu, cuda or cuda:N (the wave solver runs on the CPU).
    #[arg(long, default_value = "cpu", value_parser = crate::parse::device)]
    device: velprior_kernels::DeviceSpec,
}

/// The shard manifest's `kind` for `velprior posterior`.
pub const SHARD_KIND: &str = "posterior";

/// What a posterior run does: run the chains of a shard (all of them when `None`), or
/// summarise the samples merged from shards.
enum Work {
    Chains(Option<Shard>),
    Merged(Chains),
}

/// One line of metrics.jsonl.
#[derive(serde::Serialize)]
struct LogLine {
    iteration: usize,
    misfit: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    regulariser: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    acceptance: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    alpha_bar: Option<f64>,
    ssim: Option<f64>,
    seconds: f64,
}

/// Runs `velprior posterior`.
pub fn run(a: PosteriorArgs) -> Result<()> {
    let text = std::fs::read_to_string(&a.config)
        .with_context(|| format!("{}: cannot read config", a.config.display()))?;
    if let Some(cal) = calibration::parse(&text, &a.config)? {
        if a.shard.is_some() {
            bail!("--shard: a calibration config runs unsharded; drop --shard");
        }
        return calibration::run(&cal, &text, &a.config, &a.out, a.seed, &a.device.open()?);
    }
    let shard = Shard::resolve(a.shard)?;
    let device = a.device.open()?;
    execute(
        &text,
        &a.config,
        &a.out,
        a.seed,
        &device,
        Work::Chains(shard),
    )
}

/// `velprior merge` of posterior shards: the samples of every shard in chain order, their
/// summary, pictures and metrics recomputed in `out` as an unsharded run writes them.
pub fn merge(shards: &ShardSet, out: &Path) -> Result<()> {
    let run = shards.run();
    let text = run.config["toml"]
        .as_str()
        .context("shard manifest: no posterior config (`config.toml`)")?;
    let mut samples = Vec::new();
    let mut wall = 0.0;
    let mut acceptance = Vec::new();
    for (dir, m) in shards.dirs.iter().zip(&shards.manifests) {
        if m.items[1] > m.items[0] {
            samples.extend(read_corpus(&dir.join("samples.h5"), None)?.into_velocity());
        }
        let path = dir.join("timing.json");
        let timing: serde_json::Value = std::fs::read_to_string(&path)
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .with_context(|| format!("{}: missing or unreadable", path.display()))?;
        wall += timing["wall_time_s"].as_f64().unwrap_or(0.0);
        if let Some(rates) = timing["acceptance_rates"].as_array() {
            acceptance.extend(rates.iter().filter_map(|r| r.as_f64()));
        }
    }
    // Every shard ran the same first stage (same seed); the first shard's stands for all.
    let first_stage_path = shards.dirs[0].join("first_stage.npy");
    let first_stage = first_stage_path
        .exists()
        .then(|| read_npy(&first_stage_path).map(|a| a.values))
        .transpose()?;
    let label = shards.dirs[0].join("config.toml");
    let chains = Chains {
        samples,
        acceptance,
        wall_time_s: wall,
        first_stage,
    };
    // host: the merged samples are only summarised; no network runs.
    execute(
        text,
        &label,
        out,
        run.seed,
        &Device::Cpu,
        Work::Merged(chains),
    )?;
    let log = shards
        .dirs
        .iter()
        .map(|d| std::fs::read_to_string(d.join("metrics.jsonl")).unwrap_or_default())
        .collect::<String>();
    velprior_data::atomic::write_bytes(&out.join("metrics.jsonl"), log.as_bytes())?;
    Ok(())
}

/// Sets up the experiment of config `text` (read from `config`) and does `work`, writing into
/// `out` (or the shard's folder beside it).
fn execute(
    text: &str,
    config: &Path,
    out: &Path,
    seed: u64,
    device: &Device,
    work: Work,
) -> Result<()> {
    let experiment = Experiment::from_config(text, config, device)?;
    let shard = match work {
        Work::Merged(chains) => {
            let run = RunDir::create(out)?;
            write_config(&run, text)?;
            return finish(&run, &experiment, seed, &chains);
        }
        Work::Chains(shard) => shard,
    };
    let chains = experiment.config.method.chains();
    let chain_range = shard.map_or(0..chains, |s| s.range(chains));
    let manifest = shard.map(|s| {
        ShardManifest::new(
            SHARD_KIND,
            s,
            chain_range.clone(),
            chains,
            seed,
            serde_json::json!({ "toml": text }),
        )
    });
    let run = match (&manifest, shard) {
        (Some(m), Some(s)) => m.begin(&shard_dir(out, s))?,
        _ => RunDir::create(out)?,
    };
    write_config(&run, text)?;
    let _ = std::fs::remove_file(run.path("metrics.jsonl"));
    let iterations = experiment.config.method.iterations() * chain_range.len();
    let bar = progress::bar(iterations as u64, "iterations");
    let shape = experiment.shape();
    let t0 = Instant::now();
    // metrics.jsonl follows chain 0; the others only advance the progress bar.
    let mut observer = |chain: usize, r: &IterationRecord<'_>| -> velprior_posterior::Result<()> {
        bar.inc(1);
        if chain != 0 {
            return Ok(());
        }
        let ssim = match &experiment.inputs.truth {
            Some(t) => {
                let estimate = experiment.problem()?.to_velocity(r.estimate);
                Some(velocity_metrics(&estimate, t, shape)?.ssim)
            }
            None => None,
        };
        let line = LogLine {
            iteration: r.iteration,
            misfit: r.misfit,
            regulariser: r.regulariser,
            acceptance: r.acceptance,
            alpha_bar: r.alpha_bar,
            ssim,
            seconds: t0.elapsed().as_secs_f64(),
        };
        run.append_jsonl("metrics.jsonl", &line)?;
        Ok(())
    };
    tracing::info!(
        "{} on {}x{} with {}",
        experiment.config.method.name(),
        shape.nz,
        shape.nx,
        experiment.config.prior.display()
    );
    let result = experiment.run_chains(chain_range.clone(), seed, &mut observer)?;
    bar.finish_and_clear();
    let (Some(m), Some(s)) = (&manifest, shard) else {
        return finish(&run, &experiment, seed, &result);
    };
    if !chain_range.is_empty() {
        let dims = [chain_range.len(), shape.nz, shape.nx];
        let corpus = Corpus::new(result.samples, dims, samples_meta(&experiment, seed))?;
        write_corpus(&run.path("samples.h5"), &corpus)?;
    }
    if let Some(first) = &result.first_stage {
        write_npy(&run.path("first_stage.npy"), &[shape.nz, shape.nx], first)?;
    }
    run.write_json(
        "timing.json",
        &serde_json::json!({ "wall_time_s": result.wall_time_s, "acceptance_rates": result.acceptance }),
    )?;
    m.finish(&run)?;
    println!(
        "posterior shard {s}: chains {}..{} of {chains} in {}",
        chain_range.start,
        chain_range.end,
        run.root().display()
    );
    Ok(())
}

/// Keeps the config beside the run's results.
fn write_config(run: &RunDir, text: &str) -> Result<()> {
    let path = run.path("config.toml");
    std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))
}

/// Writes the report of all chains and says where it is.
fn finish(run: &RunDir, experiment: &Experiment, seed: u64, chains: &Chains) -> Result<()> {
    let path = write_report(run, experiment, seed, chains)?;
    println!(
        "posterior ({}) done in {:.1} s: {}",
        experiment.config.method.name(),
        chains.wall_time_s,
        path.display()
    );
    Ok(())
}
