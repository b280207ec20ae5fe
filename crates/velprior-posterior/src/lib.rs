//! Posterior sampling with generative priors, written only against the `Denoiser`
//! (velprior-diffusion) and `ForwardOperator` (velprior-physics) seams, the inversion benchmark and
//! the calibration of samplers.
//!
//! Methods, one module each: [`dps`] (Chung et al. 2023), [`daps`] (Zhang et al. 2024), [`alternating`] (diffusion-regularised
//! FWI, Wang et al. 2023 / Taufik et al. 2024), [`red_diff`] (RED-DiffEq), [`langevin`] (ULA,
//! MALA), [`metropolis`] (random walk in model or AE-latent space), [`sgld`] (stochastic-gradient
//! Langevin with shot subsampling), [`map`] (MAP inversion with a closed-form density), [`variational`]
//! (variational inference with a normalizing flow), [`boomerang`], [`linear_gaussian`] (the exact posterior of a Gaussian prior under a
//! linear operator). The chain
//! rule between the prior's normalised units and the operator's m/s lives in [`problem`];
//! [`patches`] applies a window-sized prior to wider models; [`summary`] computes posterior
//! statistics; [`method`] runs a config's method with its prior; [`experiment`] sets up a posterior config
//! (prior, files, operator) and runs its chains (after a [`two_stage`] first stage when the
//! config has one), [`report`] writes its run folder; [`calibration`] measures the coverage of a
//! sampler on held-out models, [`coverage`] its calibration curve and error against std.

pub mod alternating;
pub mod benchmark;
pub mod boomerang;
pub mod calibration;
pub mod calibration_run;
pub mod config;
pub mod coverage;
pub mod daps;
pub mod dps;
pub mod error;
pub mod experiment;
pub mod gauss_newton;
pub mod illumination;
pub mod langevin;
pub mod linear_gaussian;
pub mod map;
pub mod method;
pub mod metropolis;
pub mod observer;
pub mod patches;
pub mod problem;
pub mod red_diff;
pub mod report;
pub mod sgld;
pub mod start_error;
pub mod summary;
pub mod target;
pub mod tensors;
pub mod two_stage;
pub mod variational;

pub use error::{PosteriorError, Result};
pub use observer::{IterationRecord, NoObserver, PosteriorObserver};
pub use problem::Problem;
pub use target::{Chain, ChainConfig, LogDensity, PosteriorTarget, Target};
