//! Calibration of a posterior sampler: on held-out models of the prior's own family, observed
//! with Gaussian noise through a cheap linear operator (well logs or a blur) or the acoustic wave
//! equation (surface shots), the fraction of true pixels inside the samples' ±1σ and ±2σ bands
//! and at every level of a calibration curve ([`crate::coverage`]), the CRPS and the SSIM of the
//! posterior mean. A calibrated sampler holds about 68 % and 95 %; an over-confident one fewer.

use std::path::PathBuf;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};
use velprior_data::Normalisation;
use velprior_physics::fwi::AcquisitionConfig;
use velprior_physics::fwi::smooth::gaussian_smooth;
use velprior_physics::linear_ops::{GaussianBlur, Mask};
use velprior_physics::{
    AcousticOperator, ForwardOperator, Misfit, ModelShape, SolverConfig, Storage,
};

use crate::coverage::{CurvePoint, DepthBand, PooledCoverage, StdBin};
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
    /// The operator that observes each model.
    pub operator: ObservationConfig,
    /// Std of the Gaussian noise added to the data, in data units (m/s for wells and blur);
    /// also the likelihood's σ. Give this or `noise_relative`.
    #[serde(default)]
    pub noise_std: Option<f64>,
    /// Std of the noise as a fraction of each model's data RMS (seismic data: 0.05 is 5 %).
    #[serde(default)]
    pub noise_relative: Option<f64>,
    /// Methods that start from a model (RED-diff, MCMC) start from the truth smoothed by a
    /// Gaussian of this many cells.
    #[serde(default = "default_start_smooth_sigma")]
    pub start_smooth_sigma: f32,
    /// The posterior method (`[calibration.method]`, as a posterior config's `[method]`); its
    /// chains or samples are the posterior samples of each model.
    pub method: MethodConfig,
    /// A first stage (`[calibration.start_method]`, e.g. RED-diff) whose mean replaces the
    /// smoothed truth as the method's start ([`crate::two_stage`]).
    #[serde(default)]
    pub start_method: Option<MethodConfig>,
}

fn default_start_smooth_sigma() -> f32 {
    10.0
}

impl CalibrationConfig {
    /// The noise level: exactly one of `noise_std` and `noise_relative`, finite and > 0.
    pub fn noise(&self) -> Result<NoiseLevel> {
        let level = match (self.noise_std, self.noise_relative) {
            (Some(s), None) => NoiseLevel::Absolute(s),
            (None, Some(r)) => NoiseLevel::Relative(r),
            _ => {
                return Err(PosteriorError::invalid(
                    "calibration: give one of noise_std (data units) and noise_relative \
                     (fraction of the data RMS)",
                ));
            }
        };
        let v = level.value();
        if !(v > 0.0 && v.is_finite()) {
            return Err(PosteriorError::invalid(format!(
                "calibration: noise level {v}: must be finite and > 0"
            )));
        }
        Ok(level)
    }
}

/// Std of the Gaussian noise on the data.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum NoiseLevel {
    /// In data units.
    Absolute(f64),
    /// As a fraction of the noise-free data's RMS, per model.
    Relative(f64),
}

impl NoiseLevel {
    fn value(self) -> f64 {
        match self {
            NoiseLevel::Absolute(v) | NoiseLevel::Relative(v) => v,
        }
    }

    /// The std for noise-free data `clean`.
    fn std_for(self, clean: &[f32]) -> f64 {
        match self {
            NoiseLevel::Absolute(s) => s,
            NoiseLevel::Relative(r) => r * velprior_physics::metrics::rms(clean),
        }
    }
}

/// How each held-out model is observed.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum ObservationConfig {
    /// Every `every`-th column observed at all depths (well logs, m/s), starting at column
    /// `every / 2`.
    Wells { every: usize },
    /// Separable Gaussian blur of `sigma` cells (data have the model's shape, m/s).
    Blur { sigma: f32 },
    /// Surface shots through the acoustic wave equation (the keys of a posterior config's
    /// `[solver]` and `[acquisition]`).
    Seismic(SeismicObservation),
}

/// The acoustic survey of [`ObservationConfig::Seismic`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeismicObservation {
    pub solver: SolverConfig,
    pub acquisition: AcquisitionConfig,
}

impl ObservationConfig {
    /// The operator on models of `shape`, with the L2 misfit f = ½‖F(m) − d‖².
    pub fn build(&self, shape: ModelShape) -> Result<Box<dyn ForwardOperator>> {
        match self {
            ObservationConfig::Seismic(s) => Ok(Box::new(AcousticOperator::from_survey(
                shape,
                &s.solver,
                &s.acquisition,
                Misfit::L2,
                Storage::default(),
            ))),
            &ObservationConfig::Wells { every } => {
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
            &ObservationConfig::Blur { sigma } => {
                Ok(Box::new(GaussianBlur::new(shape, sigma, Misfit::L2)?))
            }
        }
    }
}

/// Coverage of one held-out model.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct ModelCoverage {
    /// Index of the model in the corpus.
    pub index: usize,
    /// Coverage, mean std and image metrics of the posterior mean.
    pub scores: TruthScores,
}

