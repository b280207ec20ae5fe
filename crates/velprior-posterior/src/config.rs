//! A posterior experiment as read from TOML (`velprior posterior --config …`): the prior, the
//! data and acquisition (the same keys as the FWI baseline's config), and one method.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use velprior_physics::fwi::{AcquisitionConfig, FwiFiles};
use velprior_physics::{Misfit, SolverConfig, Storage};

use crate::Result;
pub use crate::method::MethodConfig;

/// A complete posterior experiment; unknown keys are rejected.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PosteriorConfig {
    /// Prior checkpoint (`*.safetensors`): diffusion for red-diff, dps, alternating and
    /// boomerang; Gaussian for mala, ula and model-space metropolis; autoencoder for
    /// latent-space metropolis.
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
    /// A first stage (`[start_method]`, e.g. RED-diff) whose mean is the method's start in place
    /// of the start model ([`crate::two_stage`]).
    #[serde(default)]
    pub start_method: Option<MethodConfig>,
}

fn default_stride() -> [usize; 2] {
    [35, 35]
}

impl PosteriorConfig {
    /// Parses TOML read from `origin`; errors name the file, the line and the key, in one line.
    pub fn from_toml(text: &str, origin: &std::path::Path) -> Result<Self> {
        Ok(velprior_data::toml_file::parse_toml(text, origin)?)
    }
}
