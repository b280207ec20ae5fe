//! Posterior sampling with generative priors, written only against the `Denoiser`
//! (velprior-diffusion) and `ForwardOperator` (velprior-physics) seams, and memorization
//! diagnostics for prior and posterior samples.

pub mod error;
pub mod memorization;

pub use error::{PosteriorError, Result};
