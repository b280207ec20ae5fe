//! Baseline priors beside diffusion, sharing its checkpoint format and `velprior sample`:
//! the regularised autoencoder and β-VAE (trainer, loaded prior; its teaching experiment is
//! the velprior-baselines crate), the DCGAN (trainer, loaded generator) and the closed-form densities of velprior-density (Gaussian/PCA,
//! Gaussian mixture, Gaussian process: fit and load).

pub mod ae_model;
pub mod ae_prior;
pub mod ae_trainer;
pub mod config;
pub mod density_fit;
pub mod gan_prior;
pub mod gan_trainer;
pub mod training_corpus;

pub use ae_model::AnyAutoencoder;
pub use ae_prior::AePrior;
pub use ae_trainer::{AeDetails, AeEpochMetrics, AeObserver, AeTrainer, QuietAe};
pub use config::{
    AeArch, AeLoopConfig, AeModelConfig, AeTrainConfig, DensityFitConfig, DensitySpec,
    GanModelConfig, GanTrainConfig,
};
pub use density_fit::{DensityCheckpoint, fit_density};
pub use gan_prior::GanPrior;
pub use gan_trainer::{GanDetails, GanEpochMetrics, GanObserver, GanTrainer, QuietGan};
