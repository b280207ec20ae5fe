//! One inversion of the benchmark: a method on one model's observed data, from the smoothed
//! truth, scored against the truth.

use std::time::Instant;

use candle_core::Device;
use serde::{Deserialize, Serialize};

use velprior_diffusion::prior::{AnyPrior, Prior};
use velprior_physics::fwi::FwiFiles;
use velprior_physics::{
    AcousticOperator, ForwardOperator, FwiConfig, ModelShape, run_fwi, velocity_metrics,
};

use super::config::{BenchmarkConfig, BenchmarkMethod, FwiSettings, MethodKind};
use crate::method::PriorModel;
use crate::patches::PatchDenoiser;
use crate::summary::PosteriorSummary;
use crate::two_stage::first_stage_start;
use crate::{PosteriorError, Problem, Result};

/// What one inversion gave: the result (posterior mean for samplers, m/s) and its scores.
pub struct Inversion {
    pub model: Vec<f32>,
    pub scores: Scores,
}

/// The scores of one inversion against its truth.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Scores {
    /// SSIM, MAE, RMSE against the truth as RED-DiffEq computes them.
    pub ssim: f64,
    pub mae: f64,
    pub rmse: f64,
    /// ‖F(result) − d‖ / ‖d‖ against the observed (degraded) data.
    pub relative_residual: f64,
    /// Samplers with more than one sample: the truth's coverage by ±2σ, the mean std and the
    /// CRPS (m/s).
    pub within_2sigma: Option<f64>,
    pub mean_std: Option<f64>,
    pub crps: Option<f64>,
    pub wall_s: f64,
    /// CPU time of the process (all threads) during the inversion.
    pub cpu_s: f64,
}

/// User + system CPU seconds of this process so far (all threads).
fn cpu_seconds() -> f64 {
    // SAFETY: getrusage fills the zeroed struct it is given; RUSAGE_SELF is always valid.
    let usage = unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut u);
        u
    };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

/// The divisor of `method`'s misfit for `observed`: (σ · RMS)² from `noise_relative`, else
/// `likelihood_scale`, else the number of data (the mean misfit).
pub fn likelihood_scale(method: &BenchmarkMethod, observed: &[f32]) -> f64 {
    match (method.noise_relative, method.likelihood_scale) {
        (Some(sigma), _) => (sigma * velprior_physics::metrics::rms(observed)).powi(2),
        (None, Some(scale)) => scale,
        (None, None) => observed.len() as f64,
    }
}

/// A method ready to run: plain FWI, or a posterior method with its loaded prior.
pub enum Inverter<'a> {
    Fwi(&'a FwiSettings),
    Posterior {
        method: &'a BenchmarkMethod,
        config: &'a crate::method::MethodConfig,
        prior: AnyPrior,
    },
}

