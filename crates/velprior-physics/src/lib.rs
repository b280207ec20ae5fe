//! Forward operators for velprior: 2-D constant-density acoustic finite-difference modelling
//! (4th/8th order, OpenFWI damping border or C-PML), adjoint-state gradients with optional
//! checkpointing, simple linear operators, image metrics, and a plain FWI baseline.
//!
//! Conventions: velocity models are `&[f32]` in m/s with shape (nz, nx), depth first,
//! row-major; data are per shot (nt, n_receivers), shots concatenated.

pub mod adjoint;
pub mod boundary;
pub mod checkpointing;
pub mod error;
pub mod fwi;
pub mod geometry;
pub mod linear_ops;
pub mod metrics;
pub mod misfit;
pub mod operator;
pub mod propagate;
pub mod stencil;
pub mod wavelet;

pub use adjoint::{GradientOptions, adjoint_gradient, misfit_and_gradient};
pub use boundary::Boundary;
pub use checkpointing::Storage;
pub use error::{PhysicsError, Result};
pub use fwi::{FwiConfig, FwiResult, IterationLog, run_fwi};
pub use geometry::{Acquisition, ModelShape, Shot};
pub use linear_ops::{GaussianBlur, Mask};
pub use metrics::{Metrics, velocity_metrics};
pub use misfit::Misfit;
pub use operator::{AcousticOperator, ForwardOperator};
pub use propagate::{SolverConfig, forward};
pub use wavelet::{ricker, ricker_openfwi};
