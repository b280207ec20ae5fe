//! `velprior posterior --config file.toml`: draw velocity models from the posterior of a
//! prior and seismic data (RED-diff, DPS, diffusion-regularised FWI and Boomerang with a
//! diffusion prior; MALA, ULA and random-walk Metropolis with a Gaussian or autoencoder
//! prior), with a run folder of samples (HDF5), mean / std / error / z-score pictures and
//! metrics; a config with a `[calibration]` table measures the sampler's ±1σ/±2σ coverage
//! instead ([`calibration`]).

use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use candle_core::Device;
use clap::Args;
use velprior_data::import::read_npy;
use velprior_data::render::{Colormap, RenderOptions, render_grid, render_model, save_png};
use velprior_data::shard::config_hash;
use velprior_data::{
    Corpus, CorpusMeta, RunDir, Shard, ShardManifest, ShardSet, item_seed, read_corpus, shard_dir,
    write_corpus,
};
use velprior_diffusion::prior::{AnyPrior, Prior};
use velprior_physics::fwi::smooth::gaussian_smooth;
use velprior_physics::{AcousticOperator, ModelShape, velocity_metrics};
use velprior_posterior::config::PosteriorConfig;
use velprior_posterior::method::PriorModel;
use velprior_posterior::patches::PatchDenoiser;
use velprior_posterior::summary::PosteriorSummary;
use velprior_posterior::{IterationRecord, Problem};

use crate::fwi::read_model;
use crate::progress;

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
    Merged {
        samples: Vec<f32>,
        wall: f64,
        acceptance: Vec<f64>,
    },
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
    let label = shards.dirs[0].join("config.toml");
    let work = Work::Merged {
        samples,
        wall,
        acceptance,
    };
    execute(text, &label, out, run.seed, &Device::Cpu, work)?;
    let log = shards
        .dirs
        .iter()
        .map(|d| std::fs::read_to_string(d.join("metrics.jsonl")).unwrap_or_default())
        .collect::<String>();
    velprior_data::atomic::write_bytes(&out.join("metrics.jsonl"), log.as_bytes())?;
    Ok(())
}

