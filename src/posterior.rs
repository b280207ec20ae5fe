//! `velprior posterior --config file.toml`: draw velocity models from the posterior of a
//! diffusion prior and seismic data (RED-diff, DPS, diffusion-regularised FWI), with a run
//! folder of samples (HDF5), mean / std / error / z-score pictures and metrics.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::Args;
use velprior_data::import::read_npy;
use velprior_data::render::{Colormap, RenderOptions, render_grid, render_model, save_png};
use velprior_data::{Corpus, CorpusMeta, RunDir, write_corpus};
use velprior_diffusion::Denoiser;
use velprior_diffusion::prior::DiffusionPrior;
use velprior_physics::fwi::smooth::gaussian_smooth;
use velprior_physics::{AcousticOperator, GradientOptions, ModelShape, velocity_metrics};
use velprior_posterior::config::PosteriorConfig;
use velprior_posterior::patches::PatchDenoiser;
use velprior_posterior::summary::PosteriorSummary;
use velprior_posterior::{IterationRecord, Problem};

use crate::fwi::read_model;
use crate::progress;

#[derive(Debug, Args)]
pub struct PosteriorArgs {
    /// TOML posterior config (configs/posterior-*.toml); unknown keys are rejected.
    #[arg(long, short)]
    config: PathBuf,
    /// Run folder.
    #[arg(long, short, default_value = "runs/posterior")]
    out: PathBuf,
    /// Random seed of every stochastic step.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

/// One line of metrics.jsonl.
#[derive(serde::Serialize)]
struct LogLine {
    iteration: usize,
    misfit: Option<f64>,
    extra: Option<f64>,
    ssim: Option<f64>,
    seconds: f64,
}

/// Runs `velprior posterior`.
pub fn run(a: PosteriorArgs) -> Result<()> {
    let text = std::fs::read_to_string(&a.config)
        .with_context(|| format!("{}: cannot read config", a.config.display()))?;
    let cfg = PosteriorConfig::from_toml_str(&text)
        .map_err(|e| anyhow::anyhow!("{}: {e}", a.config.display()))?;
    let prior = DiffusionPrior::load(&cfg.prior)
        .with_context(|| format!("{}: prior", a.config.display()))?;
    let norm = prior.meta.normalisation;
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
            a.config.display()
        ),
    };
    let observed = read_npy(Path::new(&cfg.files.observed))?.values;
    let operator = AcousticOperator {
        shape,
        config: cfg.solver.clone(),
        acquisition: cfg.acquisition.build(shape.nx, cfg.solver.dt),
        gradient: GradientOptions {
            misfit: cfg.misfit,
            storage: cfg.storage,
        },
    };
    let scale = cfg.likelihood_scale.unwrap_or(observed.len() as f64);
    let problem = Problem::new(&operator, &observed, norm, scale)
        .map_err(|e| anyhow::anyhow!("{}: {e}", cfg.files.observed))?;
    let [ph, pw] = prior.meta.model_shape;
    let patches = PatchDenoiser::new(&prior.denoiser, [ph, pw], cfg.patch_stride)?;
    let model: &dyn Denoiser = if [shape.nz, shape.nx] == [ph, pw] {
        &prior.denoiser
    } else {
        &patches
    };

    let run = RunDir::create(&a.out)?;
    std::fs::write(run.path("config.toml"), &text)
        .with_context(|| format!("writing {}", run.path("config.toml").display()))?;
    let _ = std::fs::remove_file(run.path("metrics.jsonl"));
    let bar = progress::bar(cfg.method.iterations() as u64, "iterations");
    let t0 = Instant::now();
    let truth_v = truth.as_ref().map(|t| t.1.clone());
    let mut observer = |r: &IterationRecord<'_>| -> velprior_posterior::Result<()> {
        let ssim = match &truth_v {
            Some(t) => Some(velocity_metrics(&problem.to_velocity(r.estimate), t, shape)?.ssim),
            None => None,
        };
        let line = LogLine {
            iteration: r.iteration,
            misfit: r.misfit,
            extra: r.extra,
            ssim,
            seconds: t0.elapsed().as_secs_f64(),
        };
        run.append_jsonl("metrics.jsonl", &line)?;
        bar.inc(1);
        Ok(())
    };
    tracing::info!(
        "{} on {}x{} with {}",
        cfg.method.name(),
        shape.nz,
        shape.nx,
        cfg.prior.display()
    );
    let samples = cfg.method.run(
        model,
        &problem,
        &prior.schedule,
        &problem.to_unit(&start_v),
        a.seed,
        &mut observer,
    )?;
    bar.finish_and_clear();
    let wall = t0.elapsed().as_secs_f64();
    let samples_v = problem.to_velocity(&samples);
    write_outputs(
        &run,
        &cfg,
        a.seed,
        shape,
        &start_v,
        &samples_v,
        truth_v.as_deref(),
        &problem,
        wall,
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
) -> Result<()> {
    let (nz, nx) = (shape.nz, shape.nx);
    let n = samples.len() / shape.len();
    let norm = problem.normalisation;
    let meta = CorpusMeta {
        dx: f64::from(cfg.solver.dx),
        dz: f64::from(cfg.solver.dx),
        source: format!("velprior posterior ({}, seed {seed})", cfg.method.name()),
    };
    write_corpus(
        &run.path("samples.h5"),
        &Corpus::new(samples.to_vec(), [n, nz, nx], meta)?,
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
