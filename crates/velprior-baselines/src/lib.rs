//! The regularised autoencoder as a teaching baseline: the two-layer experiment (a corpus with
//! a known latent law, an AE trained with and without the latent penalty, and the figures that
//! show what the penalty buys), latent walks and sweeps through a trained AE, and the scatter
//! plots they draw. The AE itself (model, trainer, loaded prior) lives in
//! `velprior_diffusion::baselines` beside the other prior kinds.

pub mod experiment;
pub mod explore;
pub mod scatter;

pub use experiment::{AeExperimentConfig, ExperimentSummary, run_experiment};
