//! Errors of the data crate: each names the file or value at fault and says how to fix it.

use std::path::{Path, PathBuf};

/// Result alias for the data crate.
pub type Result<T> = std::result::Result<T, DataError>;

/// Everything that can go wrong reading, writing, generating or drawing velocity models.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// A file could not be opened, read or written. The OS error is part of the message, not a
    /// `source`, so that error chains print it once.
    #[error("{path}: {error}")]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    /// The HDF5 library refused an operation on a file.
    #[error("{path}: {message}")]
    Hdf5 { path: PathBuf, message: String },
    /// A file's content is not what velprior expects (wrong format, rank, dtype, size).
    #[error("{path}: {message}")]
    BadFile { path: PathBuf, message: String },
    /// Velocity values that no physical model can have (NaN, Inf, zero or negative).
    #[error("{context}: {message}")]
    BadValues { context: String, message: String },
    /// An argument that is out of range or inconsistent with the data.
    #[error("{0}")]
    InvalidArgument(String),
}

impl DataError {
    /// An I/O error on `path`.
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        DataError::Io {
            path: path.to_path_buf(),
            error: source,
        }
    }

    /// A malformed-file error on `path`.
    pub fn bad_file(path: &Path, message: impl Into<String>) -> Self {
        DataError::BadFile {
            path: path.to_path_buf(),
            message: message.into(),
        }
    }

    /// An HDF5-library error on `path`, with the library's message reduced to one line.
    pub fn hdf5(path: &Path, err: impl std::fmt::Display) -> Self {
        let text = err.to_string();
        let first = text
            .lines()
            .next()
            .unwrap_or("unknown HDF5 error")
            .trim()
            .to_string();
        DataError::Hdf5 {
            path: path.to_path_buf(),
            message: first,
        }
    }

    /// An invalid-argument error.
    pub fn invalid(message: impl Into<String>) -> Self {
        DataError::InvalidArgument(message.into())
    }
}
