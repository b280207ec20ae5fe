//! Errors of velprior-nn: bad configurations and bad input shapes, never panics.

use thiserror::Error;

/// Everything that can go wrong when building or running a network of this crate.
#[derive(Debug, Error)]
pub enum NnError {
    /// A configuration value is invalid; `key` names the config key to fix.
    #[error("invalid network config: `{key}`: {msg}")]
    Config {
        /// The TOML key at fault (e.g. `groups`, `channel_mult`).
        key: &'static str,
        /// What is wrong and how to fix it.
        msg: String,
    },
    /// An input tensor has the wrong rank, channel count, batch size or dtype.
    #[error("bad input shape: {0}")]
    Shape(String),
    /// An error from the tensor library.
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
}

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, NnError>;

pub(crate) fn config_err(key: &'static str, msg: impl Into<String>) -> NnError {
    NnError::Config {
        key,
        msg: msg.into(),
    }
}
