//! Forward operators for velprior: 2-D constant-density acoustic finite-difference modelling
//! (4th/8th order, OpenFWI damping border or C-PML), adjoint-state gradients with optional
//! checkpointing, simple linear operators, image metrics, and a plain FWI baseline.
//!
//! Conventions: velocity models are `&[f32]` in m/s with shape (nz, nx), depth first,
//! row-major; data are per shot (nt, n_receivers), shots concatenated.
//!
//! ```no_run
//! use velprior_physics::*;
//! let v = vec![2000.0f32; 70 * 70];
//! let shape = ModelShape::new(70, 70);
//! // OpenFWI acquisition and the OpenFWI-exact preset (120-cell damping border).
//! let acq = Acquisition::surface(70, 5, 1, ricker_openfwi(15.0, 1e-3, 1000));
//! let d = forward(&v, shape, &SolverConfig::openfwi(), &acq)?;
//! // The fast default (20-cell C-PML) and an L1 misfit gradient w.r.t. velocity (m/s).
//! let cfg = SolverConfig::cpml(10.0, 1e-3, 15.0, 20);
//! let opts = GradientOptions { misfit: Misfit::L1, storage: Storage::default() };
//! let (f, grad, _data) = misfit_and_gradient(&v, shape, &cfg, &acq, &d, opts)?;
//! # Ok::<(), PhysicsError>(())
//! ```
//!
//! Modules: `wavelet` (Ricker), `geometry` (shape, shots), `stencil` (4th/8th-order
//! coefficients, CFL, fused row kernel), `boundary::{damping, cpml}`, `propagate` (forward),
//! `step` (one leapfrog step by path), `window` (the active window skipping exactly-zero cells),
//! `adjoint` (gradient), `checkpointing` (storage plans), `misfit`, `operator`
//! (`ForwardOperator`), `linear_ops` (mask, blur), `metrics` (RED-DiffEq SSIM/MAE/RMSE),
//! `fwi` (config, Adam, L-BFGS, regularisers, smoothing, multiscale).

pub mod adjoint;
pub mod boundary;
pub mod checkpointing;
pub mod error;
pub mod fwi;
pub mod geometry;
pub mod linear_ops;
pub mod linearised;
pub mod metrics;
pub mod misfit;
pub mod operator;
pub mod propagate;
pub mod stencil;
mod step;
pub mod survey;
pub mod wavelet;
mod window;

pub use adjoint::{GradientOptions, adjoint_gradient, misfit_and_gradient};
pub use boundary::Boundary;
pub use checkpointing::Storage;
pub use error::{PhysicsError, Result};
pub use fwi::{FwiConfig, FwiResult, IterationLog, run_fwi};
pub use geometry::{Acquisition, ModelShape, Shot};
pub use linear_ops::{GaussianBlur, Mask};
pub use linearised::{Linearised, StoredLinearisation, linearise};
pub use metrics::{Metrics, velocity_metrics};
pub use misfit::Misfit;
pub use operator::{AcousticOperator, ForwardOperator};
pub use propagate::{SolverConfig, forward};
pub use survey::{DataNoise, Degradation, simulate, simulate_all};
pub use wavelet::{ricker, ricker_openfwi};
