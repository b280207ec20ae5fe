//! `velprior fwi --config file.toml`: plain full-waveform inversion (the baseline every prior
//! is compared against), with a run folder of logs, pictures and the result.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args;
use velprior_data::render::{Colormap, RenderOptions, render_model, save_png};
use velprior_data::{Corpus, CorpusMeta, RunDir, write_corpus};
use velprior_physics::{FwiConfig, run_fwi, velocity_metrics};
use velprior_posterior::experiment::FwiInputs;

use crate::progress;

#[derive(Debug, Args)]
pub struct FwiArgs {
    /// TOML FWI config (e.g. configs/fwi-marmousi-tv.toml); unknown keys are rejected.
    #[arg(long, short)]
    config: PathBuf,
    /// Run folder.
    #[arg(long, short, default_value = "runs/fwi")]
    out: PathBuf,
    /// Override the number of iterations (without multiscale stages).
    #[arg(long)]
    iterations: Option<usize>,
}

/// Runs `velprior fwi`.
pub fn run(a: FwiArgs) -> Result<()> {
    let text = std::fs::read_to_string(&a.config)
        .with_context(|| format!("{}: cannot read config", a.config.display()))?;
    let mut cfg: FwiConfig = velprior_data::toml_file::parse_toml(&text, &a.config)?;
    if let Some(n) = a.iterations {
        cfg.iterations = n;
    }
    let inputs = FwiInputs::load(&cfg.files, &a.config)?;
    let shape = inputs.shape;
    let run = RunDir::create(&a.out)?;
    std::fs::write(run.path("config.toml"), &text)
        .with_context(|| format!("writing {}", run.path("config.toml").display()))?;
    let log_path = run.path("metrics.jsonl");
    let _ = std::fs::remove_file(&log_path);
    let total = if cfg.multiscale.is_empty() {
        cfg.iterations
    } else {
        cfg.multiscale.iter().map(|s| s.iterations).sum()
    };
    let bar = progress::bar(total as u64, "iterations");
    let t0 = Instant::now();
    let mut log_error = None;
    let result = run_fwi(
        &cfg,
        shape,
        &inputs.observed,
        inputs.truth.as_deref(),
        inputs.initial.as_deref(),
        &mut |line, _| {
            if let Err(e) = run.append_jsonl("metrics.jsonl", line) {
                log_error.get_or_insert(e);
            }
            bar.inc(1);
        },
    )?;
    bar.finish_and_clear();
    if let Some(e) = log_error {
        return Err(e.into());
    }
    let wall = t0.elapsed().as_secs_f64();
    let (nz, nx) = (shape.nz, shape.nx);
    let range = Some((cfg.vmin, cfg.vmax));
    let draw = |name: &str, v: &[f32], title: &str| -> Result<()> {
        let opts = RenderOptions {
            range,
            title: Some(title.to_string()),
            ..Default::default()
        };
        save_png(&run.path(name), &render_model(v, [nz, nx], &opts)?)?;
        Ok(())
    };
    draw("start.png", &result.start, "start")?;
    draw("result.png", &result.model, "FWI result")?;
    let meta = CorpusMeta {
        dx: cfg.solver.dx as f64,
        dz: cfg.solver.dx as f64,
        source: format!("velprior fwi {}", a.config.display()),
    };
    write_corpus(
        &run.path("result.h5"),
        &Corpus::new(result.model.clone(), [1, nz, nx], meta)?,
    )?;
    let mut summary = serde_json::json!({"iterations": result.log.len(), "wall_time_s": wall,
        "final_misfit": result.log.last().map(|l| l.misfit)});
    if let Some(t) = &inputs.truth {
        draw("truth.png", t, "truth")?;
        let error: Vec<f32> = result.model.iter().zip(t).map(|(r, t)| r - t).collect();
        let span = error.iter().fold(1.0f32, |m, e| m.max(e.abs()));
        let opts = RenderOptions {
            colormap: Colormap::Rdbu,
            range: Some((-span, span)),
            title: Some("result - truth".into()),
            ..Default::default()
        };
        save_png(
            &run.path("error.png"),
            &render_model(&error, [nz, nx], &opts)?,
        )?;
        summary["start_metrics"] =
            serde_json::to_value(velocity_metrics(&result.start, t, shape)?)?;
        summary["final_metrics"] =
            serde_json::to_value(velocity_metrics(&result.model, t, shape)?)?;
    }
    let path = run.write_json("summary.json", &summary)?;
    println!("fwi done in {wall:.1} s: {}", path.display());
    Ok(())
}
