//! Calibration of a posterior sampler: on held-out models of the prior's own family, observed
//! through a cheap linear operator (well logs or a blur) with Gaussian noise, the fraction of
//! true pixels inside the samples' ±1σ and ±2σ bands. A calibrated sampler holds about 68 % and
//! 95 %; an over-confident one fewer.

use std::path::PathBuf;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};
use velprior_data::Normalisation;
use velprior_physics::fwi::smooth::gaussian_smooth;
use velprior_physics::linear_ops::{GaussianBlur, Mask};
use velprior_physics::{ForwardOperator, Misfit, ModelShape};

use crate::method::MethodConfig;
use crate::problem::Problem;
use crate::summary::{PosteriorSummary, TruthScores};
use crate::{PosteriorError, Result};

/// A calibration experiment as read from the `[calibration]` table of a posterior config.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalibrationConfig {
    /// Diffusion prior checkpoint (safetensors).
    pub prior: PathBuf,
    /// HDF5 corpus of held-out models (m/s) of the prior's family and window shape.
    pub models: PathBuf,
    /// How many of its models are used (the first `count`).
    pub count: usize,
    /// The linear operator that observes each model.
    pub operator: LinearOperatorConfig,
    /// Std of the Gaussian noise added to the data (m/s); also the likelihood's σ.
    pub noise_std: f64,
    /// Methods that start from a model (RED-diff, MCMC) start from the truth smoothed by a
    /// Gaussian of this many cells.
    #[serde(default = "default_start_smooth_sigma")]
    pub start_smooth_sigma: f32,
    /// The posterior method (`[calibration.method]`, as a posterior config's `[method]`); its
    /// chains or samples are the posterior samples of each model.
    pub method: MethodConfig,
}

fn default_start_smooth_sigma() -> f32 {
    10.0
}

/// A cheap linear operator on a velocity model (m/s → m/s data).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum LinearOperatorConfig {
    /// Every `every`-th column observed at all depths (well logs), starting at column
    /// `every / 2`.
    Wells { every: usize },
    /// Separable Gaussian blur of `sigma` cells (data have the model's shape).
    Blur { sigma: f32 },
}

impl LinearOperatorConfig {
    /// The operator on models of `shape`, with the L2 misfit f = ½‖F(m) − d‖².
    pub fn build(&self, shape: ModelShape) -> Result<Box<dyn ForwardOperator>> {
        match *self {
            LinearOperatorConfig::Wells { every } => {
                if every == 0 {
                    return Err(PosteriorError::invalid(
                        "calibration.operator.every = 0: must be >= 1 (1 observes every column)",
                    ));
                }
                let mask: Vec<bool> = (0..shape.len())
                    .map(|i| (i % shape.nx) % every == every / 2)
                    .collect();
                Ok(Box::new(Mask::new(shape, &mask, Misfit::L2)?))
            }
            LinearOperatorConfig::Blur { sigma } => {
                Ok(Box::new(GaussianBlur::new(shape, sigma, Misfit::L2)?))
            }
        }
    }
}

/// Coverage of one held-out model.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct ModelCoverage {
    /// Index of the model in the corpus.
    pub index: usize,
    /// Coverage, mean std and image metrics of the posterior mean.
    pub scores: TruthScores,
}

/// The pooled result over all models.
#[derive(Debug, Clone, Serialize)]
pub struct CalibrationReport {
    /// Fraction of all true pixels (all models) within ±1σ of their posterior samples.
    pub within_1sigma: f64,
    /// Fraction within ±2σ.
    pub within_2sigma: f64,
    /// Mean posterior std (m/s) over all pixels.
    pub mean_std: f64,
    /// Root-mean-square error of the posterior means against the truths (m/s).
    pub rmse_mps: f64,
    /// Per model.
    pub models: Vec<ModelCoverage>,
}

/// Draws posterior samples (normalised units, concatenated) for one problem from a start
/// model (normalised) with a seed.
pub type Sampler<'s> = dyn FnMut(&Problem, &[f32], u64) -> Result<Vec<f32>> + 's;

/// For each truth (m/s, `truths` = N models of `shape` concatenated): data = F(truth) + σ·ε
/// (ε ~ N(0, I), seeded seed + i), the posterior samples of `sample` from the truth smoothed
/// by `start_smooth_sigma` cells, and their coverage of the truth. `on_model` sees each
/// model's coverage and samples (m/s) as they are done.
#[allow(clippy::too_many_arguments)]
pub fn calibrate(
    truths: &[f32],
    shape: ModelShape,
    operator: &dyn ForwardOperator,
    noise_std: f64,
    start_smooth_sigma: f32,
    normalisation: Normalisation,
    seed: u64,
    sample: &mut Sampler<'_>,
    on_model: &mut dyn FnMut(&ModelCoverage, &[f32]) -> Result<()>,
) -> Result<CalibrationReport> {
    let d = shape.len();
    if d == 0 || truths.is_empty() || !truths.len().is_multiple_of(d) {
        return Err(PosteriorError::invalid(format!(
            "calibration: {} values are not whole models of {}x{}",
            truths.len(),
            shape.nz,
            shape.nx
        )));
    }
    if !(noise_std > 0.0 && noise_std.is_finite()) {
        return Err(PosteriorError::invalid(format!(
            "calibration.noise_std = {noise_std}: must be finite and > 0 (m/s)"
        )));
    }
    let (mut c1, mut c2, mut std_sum, mut sq_sum) = (0.0, 0.0, 0.0, 0.0);
    let mut models = Vec::new();
    for (i, truth) in truths.chunks(d).enumerate() {
        let item = seed.wrapping_add(i as u64);
        let mut rng = ChaCha8Rng::seed_from_u64(item);
        let observed: Vec<f32> = operator
            .forward(truth)?
            .into_iter()
            .map(|v| {
                let e: f64 = StandardNormal.sample(&mut rng);
                (f64::from(v) + noise_std * e) as f32
            })
            .collect();
        let problem = Problem::new(operator, &observed, normalisation, noise_std * noise_std)?;
        let start = problem.to_unit(&gaussian_smooth(truth, shape, start_smooth_sigma));
        let samples = problem.to_velocity(&sample(&problem, &start, item)?);
        let summary = PosteriorSummary::new(&samples, [shape.nz, shape.nx], Some(truth))?;
        let scores = summary
            .truth
            .as_ref()
            .map(|t| t.scores)
            .ok_or_else(|| PosteriorError::invalid("calibration: no truth statistics"))?;
        c1 += scores.within_1sigma;
        c2 += scores.within_2sigma;
        std_sum += scores.mean_std;
        sq_sum += summary
            .mean
            .iter()
            .zip(truth)
            .map(|(m, t)| f64::from(m - t).powi(2))
            .sum::<f64>()
            / d as f64;
        let coverage = ModelCoverage { index: i, scores };
        on_model(&coverage, &samples)?;
        models.push(coverage);
    }
    let n = models.len() as f64;
    Ok(CalibrationReport {
        within_1sigma: c1 / n,
        within_2sigma: c2 / n,
        mean_std: std_sum / n,
        rmse_mps: (sq_sum / n).sqrt(),
        models,
    })
}
