//! Diffusion priors for velprior: the [`Denoiser`] seam, analytic oracles (Gaussian, Gaussian
//! mixture, empirical optimal denoiser), samplers (DDPM ancestral, DDIM, VP-SDE
//! Euler–Maruyama, predictor–corrector), the trainer and checkpoints, and the baseline priors
//! (regularised autoencoder, Gaussian/PCA) in the same checkpoint format ([`baselines`],
//! [`prior::AnyPrior`]).

pub mod all_reduce;
pub mod any_train_config;
pub mod baselines;
pub mod checkpoint;
mod compatibility;
pub mod config;
pub mod data_parallel;
pub mod denoiser;
pub mod ema;
pub mod error;
pub mod export;
pub mod noise;
pub mod objective;
pub mod optim;
pub mod oracles;
pub mod prior;
mod rng_state;
pub mod samplers;
pub mod trainer;
pub mod unet_denoiser;

pub use denoiser::{Denoiser, NoiseLevel};
pub use error::{DiffusionError, Result};
