//! Diffusion priors for velprior: the [`Denoiser`] seam, analytic oracles (Gaussian, Gaussian
//! mixture, empirical optimal denoiser), samplers (DDPM ancestral, DDIM, VP-SDE
//! Euler–Maruyama, predictor–corrector), the trainer and checkpoints.

pub mod denoiser;
pub mod error;
pub mod oracles;
pub mod samplers;

pub use denoiser::{Denoiser, NoiseLevel};
pub use error::{DiffusionError, Result};
