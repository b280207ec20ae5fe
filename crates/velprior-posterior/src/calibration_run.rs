//! The run folder of a calibration (`velprior posterior` with a `[calibration]` table):
//! metrics.json (the coverage report), metrics.jsonl (one line per model) and pictures of the
//! first models (truth, posterior mean, std).

use candle_core::Device;
use velprior_data::item_seed;
use velprior_data::render::{Colormap, RenderOptions, render_grid, save_png};
use velprior_data::{Normalisation, RunDir};
use velprior_diffusion::prior::{AnyPrior, Prior};
use velprior_physics::ModelShape;

use crate::calibration::{CalibrationConfig, CalibrationReport, ModelCoverage, calibrate};
use crate::method::PriorModel;
use crate::summary::PosteriorSummary;
use crate::{NoObserver, PosteriorError, Result};

/// Models drawn in the pictures.
const SHOWN: usize = 4;

/// Calibration of `cfg` on `truths` (m/s, models of `shape` concatenated) written into `run`:
/// metrics.json (the report), metrics.jsonl (one line per model) and calibration.png.
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
    let operator = cfg.operator.build(shape)?;
    let _ = std::fs::remove_file(run.path("metrics.jsonl"));
    let t0 = std::time::Instant::now();
    let mut pictures: Vec<Vec<f32>> = Vec::new();
    // Chain j of model i is seeded item_seed((seed + i) << 16, j): no two chains share a seed.
    let one = cfg.method.one_chain();
    let mut sampler = |p: &crate::Problem, start: &[f32], s: u64| {
        let mut samples = Vec::new();
        for j in 0..cfg.method.chains() {
            let chain = one.run(
                &prior_model,
                p,
                start,
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
        run.append_jsonl("metrics.jsonl", &line)?;
        if m.index < SHOWN {
            let s = PosteriorSummary::new(samples, [shape.nz, shape.nx], None)?;
            let d = shape.len();
            let truth = &truths[m.index * d..(m.index + 1) * d];
            pictures.push([truth, &s.mean[..], &s.std[..]].concat());
        }
        Ok(())
    };
    let report = calibrate(
        truths,
        shape,
        operator.as_ref(),
        cfg.noise_std,
        cfg.start_smooth_sigma,
        meta.normalisation,
        seed,
        &mut sampler,
        &mut on_model,
    )?;
    let wall = t0.elapsed().as_secs_f64();
    let mut metrics = serde_json::to_value(&report).map_err(json_error)?;
    metrics["wall_time_s"] = serde_json::json!(wall);
    metrics["seed"] = serde_json::json!(seed);
    run.write_json("metrics.json", &metrics)?;
    draw(run, &pictures, shape, meta.normalisation)?;
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