impl<'a> Inverter<'a> {
    /// Loads what `method` needs (its prior's network onto `device`).
    pub fn load(method: &'a BenchmarkMethod, device: &Device) -> Result<Inverter<'a>> {
        Ok(match method.kind()? {
            MethodKind::Fwi(settings) => Inverter::Fwi(settings),
            MethodKind::Posterior { prior, method: m } => {
                let loaded = AnyPrior::load(prior, device).map_err(|e| {
                    PosteriorError::invalid(format!(
                        "method {}: prior {}: {e}",
                        method.name,
                        prior.display()
                    ))
                })?;
                Inverter::Posterior {
                    method,
                    config: m,
                    prior: loaded,
                }
            }
        })
    }

    /// Inverts `observed` (of the model `truth`, m/s) from `start` (m/s); `seed` seeds the
    /// method's chains.
    pub fn invert(
        &self,
        cfg: &BenchmarkConfig,
        shape: ModelShape,
        truth: &[f32],
        start: &[f32],
        observed: &[f32],
        seed: u64,
    ) -> Result<Inversion> {
        let (t0, cpu0) = (Instant::now(), cpu_seconds());
        let misfit = match self {
            Inverter::Posterior { method, .. } => method.misfit.unwrap_or(cfg.misfit),
            Inverter::Fwi(_) => cfg.misfit,
        };
        let operator = AcousticOperator::from_survey(
            shape,
            &cfg.solver,
            &cfg.acquisition,
            misfit,
            cfg.storage,
        );
        let (model, spread) = match self {
            Inverter::Fwi(settings) => {
                let fwi = FwiConfig {
                    files: FwiFiles {
                        observed: String::new(),
                        true_model: None,
                        initial_model: None,
                    },
                    solver: cfg.solver.clone(),
                    acquisition: cfg.acquisition.clone(),
                    optimizer: settings.optimizer.clone(),
                    iterations: settings.iterations,
                    misfit: cfg.misfit,
                    regularisation: settings.regularisation,
                    smooth_sigma: cfg.smooth_sigma,
                    vmin: cfg.vmin,
                    vmax: cfg.vmax,
                    multiscale: settings.multiscale.clone(),
                    storage: cfg.storage,
                };
                let r = run_fwi(&fwi, shape, observed, None, Some(start), &mut |_, _| {})?;
                (r.model, None)
            }
            Inverter::Posterior {
                method,
                config,
                prior,
            } => {
                let windows =
                    PatchDenoiser::for_model(prior, [shape.nz, shape.nx], method.patch_stride)
                        .map_err(|e| {
                            PosteriorError::invalid(format!("method {}: {e}", method.name))
                        })?;
                let prior_model = PriorModel::of(prior, windows.as_ref());
                for m in std::iter::once(*config).chain(&method.start_method) {
                    m.check_prior(&prior_model)?;
                }
                let scale = likelihood_scale(method, observed);
                let problem = Problem::new(&operator, observed, prior.meta().normalisation, scale)?;
                let mut start_unit = problem.to_unit(start);
                if let Some(first) = &method.start_method {
                    start_unit =
                        first_stage_start(first, &prior_model, &problem, &start_unit, seed)?;
                }
                let outputs = config.run_chains(
                    &prior_model,
                    &problem,
                    &start_unit,
                    0..config.chains(),
                    seed,
                    &mut |_, _| Ok(()),
                )?;
                let samples: Vec<f32> = outputs.into_iter().flat_map(|o| o.samples).collect();
                let samples = problem.to_velocity(&samples);
                let summary = PosteriorSummary::new(&samples, [shape.nz, shape.nx], Some(truth))?;
                let spread = (samples.len() > shape.len())
                    .then(|| summary.truth.as_ref().map(|t| t.scores))
                    .flatten();
                (summary.mean, spread)
            }
        };
        let wall_s = t0.elapsed().as_secs_f64();
        let metrics = velocity_metrics(&model, truth, shape)?;
        let predicted = operator.forward(&model)?;
        let norm = |v: &mut dyn Iterator<Item = f64>| v.map(|x| x * x).sum::<f64>().sqrt();
        let relative_residual = norm(
            &mut predicted
                .iter()
                .zip(observed)
                .map(|(p, o)| f64::from(p - o)),
        ) / norm(&mut observed.iter().map(|&o| f64::from(o)))
            .max(f64::MIN_POSITIVE);
        Ok(Inversion {
            model,
            scores: Scores {
                ssim: metrics.ssim,
                mae: metrics.mae,
                rmse: metrics.rmse,
                relative_residual,
                within_2sigma: spread.map(|s| s.within_2sigma),
                mean_std: spread.map(|s| s.mean_std),
                crps: spread.map(|s| s.crps),
                wall_s,
                cpu_s: cpu_seconds() - cpu0,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Catches σ applied to the RMS rather than squared with it, or the mean square taken over
    /// the wrong count: data (3, 4) have mean square 12.5, so σ = 0.1 gives 0.125.
    #[test]
    fn noise_relative_scale_is_sigma_rms_squared() {
        let method: BenchmarkMethod = toml::from_str("name = \"m\"\nnoise_relative = 0.1").unwrap();
        assert!((likelihood_scale(&method, &[3.0, 4.0]) - 0.125).abs() < 1e-12);
        let method: BenchmarkMethod =
            toml::from_str("name = \"m\"\nlikelihood_scale = 7.0").unwrap();
        assert_eq!(likelihood_scale(&method, &[3.0, 4.0]), 7.0);
        let method: BenchmarkMethod = toml::from_str("name = \"m\"").unwrap();
        assert_eq!(likelihood_scale(&method, &[3.0, 4.0]), 2.0);
    }
}
