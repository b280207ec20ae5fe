//! Errors of the kernels crate.

/// Everything that can go wrong in a schedule or a fused op.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A schedule parameter is out of its domain (e.g. T = 0, β ∉ (0, 1)).
    #[error("invalid schedule: {0}")]
    InvalidSchedule(String),
    /// A timestep is not in `0..T` of the schedule it indexes.
    #[error("timestep {t} out of range for a schedule with {len} steps")]
    TimestepOutOfRange { t: usize, len: usize },
    /// An argument (shape, length, value) does not fit the op.
    #[error("{op}: {msg}")]
    InvalidArgument { op: &'static str, msg: String },
    /// The CUDA driver or NVRTC library could not be loaded.
    #[error(
        "CUDA unavailable: {0} (install the NVIDIA driver / CUDA toolkit, or put the library directory on LD_LIBRARY_PATH; see crates/velprior-kernels/README.md)"
    )]
    CudaUnavailable(String),
    /// A device name that does not parse, or a device that cannot be opened.
    #[error("{0}")]
    Device(String),
    /// NVRTC rejected a kernel source.
    #[error("NVRTC failed to compile kernels/{kernel}.cu: {log}")]
    KernelCompile { kernel: String, log: String },
    /// An error from candle (device, dtype, allocation, ...).
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
}

/// Result with the crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub(crate) fn arg(op: &'static str, msg: impl Into<String>) -> Self {
        Error::InvalidArgument {
            op,
            msg: msg.into(),
        }
    }
}
