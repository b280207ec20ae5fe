//! The run folder of a calibration (`velprior posterior` with a `[calibration]` table):
//! metrics.json (the coverage report), metrics.jsonl (one line per model), pictures of the
//! first models (truth, posterior mean, std), the calibration curve and the error against the
//! std.

use std::cell::RefCell;

use candle_core::Device;
use velprior_data::item_seed;
use velprior_data::render::charts::{Series, line_chart};
use velprior_data::render::{Colormap, RenderOptions, render_grid, save_png};
use velprior_data::{Normalisation, RunDir};
use velprior_diffusion::prior::{AnyPrior, Prior};
use velprior_physics::{ModelShape, velocity_metrics};

use crate::calibration::{CalibrationConfig, CalibrationReport, ModelCoverage, calibrate};
use crate::method::PriorModel;
use crate::summary::PosteriorSummary;
use crate::two_stage::first_stage_start;
use crate::{NoObserver, PosteriorError, Result};

/// Models drawn in the pictures.
const SHOWN: usize = 4;

/// Calibration of `cfg` on `truths` (m/s, models of `shape` concatenated) written into `run`:
/// metrics.json (the report; with a first stage, also its models' mean SSIM), metrics.jsonl
/// (one line per model, with the first stage's metrics), calibration.png,
/// calibration_std.png, calibration_curve.png and error_vs_std.png.
pub fn calibrate_into(
    run: &RunDir,
    cfg: &CalibrationConfig,
    truths: &[f32],
    shape: ModelShape,
    seed: u64,
    device: &Device,
) -> Result<CalibrationReport> {
    let prior = AnyPrior::load(&cfg.prior, device).map_err(|e| {
        PosteriorError::invalid(format!("calibration.prior {}: {e}", cfg.prior.display()))
    })?;
    let meta = prior.meta();
    if meta.model_shape != [shape.nz, shape.nx] {
        return Err(PosteriorError::invalid(format!(
            "calibration: the prior's models are {:?} but the held-out models are {}x{}; use \
             models of the prior's shape",
            meta.model_shape, shape.nz, shape.nx
        )));
    }
    let prior_model = PriorModel::of(&prior, None);
    cfg.method.check_prior(&prior_model)?;
    if let Some(first) = &cfg.start_method {
        first.check_prior(&prior_model)?;
    }
    let operator = cfg.operator.build(shape)?;
    let noise = cfg.noise()?;
    let _ = std::fs::remove_file(run.path("metrics.jsonl"));
    let t0 = std::time::Instant::now();
    let mut pictures: Vec<Vec<f32>> = Vec::new();
    // Chain j of model i is seeded item_seed((seed + i) << 16, j): no two chains share a seed.
    let one = cfg.method.one_chain();
    // The first stage's model (m/s) of the model being sampled, for its metrics.
    let first_stage = RefCell::new(None::<Vec<f32>>);
    let mut first_stage_ssim = Vec::new();
    let mut sampler = |p: &crate::Problem, start: &[f32], s: u64| {
        let start = match &cfg.start_method {
            Some(first) => {
                let x = first_stage_start(first, &prior_model, p, start, s << 16)?;
                first_stage.replace(Some(p.to_velocity(&x)));
                x
            }
            None => start.to_vec(),
        };
        let mut samples = Vec::new();
        for j in 0..cfg.method.chains() {
            let chain = one.run(
                &prior_model,
                p,
                &start,
                item_seed(s << 16, j),
                &mut NoObserver,
            )?;
            samples.extend(chain.samples);
        }
        Ok(samples)
    };
    let mut on_model = |m: &ModelCoverage, samples: &[f32]| {
        let mut line = serde_json::to_value(m).map_err(json_error)?;
        line["seconds"] = serde_json::json!(t0.elapsed().as_secs_f64());
        let d = shape.len();
        let truth = &truths[m.index * d..(m.index + 1) * d];
        if let Some(first) = first_stage.take() {
            let metrics = velocity_metrics(&first, truth, shape)?;
            first_stage_ssim.push(metrics.ssim);
            line["first_stage_metrics"] = serde_json::to_value(metrics).map_err(json_error)?;
        }
        run.append_jsonl("metrics.jsonl", &line)?;
        if m.index < SHOWN {
            let s = PosteriorSummary::new(samples, [shape.nz, shape.nx], None)?;
            pictures.push([truth, &s.mean[..], &s.std[..]].concat());
        }
        Ok(())
    };
    let report = calibrate(
        truths,
        shape,
        operator.as_ref(),
        noise,
        cfg.start_smooth_sigma,
        meta.normalisation,
        seed,
        &mut sampler,
        &mut on_model,
    )?;
    let wall = t0.elapsed().as_secs_f64();
    let mut metrics = serde_json::to_value(&report).map_err(json_error)?;
    metrics["wall_time_s"] = serde_json::json!(wall);
    if !first_stage_ssim.is_empty() {
        let n = first_stage_ssim.len() as f64;
        metrics["first_stage_mean_ssim"] =
            serde_json::json!(first_stage_ssim.iter().sum::<f64>() / n);
    }
    metrics["seed"] = serde_json::json!(seed);
    run.write_json("metrics.json", &metrics)?;
    draw(run, &pictures, shape, meta.normalisation)?;
    draw_calibration(run, &report)?;
    Ok(report)
}

