//! The run folder of a posterior experiment: the samples (HDF5), pictures of the start, the
//! posterior mean, the std and a few samples (and, with a true model, the truth, |error| and
//! z-scores), and `metrics.json` (the posterior's scores against the truth, the data misfit of
//! the mean, acceptance rates, wall time).

use std::path::PathBuf;

use velprior_data::render::{Colormap, RenderOptions, render_grid, render_model, save_png};
use velprior_data::{Corpus, CorpusMeta, RunDir, write_corpus, write_npy};
use velprior_physics::velocity_metrics;

use crate::experiment::{Chains, Experiment};
use crate::summary::PosteriorSummary;
use crate::{PosteriorError, Result};

/// Samples drawn in `samples.png`.
const SHOWN: usize = 8;

/// Spacing and provenance of the samples of `experiment` drawn from `seed`.
pub fn samples_meta(experiment: &Experiment, seed: u64) -> CorpusMeta {
    let dx = f64::from(experiment.config.solver.dx);
    CorpusMeta {
        dx,
        dz: dx,
        source: format!(
            "velprior posterior ({}, seed {seed})",
            experiment.config.method.name()
        ),
    }
}

/// Writes the samples, pictures and metrics of `chains` (all chains of a run drawn from
/// `seed`) into `run`, and the first stage's model (first_stage.npy) when there is one; returns
/// the path of `metrics.json`.
pub fn write_report(
    run: &RunDir,
    experiment: &Experiment,
    seed: u64,
    chains: &Chains,
) -> Result<PathBuf> {
    let shape = experiment.shape();
    let (nz, nx) = (shape.nz, shape.nx);
    let samples = &chains.samples;
    let n = samples.len() / shape.len();
    let truth = experiment.inputs.truth.as_deref();
    let problem = experiment.problem()?;
    let norm = problem.normalisation;
    write_corpus(
        &run.path("samples.h5"),
        &Corpus::new(samples.clone(), [n, nz, nx], samples_meta(experiment, seed))?,
    )?;
    let summary = PosteriorSummary::new(samples, [nz, nx], truth)?;
    // Velocity pictures (m/s); the z-score is in units of the posterior std.
    let draw = |name: &str, v: &[f32], range: (f32, f32), cmap, units: &str, title: &str| {
        let opts = RenderOptions {
            range: Some(range),
            colormap: cmap,
            title: Some(title.into()),
            units: units.into(),
            ..Default::default()
        };
        save_png(&run.path(name), &render_model(v, [nz, nx], &opts)?)
    };
    let vr = (norm.vmin, norm.vmax);
    draw(
        "start.png",
        &experiment.start,
        vr,
        Colormap::Viridis,
        "m/s",
        "start (m/s)",
    )?;
    draw(
        "mean.png",
        &summary.mean,
        vr,
        Colormap::Viridis,
        "m/s",
        "posterior mean (m/s)",
    )?;
    let shown = n.min(SHOWN);
    let opts = RenderOptions {
        range: Some(vr),
        title: Some(format!("{shown} of {n} samples (m/s)")),
        ..Default::default()
    };
    let grid = render_grid(
        &samples[..shown * shape.len()],
        [shown, nz, nx],
        2,
        &opts,
        None,
    )?;
    save_png(&run.path("samples.png"), &grid)?;
    let abs_error = summary.truth.as_ref().map_or(&[][..], |t| &t.abs_error[..]);
    let std_range = (0.0, std_scale(&summary.std, abs_error));
    draw(
        "std.png",
        &summary.std,
        std_range,
        Colormap::Magma,
        "m/s",
        "posterior std (m/s)",
    )?;
    let start_metrics = truth
        .map(|t| velocity_metrics(&experiment.start, t, shape))
        .transpose()?;
    let mut metrics = serde_json::json!({
        "method": experiment.config.method.name(), "seed": seed, "samples": n,
        "wall_time_s": chains.wall_time_s, "start_metrics": start_metrics,
    });
    if let Some(first) = &chains.first_stage {
        write_npy(&run.path("first_stage.npy"), &[nz, nx], first)?;
    }
    if let (Some(first), Some(t)) = (&chains.first_stage, truth) {
        metrics["first_stage_metrics"] =
            serde_json::to_value(velocity_metrics(first, t, shape)?)
                .map_err(|e| PosteriorError::invalid(format!("metrics: {e}")))?;
    }
    let acceptance = &chains.acceptance;
    if !acceptance.is_empty() {
        metrics["acceptance_rate"] =
            serde_json::json!(acceptance.iter().sum::<f64>() / acceptance.len() as f64);
        metrics["acceptance_rates"] = serde_json::json!(acceptance);
    }
    let (f, _) = problem.misfit(&problem.to_unit(&summary.mean))?;
    metrics["mean_data_misfit"] = serde_json::json!(f);
    if let (Some(t), Some(truth)) = (&summary.truth, truth) {
        draw(
            "truth.png",
            truth,
            vr,
            Colormap::Viridis,
            "m/s",
            "truth (m/s)",
        )?;
        draw(
            "abs_error.png",
            &t.abs_error,
            std_range,
            Colormap::Magma,
            "m/s",
            "|mean - truth| (m/s)",
        )?;
        draw(
            "zscore.png",
            &t.z_score,
            (-3.0, 3.0),
            Colormap::Rdbu,
            "std",
            "(truth - mean) / std",
        )?;
        metrics["truth"] = serde_json::to_value(t.scores)
            .map_err(|e| PosteriorError::invalid(format!("metrics.json: {e}")))?;
    }
    Ok(run.write_json("metrics.json", &metrics)?)
}

/// The top of the colour scale shared by the std and |mean − truth| maps (m/s): the 99th
/// percentile of both together (at least 1), so that a few cells the mean misses by far do not
/// darken the rest; the cells above it show saturated.
fn std_scale(std: &[f32], abs_error: &[f32]) -> f32 {
    let mut all: Vec<f32> = std.iter().chain(abs_error).copied().collect();
    if all.is_empty() {
        return 1.0;
    }
    let k = (all.len() - 1) * 99 / 100;
    let (_, q, _) = all.select_nth_unstable_by(k, f32::total_cmp);
    q.max(1.0)
}

#[cfg(test)]
mod tests {
    use super::std_scale;

    /// Catches a scale set by the largest value (one wild cell, 10⁴ m/s, made the maps of a
    /// Marmousi run dark below a tenth of their range) and one that reads only the std.
    #[test]
    fn the_std_maps_scale_ignores_a_few_wild_cells() {
        let std: Vec<f32> = (0..100).map(|i| i as f32).collect();
        let mut abs_error: Vec<f32> = (0..100).map(|i| 2.0 * i as f32).collect();
        abs_error[50] = 1e4;
        let scale = std_scale(&std, &abs_error);
        // The 99th percentile of the 200 values: sorted index 197 holds 196.
        assert!((190.0..=198.0).contains(&scale), "scale {scale}");
        assert_eq!(std_scale(&[0.0; 4], &[]), 1.0);
    }
}
