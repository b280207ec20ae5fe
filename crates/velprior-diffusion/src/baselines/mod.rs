//! Baseline priors beside diffusion, sharing its checkpoint format and `velprior sample`:
//! the regularised autoencoder (the teaching baseline: trainer, loaded prior, latent
//! exploration, the two-layer experiment) and the Gaussian/PCA prior (fit and load).

pub mod ae_model;
pub mod ae_prior;
pub mod ae_trainer;
pub mod config;
pub mod display;
pub mod experiment;
pub mod explore;
pub mod gaussian_fit;
pub mod scatter;

pub use ae_model::AnyAutoencoder;
pub use ae_prior::AePrior;
pub use ae_trainer::{AeDetails, AeEpochMetrics, AeObserver, AeTrainer, QuietAe};
pub use config::{AeArch, AeLoopConfig, AeModelConfig, AeTrainConfig, GaussianFitConfig};
pub use experiment::{AeExperimentConfig, ExperimentSummary, run_experiment};
pub use gaussian_fit::{GaussianCheckpoint, GaussianDetails, fit_gaussian};