/// Bands of depth in [`CalibrationReport::by_depth`].
const DEPTH_BANDS: usize = 5;

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
    /// Mean over models of the CRPS (m/s, mean over pixels).
    pub crps: f64,
    /// Mean over models of the posterior mean's SSIM.
    pub mean_ssim: f64,
    /// Observed against nominal coverage of the Gaussian bands, all pixels pooled.
    pub calibration_curve: Vec<CurvePoint>,
    /// RMS error of the posterior mean in ten bins of the posterior std, all pixels pooled.
    pub error_vs_std: Vec<StdBin>,
    /// Coverage, std and error in five bands of depth, all models pooled.
    pub by_depth: Vec<DepthBand>,
    /// Per model.
    pub models: Vec<ModelCoverage>,
}

/// Draws posterior samples (normalised units, concatenated) for one problem from a start
/// model (normalised) with a seed.
pub type Sampler<'s> = dyn FnMut(&Problem, &[f32], u64) -> Result<Vec<f32>> + 's;

/// A model an earlier, interrupted run finished: its coverage and posterior mean and std (m/s).
#[derive(Debug, Clone)]
pub struct FinishedModel {
    pub coverage: ModelCoverage,
    pub mean: Vec<f32>,
    pub std: Vec<f32>,
}

/// For each truth (m/s, `truths` = N models of `shape` concatenated): data = F(truth) + σ·ε
/// (ε ~ N(0, I), seeded seed + i; σ from `noise`, also the likelihood's), the posterior samples of `sample` from the truth smoothed
/// by `start_smooth_sigma` cells, and their coverage of the truth. `on_model` sees each
/// model's coverage and posterior summary (m/s) as they are done; models for which `finished`
/// returns an earlier run's result are not sampled again (each model's noise has its own seed,
/// so a resumed run gives the report of an uninterrupted one).
#[allow(clippy::too_many_arguments)]
pub fn calibrate(
    truths: &[f32],
    shape: ModelShape,
    operator: &dyn ForwardOperator,
    noise: NoiseLevel,
    start_smooth_sigma: f32,
    normalisation: Normalisation,
    seed: u64,
    sample: &mut Sampler<'_>,
    finished: &dyn Fn(usize) -> Option<FinishedModel>,
    on_model: &mut dyn FnMut(&ModelCoverage, &PosteriorSummary) -> Result<()>,
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
    if !(noise.value() > 0.0 && noise.value().is_finite()) {
        return Err(PosteriorError::invalid(format!(
            "calibration: noise level {}: must be finite and > 0",
            noise.value()
        )));
    }
    let (mut c1, mut c2, mut std_sum, mut sq_sum) = (0.0, 0.0, 0.0, 0.0);
    let (mut crps_sum, mut ssim_sum) = (0.0, 0.0);
    let mut pooled = PooledCoverage::default();
    let mut models = Vec::new();
    for (i, truth) in truths.chunks(d).enumerate() {
        let (coverage, mean, std) = match finished(i) {
            Some(f) if f.mean.len() == d && f.std.len() == d => (f.coverage, f.mean, f.std),
            _ => {
                let item = seed.wrapping_add(i as u64);
                let mut rng = ChaCha8Rng::seed_from_u64(item);
                let clean = operator.forward(truth)?;
                let noise_std = noise.std_for(&clean);
                let observed: Vec<f32> = clean
                    .into_iter()
                    .map(|v| {
                        let e: f64 = StandardNormal.sample(&mut rng);
                        (f64::from(v) + noise_std * e) as f32
                    })
                    .collect();
                let problem =
                    Problem::new(operator, &observed, normalisation, noise_std * noise_std)?;
                let start = problem.to_unit(&gaussian_smooth(truth, shape, start_smooth_sigma));
                let samples = problem.to_velocity(&sample(&problem, &start, item)?);
                let summary = PosteriorSummary::new(&samples, [shape.nz, shape.nx], Some(truth))?;
                let scores =
                    summary.truth.as_ref().map(|t| t.scores).ok_or_else(|| {
                        PosteriorError::invalid("calibration: no truth statistics")
                    })?;
                let coverage = ModelCoverage { index: i, scores };
                on_model(&coverage, &summary)?;
                (coverage, summary.mean, summary.std)
            }
        };
        let scores = coverage.scores;
        c1 += scores.within_1sigma;
        c2 += scores.within_2sigma;
        std_sum += scores.mean_std;
        crps_sum += scores.crps;
        ssim_sum += scores.mean_metrics.ssim;
        pooled.add(&mean, &std, truth, shape.nz);
        sq_sum += mean
            .iter()
            .zip(truth)
            .map(|(m, t)| f64::from(m - t).powi(2))
            .sum::<f64>()
            / d as f64;
        models.push(coverage);
    }
    let n = models.len() as f64;
    Ok(CalibrationReport {
        within_1sigma: c1 / n,
        within_2sigma: c2 / n,
        mean_std: std_sum / n,
        rmse_mps: (sq_sum / n).sqrt(),
        crps: crps_sum / n,
        mean_ssim: ssim_sum / n,
        calibration_curve: pooled.curve(),
        error_vs_std: pooled.error_vs_std(10),
        by_depth: pooled.by_depth(DEPTH_BANDS),
        models,
    })
}
