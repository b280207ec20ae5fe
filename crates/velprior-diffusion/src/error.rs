//! Errors of the diffusion crate.

/// Result alias for the diffusion crate.
pub type Result<T> = std::result::Result<T, DiffusionError>;

/// What can go wrong training, sampling or loading a diffusion prior.
#[derive(Debug, thiserror::Error)]
pub enum DiffusionError {
    /// A tensor operation failed.
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
    /// A noise schedule or fused-op error.
    #[error(transparent)]
    Kernels(#[from] velprior_kernels::Error),
    /// A closed-form density's fit or tensors.
    #[error(transparent)]
    Density(#[from] velprior_density::DensityError),
    /// A network error.
    #[error(transparent)]
    Nn(#[from] velprior_nn::NnError),
    /// A corpus error.
    #[error(transparent)]
    Data(#[from] velprior_data::DataError),
    /// A bad argument or inconsistent input (shapes, parameters); the message says which.
    #[error("{0}")]
    Invalid(String),
    /// A configuration problem: the message names the file and key and how to fix it.
    #[error("{0}")]
    Config(String),
    /// A checkpoint that is truncated, corrupt or does not match the config.
    #[error("{0}")]
    Checkpoint(String),
    /// Training diverged (NaN/Inf loss).
    #[error("{0}")]
    Diverged(String),
}

impl DiffusionError {
    /// An invalid-argument error.
    pub fn invalid(message: impl Into<String>) -> Self {
        DiffusionError::Invalid(message.into())
    }
}