fn json_error(e: serde_json::Error) -> PosteriorError {
    PosteriorError::invalid(format!("metrics line: {e}"))
}

/// calibration.png (truth | posterior mean per row, m/s) and calibration_std.png.
fn draw(run: &RunDir, pictures: &[Vec<f32>], shape: ModelShape, norm: Normalisation) -> Result<()> {
    let (d, n) = (shape.len(), pictures.len());
    if n == 0 {
        return Ok(());
    }
    let pairs: Vec<f32> = pictures.iter().flat_map(|p| p[..2 * d].to_vec()).collect();
    let opts = RenderOptions {
        range: Some((norm.vmin, norm.vmax)),
        title: Some("truth | posterior mean (m/s)".into()),
        ..Default::default()
    };
    let img = render_grid(&pairs, [2 * n, shape.nz, shape.nx], 2, &opts, None)?;
    save_png(&run.path("calibration.png"), &img)?;
    let stds: Vec<f32> = pictures.iter().flat_map(|p| p[2 * d..].to_vec()).collect();
    let opts = RenderOptions {
        range: Some((0.0, stds.iter().fold(1.0f32, |m, &s| m.max(s)))),
        colormap: Colormap::Magma,
        title: Some("posterior std (m/s)".into()),
        ..Default::default()
    };
    let img = render_grid(&stds, [n, shape.nz, shape.nx], n, &opts, None)?;
    save_png(&run.path("calibration_std.png"), &img)?;
    Ok(())
}

/// calibration_curve.png (observed against nominal coverage) and error_vs_std.png (RMS error
/// against the posterior std), each beside its diagonal.
fn draw_calibration(run: &RunDir, report: &CalibrationReport) -> Result<()> {
    let series = |name: &str, points: Vec<(f64, f64)>| Series {
        name: name.into(),
        points,
    };
    let curve: Vec<(f64, f64)> = report
        .calibration_curve
        .iter()
        .map(|p| (p.nominal, p.observed))
        .collect();
    let img = line_chart(
        "calibration curve (all pixels)",
        ("nominal coverage of mean ± z std", "observed coverage"),
        &[
            series("sampler", curve),
            series("calibrated", vec![(0.0, 0.0), (1.0, 1.0)]),
        ],
        false,
        Some((0.0, 1.0)),
    );
    save_png(&run.path("calibration_curve.png"), &img)?;
    let bins: Vec<(f64, f64)> = report
        .error_vs_std
        .iter()
        .map(|b| (b.mean_std, b.rms_error))
        .collect();
    let top = bins.iter().fold(1.0f64, |m, p| m.max(p.0).max(p.1));
    let img = line_chart(
        "error of the posterior mean vs its std",
        (
            "posterior std (m/s, bins of equal count)",
            "RMS error (m/s)",
        ),
        &[
            series("sampler", bins),
            series("calibrated", vec![(0.0, 0.0), (top, top)]),
        ],
        false,
        Some((0.0, top)),
    );
    save_png(&run.path("error_vs_std.png"), &img)?;
    Ok(())
}
