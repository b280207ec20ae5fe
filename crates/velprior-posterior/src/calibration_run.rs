//! The run folder of a calibration (`velprior posterior` with a `[calibration]` table):
//! metrics.json (the coverage report), metrics.jsonl (one line per model), pictures of the
//! first models (truth, posterior mean, std), the calibration curve and the error against the
//! std.

use std::cell::{Cell, RefCell};
use std::time::Instant;

use candle_core::Device;
use velprior_data::import::read_npy;
use velprior_data::render::charts::{Series, line_chart};
use velprior_data::render::{Colormap, RenderOptions, render_grid, save_png};
use velprior_data::{Normalisation, RunDir, write_npy};
use velprior_diffusion::prior::{AnyPrior, Prior};
use velprior_physics::{ModelShape, velocity_metrics};

use crate::calibration::{
    CalibrationConfig, CalibrationReport, FinishedModel, ModelCoverage, calibrate,
};
use crate::method::PriorModel;
use crate::summary::PosteriorSummary;
use crate::two_stage::first_stage_start;
use crate::{PosteriorError, Result};

/// Models drawn in the pictures.
const SHOWN: usize = 4;

/// Calibration of `cfg` on `truths` (m/s, models of `shape` concatenated) written into `run`:
/// metrics.json (the report; with a first stage, also its models' mean SSIM), metrics.jsonl
/// (one line per model, with the first stage's metrics and the model's seconds), each model's
/// posterior mean and std (summaries/), calibration.png, calibration_std.png,
/// calibration_curve.png and error_vs_std.png. Resumable: a rerun of the same config and seed
/// into the same folder samples only the models not finished yet. `progress` hears the number
/// of finished models, at the start and after each model.
pub fn calibrate_into(
    run: &RunDir,
    cfg: &CalibrationConfig,
    truths: &[f32],
    shape: ModelShape,
    seed: u64,
    device: &Device,
    progress: &dyn Fn(usize),
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
    let earlier = Earlier::open(run, cfg, seed, shape)?;
    let mut done = (0..truths.len() / shape.len())
        .filter(|&i| earlier.coverage.get(i).is_some_and(Option::is_some))
        .count();
    progress(done);
    // The first stage's model (m/s) of the model being sampled, for its metrics.
    let first_stage = RefCell::new(None::<Vec<f32>>);
    let model_start = Cell::new(Instant::now());
    let mut sampler = |p: &crate::Problem, start: &[f32], s: u64| {
        model_start.set(Instant::now());
        let start = match &cfg.start_method {
            Some(first) => {
                let x = first_stage_start(first, &prior_model, p, start, s << 16)?;
                first_stage.replace(Some(p.to_velocity(&x)));
                x
            }
            None => start.to_vec(),
        };
        // Chain j of model i is seeded item_seed((seed + i) << 16, j): no two chains share a
        // seed.
        let chains = 0..cfg.method.chains();
        let outputs =
            cfg.method
                .run_chains(&prior_model, p, &start, chains, s << 16, &mut |_, _| Ok(()))?;
        let samples: Vec<f32> = outputs.into_iter().flat_map(|out| out.samples).collect();
        Ok(samples)
    };
    let mut on_model = |m: &ModelCoverage, summary: &PosteriorSummary| {
        let mut line = serde_json::to_value(m).map_err(json_error)?;
        line["seconds"] = serde_json::json!(model_start.get().elapsed().as_secs_f64());
        let d = shape.len();
        if let Some(first) = first_stage.take() {
            let truth = &truths[m.index * d..(m.index + 1) * d];
            let metrics = velocity_metrics(&first, truth, shape)?;
            line["first_stage_metrics"] = serde_json::to_value(metrics).map_err(json_error)?;
        }
        // The summaries before the line: a line names a finished model.
        let dims = [shape.nz, shape.nx];
        write_npy(&summary_path(run, m.index, "mean"), &dims, &summary.mean)?;
        write_npy(&summary_path(run, m.index, "std"), &dims, &summary.std)?;
        run.append_jsonl("metrics.jsonl", &line)?;
        done += 1;
        progress(done);
        Ok(())
    };
    let finished = |i: usize| earlier.finished(run, i);
    let report = calibrate(
        truths,
        shape,
        operator.as_ref(),
        noise,
        cfg.start_smooth_sigma,
        meta.normalisation,
        seed,
        &mut sampler,
        &finished,
        &mut on_model,
    )?;
    let lines = read_lines(run)?;
    let mut metrics = serde_json::to_value(&report).map_err(json_error)?;
    let seconds = lines.iter().filter_map(|l| l["seconds"].as_f64());
    metrics["wall_time_s"] = serde_json::json!(seconds.sum::<f64>());
    let first_ssim: Vec<f64> = lines
        .iter()
        .filter_map(|l| l["first_stage_metrics"]["ssim"].as_f64())
        .collect();
    if !first_ssim.is_empty() {
        let n = first_ssim.len() as f64;
        metrics["first_stage_mean_ssim"] = serde_json::json!(first_ssim.iter().sum::<f64>() / n);
    }
    metrics["seed"] = serde_json::json!(seed);
    run.write_json("metrics.json", &metrics)?;
    let d = shape.len();
    let mut pictures = Vec::new();
    for i in 0..SHOWN.min(truths.len() / d) {
        let f = earlier_summary(run, i, d)?;
        pictures.push([&truths[i * d..(i + 1) * d], &f.0[..], &f.1[..]].concat());
    }
    draw(run, &pictures, shape, meta.normalisation)?;
    draw_calibration(run, &report)?;
    Ok(report)
}