/// Sets up the problem of config `text` (read from `config`) and does `work`, writing into
/// `out` (or the shard's folder beside it).
fn execute(
    text: &str,
    config: &Path,
    out: &Path,
    seed: u64,
    device: &Device,
    work: Work,
) -> Result<()> {
    let cfg = PosteriorConfig::from_toml(text, config)?;
    let prior = AnyPrior::load(&cfg.prior, device)
        .with_context(|| format!("{}: prior", config.display()))?;
    let norm = prior.meta().normalisation;
    let truth = cfg
        .files
        .true_model
        .as_deref()
        .map(|p| read_model(Path::new(p)))
        .transpose()?;
    let initial = cfg
        .files
        .initial_model
        .as_deref()
        .map(|p| read_model(Path::new(p)))
        .transpose()?;
    let (shape, start_v) = match (&initial, &truth) {
        (Some((s, v)), _) => (*s, v.clone()),
        (None, Some((s, t))) => (*s, gaussian_smooth(t, *s, cfg.smooth_sigma)),
        (None, None) => bail!(
            "{}: files.true_model or files.initial_model is needed",
            config.display()
        ),
    };
    let observed = read_npy(Path::new(&cfg.files.observed))?.values;
    let operator = AcousticOperator::from_survey(
        shape,
        &cfg.solver,
        &cfg.acquisition,
        cfg.misfit,
        cfg.storage,
    );
    let scale = cfg.likelihood_scale.unwrap_or(observed.len() as f64);
    let problem = Problem::new(&operator, &observed, norm, scale)
        .map_err(|e| anyhow::anyhow!("{}: {e}", cfg.files.observed))?;
    let patches = PatchDenoiser::for_model(&prior, [shape.nz, shape.nx], cfg.patch_stride)
        .map_err(|e| anyhow::anyhow!("{}: {}: {e}", config.display(), cfg.prior.display()))?;
    let prior_model = PriorModel::of(&prior, patches.as_ref());
    cfg.method
        .check_prior(&prior_model)
        .map_err(|e| anyhow::anyhow!("{}: {e}", config.display()))?;

    let truth_v = truth.as_ref().map(|t| t.1.clone());
    let (shard, chains) = match work {
        Work::Merged {
            samples,
            wall,
            acceptance,
        } => {
            let run = RunDir::create(out)?;
            std::fs::write(run.path("config.toml"), text)
                .with_context(|| format!("writing {}", run.path("config.toml").display()))?;
            return write_outputs(
                &run,
                &cfg,
                seed,
                shape,
                &start_v,
                &samples,
                truth_v.as_deref(),
                &problem,
                wall,
                &acceptance,
            );
        }
        Work::Chains(shard) => (shard, cfg.method.chains()),
    };
    let chain_range = shard.map_or(0..chains, |s| s.range(chains));
    let manifest = shard.map(|s| ShardManifest {
        kind: SHARD_KIND.into(),
        shard: s,
        items: [chain_range.start, chain_range.end],
        total: chains,
        seed,
        config_hash: config_hash(text.as_bytes()),
        config: serde_json::json!({ "toml": text }),
        complete: false,
    });
    let run = match (&manifest, shard) {
        (Some(m), Some(s)) => m.begin(&shard_dir(out, s))?,
        _ => RunDir::create(out)?,
    };
    std::fs::write(run.path("config.toml"), text)
        .with_context(|| format!("writing {}", run.path("config.toml").display()))?;
    let _ = std::fs::remove_file(run.path("metrics.jsonl"));
    let bar = progress::bar(
        (cfg.method.iterations() * chain_range.len()) as u64,
        "iterations",
    );
    let t0 = Instant::now();
    // metrics.jsonl follows chain 0 (as the batched run followed sample 0); the others only
    // advance the progress bar.
    let first_chain = Cell::new(true);
    let mut observer = |r: &IterationRecord<'_>| -> velprior_posterior::Result<()> {
        bar.inc(1);
        if !first_chain.get() {
            return Ok(());
        }
        let ssim = match &truth_v {
            Some(t) => Some(velocity_metrics(&problem.to_velocity(r.estimate), t, shape)?.ssim),
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
        cfg.method.name(),
        shape.nz,
        shape.nx,
        cfg.prior.display()
    );
    // Each chain is independent with its own seed, so shards split the chains without
    // changing any of them.
    let one = cfg.method.one_chain();
    let start_unit = problem.to_unit(&start_v);
    let mut samples = Vec::with_capacity(chain_range.len() * shape.len());
    let mut acceptance = Vec::new();
    for j in chain_range.clone() {
        first_chain.set(j == 0);
        let out = one.run(
            &prior_model,
            &problem,
            &start_unit,
            item_seed(seed, j),
            &mut observer,
        )?;
        samples.extend(out.samples);
        acceptance.extend(out.acceptance_rate);
    }
    bar.finish_and_clear();
    let wall = t0.elapsed().as_secs_f64();
    let samples_v = problem.to_velocity(&samples);
    if let (Some(m), Some(s)) = (&manifest, shard) {
        if !chain_range.is_empty() {
            write_corpus(
                &run.path("samples.h5"),
                &Corpus::new(
                    samples_v,
                    [samples.len() / shape.len(), shape.nz, shape.nx],
                    samples_meta(&cfg, seed),
                )?,
            )?;
        }
        run.write_json(
            "timing.json",
            &serde_json::json!({ "wall_time_s": wall, "acceptance_rates": acceptance }),
        )?;
        m.finish(&run)?;
        println!(
            "posterior shard {s}: chains {}..{} of {chains} in {}",
            chain_range.start,
            chain_range.end,
            run.root().display()
        );
        return Ok(());
    }
    write_outputs(
        &run,
        &cfg,
        seed,
        shape,
        &start_v,
        &samples_v,
        truth_v.as_deref(),
        &problem,
        wall,
        &acceptance,
    )
}

