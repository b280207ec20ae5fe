//! A posterior experiment as read from TOML (`velprior posterior --config …`): the prior, the
//! data and acquisition (the same keys as the FWI baseline's config), and one method.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use velprior_diffusion::Denoiser;
use velprior_kernels::Schedule;
use velprior_physics::fwi::{AcquisitionConfig, FwiFiles};
use velprior_physics::{Misfit, SolverConfig, Storage};

use crate::alternating::{AlternatingConfig, alternating};
use crate::dps::{DpsConfig, dps};
use crate::observer::PosteriorObserver;
use crate::problem::Problem;
use crate::red_diff::{RedDiffConfig, red_diff};
use crate::{PosteriorError, Result};

/// The method and its settings (`[method]`, `kind = "red-diff" | "dps" | "alternating"`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum MethodConfig {
    RedDiff(RedDiffConfig),
    Dps(DpsConfig),
    Alternating(AlternatingConfig),
}

impl MethodConfig {
    /// The method's name as written in configs.
    pub fn name(&self) -> &'static str {
        match self {
            MethodConfig::RedDiff(_) => "red-diff",
            MethodConfig::Dps(_) => "dps",
            MethodConfig::Alternating(_) => "alternating",
        }
    }

    /// Iterations the observer will see.
    pub fn iterations(&self) -> usize {
        match self {
            MethodConfig::RedDiff(c) => c.iterations,
            MethodConfig::Dps(c) => c.steps,
            MethodConfig::Alternating(c) => {
                ((c.t0 * c.steps as f64).ceil() as usize).clamp(1, c.steps)
            }
        }
    }

    /// Samples (independent chains) the method draws.
    pub fn samples(&self) -> usize {
        match self {
            MethodConfig::RedDiff(c) => c.samples,
            MethodConfig::Dps(c) => c.samples,
            MethodConfig::Alternating(c) => c.samples,
        }
    }

    /// The same method drawing `samples` samples.
    pub fn with_samples(&self, samples: usize) -> MethodConfig {
        let mut m = self.clone();
        match &mut m {
            MethodConfig::RedDiff(c) => c.samples = samples,
            MethodConfig::Dps(c) => c.samples = samples,
            MethodConfig::Alternating(c) => c.samples = samples,
        }
        m
    }

    /// Runs the method; `start` (normalised) is used by RED-diff and the alternating method.
    /// Returns the samples (normalised) concatenated.
    pub fn run(
        &self,
        model: &dyn Denoiser,
        problem: &Problem,
        schedule: &Schedule,
        start: &[f32],
        seed: u64,
        observer: &mut dyn PosteriorObserver,
    ) -> Result<Vec<f32>> {
        match self {
            MethodConfig::RedDiff(c) => {
                red_diff(model, problem, schedule, start, c, seed, observer)
            }
            MethodConfig::Dps(c) => dps(model, problem, schedule, c, seed, observer),
            MethodConfig::Alternating(c) => {
                alternating(model, problem, schedule, start, c, seed, observer)
            }
        }
    }
}

/// A complete posterior experiment; unknown keys are rejected.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PosteriorConfig {
    /// Diffusion prior checkpoint (`*.safetensors` with its metadata sidecar).
    pub prior: PathBuf,
    /// Observed data, true model, start model (as in the FWI configs).
    pub files: FwiFiles,
    pub solver: SolverConfig,
    pub acquisition: AcquisitionConfig,
    #[serde(default)]
    pub misfit: Misfit,
    /// σ (cells) of the Gaussian smoothing of the truth used as start (FWI baselines' start).
    #[serde(default)]
    pub smooth_sigma: f32,
    /// Divisor of the misfit in −log p(d | m); the number of data values (the FWI baseline's
    /// mean misfit) when omitted.
    #[serde(default)]
    pub likelihood_scale: Option<f64>,
    /// Stride (cells, z and x) of the overlapping prior windows on models larger than the prior.
    #[serde(default = "default_stride")]
    pub patch_stride: [usize; 2],
    #[serde(default)]
    pub storage: Storage,
    pub method: MethodConfig,
}

fn default_stride() -> [usize; 2] {
    [35, 35]
}

impl PosteriorConfig {
    /// Parses TOML; errors name the key and are one line.
    pub fn from_toml_str(text: &str) -> Result<Self> {
        toml::from_str(text).map_err(|e| PosteriorError::invalid(e.message().trim().to_string()))
    }
}
