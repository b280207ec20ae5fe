//! Errors of velprior-density: a fit that cannot be made, or checkpoint tensors that do not
//! describe a density; never panics.

use thiserror::Error;

/// Everything that can go wrong when fitting or loading a density.
#[derive(Debug, Error)]
pub enum DensityError {
    /// Data or tensors of the wrong size, or a setting the data cannot support; the message
    /// says what to change.
    #[error("{0}")]
    Shape(String),
    /// An error from the tensor library (checkpoint tensors).
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
}

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, DensityError>;
