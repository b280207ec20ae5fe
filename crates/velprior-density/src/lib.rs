//! velprior-density: prior densities on 2-D velocity models whose log-density is exact: the
//! classical baselines and a normalizing flow beside the diffusion priors.
//!
//! - [`GaussianPrior`]: probabilistic PCA (mean, top-k components, isotropic residual).
//! - [`GaussianMixture`]: a K-component Gaussian mixture on PCA coordinates, fitted by EM,
//!   with the isotropic residual off the subspace.
//! - [`GaussianProcess`]: a stationary, anisotropic, separable Gaussian process (the
//!   geostatistical prior) around a depth trend, its correlation lengths fitted to the
//!   corpus's empirical covariance.
//! - [`NormalizingFlow`]: a RealNVP flow (actnorm + affine coupling) on the whitened PCA
//!   coordinates, fitted by maximum likelihood; exact density, gradient by autodiff.
//!
//! Each is a [`LogDensity`] (log p and ∇ log p for MALA, ULA and MAP inversion) and a
//! [`DensityModel`] (seeded sampling, checkpoint tensors). Models are flattened row-major
//! (H, W), H = depth, in normalised units.

pub mod density;
pub mod error;
pub mod flow;
pub mod gaussian;
pub mod gmm;
pub mod gp;
pub mod kernel;
pub mod realnvp;
pub mod subspace;

pub use density::{DensityModel, LogDensity};
pub use error::{DensityError, Result};
pub use flow::{FlowFit, NormalizingFlow};
pub use gaussian::GaussianPrior;
pub use gmm::{GaussianMixture, GmmFit};
pub use gp::{GaussianProcess, GpFit};
pub use kernel::Kernel;
pub use realnvp::RealNvp;