#[allow(clippy::too_many_arguments)]
fn write_outputs(
    run: &RunDir,
    cfg: &PosteriorConfig,
    seed: u64,
    shape: ModelShape,
    start: &[f32],
    samples: &[f32],
    truth: Option<&[f32]>,
    problem: &Problem,
    wall: f64,
    acceptance: &[f64],
) -> Result<()> {
    let (nz, nx) = (shape.nz, shape.nx);
    let n = samples.len() / shape.len();
    let norm = problem.normalisation;
    write_corpus(
        &run.path("samples.h5"),
        &Corpus::new(samples.to_vec(), [n, nz, nx], samples_meta(cfg, seed))?,
    )?;
    let summary = PosteriorSummary::new(samples, [nz, nx], truth)?;
    let draw =
        |name: &str, v: &[f32], range: (f32, f32), cmap: Colormap, title: &str| -> Result<()> {
            let opts = RenderOptions {
                range: Some(range),
                colormap: cmap,
                title: Some(title.into()),
                ..Default::default()
            };
            save_png(&run.path(name), &render_model(v, [nz, nx], &opts)?)?;
            Ok(())
        };
    let vr = (norm.vmin, norm.vmax);
    draw("start.png", start, vr, Colormap::Viridis, "start (m/s)")?;
    draw(
        "mean.png",
        &summary.mean,
        vr,
        Colormap::Viridis,
        "posterior mean (m/s)",
    )?;
    let shown = n.min(8);
    let opts = RenderOptions {
        range: Some(vr),
        title: Some(format!("{shown} of {n} samples (m/s)")),
        ..Default::default()
    };
    save_png(
        &run.path("samples.png"),
        &render_grid(
            &samples[..shown * shape.len()],
            [shown, nz, nx],
            2,
            &opts,
            None,
        )?,
    )?;
    let mut err_max = summary.std.iter().fold(1.0f32, |m, &s| m.max(s));
    if let Some(t) = &summary.truth {
        err_max = t.abs_error.iter().fold(err_max, |m, &e| m.max(e));
    }
    draw(
        "std.png",
        &summary.std,
        (0.0, err_max),
        Colormap::Magma,
        "posterior std (m/s)",
    )?;
    let mut metrics = serde_json::json!({
        "method": cfg.method.name(), "seed": seed, "samples": n, "wall_time_s": wall,
        "start_metrics": truth.map(|t| velocity_metrics(start, t, shape)).transpose()?,
    });
    if !acceptance.is_empty() {
        metrics["acceptance_rate"] =
            serde_json::json!(acceptance.iter().sum::<f64>() / acceptance.len() as f64);
        metrics["acceptance_rates"] = serde_json::json!(acceptance);
    }
    let (f, _) = problem.misfit(&problem.to_unit(&summary.mean))?;
    metrics["mean_data_misfit"] = serde_json::json!(f);
    if let (Some(t), Some(truth)) = (&summary.truth, truth) {
        draw("truth.png", truth, vr, Colormap::Viridis, "truth (m/s)")?;
        draw(
            "abs_error.png",
            &t.abs_error,
            (0.0, err_max),
            Colormap::Magma,
            "|mean - truth| (m/s)",
        )?;
        draw(
            "zscore.png",
            &t.z_score,
            (-3.0, 3.0),
            Colormap::Rdbu,
            "(truth - mean) / std",
        )?;
        metrics["truth"] = serde_json::to_value(t.scores)?;
    }
    let path = run.write_json("metrics.json", &metrics)?;
    println!(
        "posterior ({}) done in {wall:.1} s: {}",
        cfg.method.name(),
        path.display()
    );
    Ok(())
}

/// Spacing and provenance of the posterior samples (the same in every shard).
fn samples_meta(cfg: &PosteriorConfig, seed: u64) -> CorpusMeta {
    CorpusMeta {
        dx: f64::from(cfg.solver.dx),
        dz: f64::from(cfg.solver.dx),
        source: format!("velprior posterior ({}, seed {seed})", cfg.method.name()),
    }
}