/// What a run folder holds of an earlier run of the same calibration.
struct Earlier {
    /// Finished models' coverage, by index.
    coverage: Vec<Option<ModelCoverage>>,
    /// Values per model.
    d: usize,
}

impl Earlier {
    /// The finished models in `run` when its state (config and seed, state.json) is this one's;
    /// otherwise a fresh start (the folder's lines and summaries are removed).
    fn open(
        run: &RunDir,
        cfg: &CalibrationConfig,
        seed: u64,
        shape: ModelShape,
    ) -> Result<Earlier> {
        let state =
            serde_json::json!({ "config": cfg, "seed": seed, "shape": [shape.nz, shape.nx] });
        let same = std::fs::read_to_string(run.path("state.json"))
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .is_some_and(|v| v == state);
        if !same {
            let _ = std::fs::remove_file(run.path("metrics.jsonl"));
            let _ = std::fs::remove_dir_all(run.path("summaries"));
            run.write_json("state.json", &state)?;
        }
        std::fs::create_dir_all(run.path("summaries")).map_err(|e| {
            PosteriorError::invalid(format!("{}: {e}", run.path("summaries").display()))
        })?;
        let mut coverage = Vec::new();
        for line in read_lines(run)? {
            if let Ok(m) = serde_json::from_value::<ModelCoverage>(line) {
                if coverage.len() <= m.index {
                    coverage.resize(m.index + 1, None);
                }
                coverage[m.index] = Some(m);
            }
        }
        Ok(Earlier {
            coverage,
            d: shape.len(),
        })
    }

    /// Model `i` as the earlier run left it, when it finished it.
    fn finished(&self, run: &RunDir, i: usize) -> Option<FinishedModel> {
        let coverage = (*self.coverage.get(i)?)?;
        let (mean, std) = earlier_summary(run, i, self.d).ok()?;
        Some(FinishedModel {
            coverage,
            mean,
            std,
        })
    }
}

/// Model `i`'s stored posterior mean and std (m/s), `d` values each.
fn earlier_summary(run: &RunDir, i: usize, d: usize) -> Result<(Vec<f32>, Vec<f32>)> {
    let mean = read_npy(&summary_path(run, i, "mean"))?.values;
    let std = read_npy(&summary_path(run, i, "std"))?.values;
    if mean.len() != d || std.len() != d {
        return Err(PosteriorError::invalid(format!(
            "{}: model {i}'s summary does not have {d} values; delete the folder and rerun",
            run.root().display()
        )));
    }
    Ok((mean, std))
}

fn summary_path(run: &RunDir, i: usize, what: &str) -> std::path::PathBuf {
    run.path(&format!("summaries/{i:04}-{what}.npy"))
}

/// The lines of metrics.jsonl (none when it is not there; a torn last line is skipped).
fn read_lines(run: &RunDir) -> Result<Vec<serde_json::Value>> {
    let text = std::fs::read_to_string(run.path("metrics.jsonl")).unwrap_or_default();
    Ok(text
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect())
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
        ("nominal coverage of mean +- z std", "observed coverage"),
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
