//! Errors of the posterior samplers, the benchmark and calibration.

use thiserror::Error;

/// What can go wrong in posterior sampling, the benchmark and calibration.
#[derive(Debug, Error)]
pub enum PosteriorError {
    /// Bad user input: a shape, a parameter or a config value; the message names it and the fix.
    #[error("{0}")]
    Invalid(String),
    /// An error from the tensor library.
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
    /// An error from a noise schedule or fused diffusion op.
    #[error(transparent)]
    Kernels(#[from] velprior_kernels::Error),
    /// An error from a network (autoencoder, UNet).
    #[error(transparent)]
    Nn(#[from] velprior_nn::NnError),
    /// A prior density could not be evaluated.
    #[error(transparent)]
    Density(#[from] velprior_density::DensityError),
    /// An error from a diffusion prior.
    #[error(transparent)]
    Diffusion(#[from] velprior_diffusion::DiffusionError),
    /// An error from a forward operator.
    #[error(transparent)]
    Physics(#[from] velprior_physics::PhysicsError),
    /// An error reading or writing a corpus or a run folder.
    #[error(transparent)]
    Data(#[from] velprior_data::DataError),
}

impl PosteriorError {
    /// A bad-input error with a message naming what is wrong and how to fix it.
    pub fn invalid(msg: impl Into<String>) -> Self {
        PosteriorError::Invalid(msg.into())
    }
}

/// Result with [`PosteriorError`].
pub type Result<T> = std::result::Result<T, PosteriorError>;
