//! Errors of the memorization diagnostics and the held-out evaluation.

use thiserror::Error;

/// What can go wrong in memorization diagnostics and evaluation.
#[derive(Debug, Error)]
pub enum MemorizationError {
    /// Bad user input: a shape, a parameter or a config value; the message names it and the fix.
    #[error("{0}")]
    Invalid(String),
    /// An error from the tensor library.
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
    /// An error opening a device or running a fused op.
    #[error(transparent)]
    Kernels(#[from] velprior_kernels::Error),
    /// An error from a diffusion prior or its training.
    #[error(transparent)]
    Diffusion(#[from] velprior_diffusion::DiffusionError),
    /// An error reading or writing a corpus or a run folder.
    #[error(transparent)]
    Data(#[from] velprior_data::DataError),
}

impl MemorizationError {
    /// A bad-input error with a message naming what is wrong and how to fix it.
    pub fn invalid(msg: impl Into<String>) -> Self {
        MemorizationError::Invalid(msg.into())
    }
}

/// Result with [`MemorizationError`].
pub type Result<T> = std::result::Result<T, MemorizationError>;
