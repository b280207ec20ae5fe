//! `velprior posterior --config` with a `[calibration]` table: a posterior method with its prior
//! on held-out models of the prior's family, observed with noise through well logs, a blur or
//! seismic shots; the run folder gets the coverage report (metrics.json, one line per model in
//! metrics.jsonl), the calibration curve and pictures of the first models. Resumable.

use std::path::Path;

use anyhow::{Context, Result, bail};
use candle_core::Device;
use velprior_data::{CorpusReader, RunDir};
use velprior_physics::ModelShape;
use velprior_posterior::calibration::CalibrationConfig;
use velprior_posterior::calibration_run::calibrate_into;

use crate::progress;

/// The `[calibration]` table of a posterior config, when it has one.
pub fn parse(text: &str, config: &Path) -> Result<Option<CalibrationConfig>> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct File {
        calibration: CalibrationConfig,
    }
    let value: toml::Table =
        toml::from_str(text).with_context(|| format!("{}: not valid TOML", config.display()))?;
    if !value.contains_key("calibration") {
        return Ok(None);
    }
    let file: File = toml::from_str(text).map_err(|e| {
        anyhow::anyhow!(
            "{}: {}",
            config.display(),
            e.to_string().lines().collect::<Vec<_>>().join(" ")
        )
    })?;
    Ok(Some(file.calibration))
}

/// Runs the calibration of `cfg` (read from `config`, whose text is `text`) into `out`.
pub fn run(
    cfg: &CalibrationConfig,
    text: &str,
    config: &Path,
    out: &Path,
    seed: u64,
    device: &Device,
) -> Result<()> {
    let reader = CorpusReader::open(&cfg.models, None)
        .with_context(|| format!("{}: calibration.models", config.display()))?;
    if cfg.count == 0 || cfg.count > reader.len() {
        bail!(
            "{}: calibration.count = {} but {} holds {} models; use 1..={}",
            config.display(),
            cfg.count,
            cfg.models.display(),
            reader.len(),
            reader.len()
        );
    }
    let [_, nz, nx] = reader.shape();
    let truths = reader.read_range(0, cfg.count)?;
    let run = RunDir::create(out)?;
    std::fs::write(run.path("config.toml"), text)
        .with_context(|| format!("writing {}", run.path("config.toml").display()))?;
    let bar = progress::bar(cfg.count as u64, "models");
    let shape = ModelShape::new(nz, nx);
    let report = calibrate_into(&run, cfg, &truths, shape, seed, device, &|done| {
        bar.set_position(done as u64)
    })
    .with_context(|| config.display().to_string())?;
    bar.finish_and_clear();
    println!(
        "calibration: {} models, truth within ±1σ {:.1} %, ±2σ {:.1} % of pixels: {}",
        report.models.len(),
        100.0 * report.within_1sigma,
        100.0 * report.within_2sigma,
        run.path("metrics.json").display()
    );
    Ok(())
}
