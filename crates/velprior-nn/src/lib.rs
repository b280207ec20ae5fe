//! velprior-nn: networks on candle-nn for generative priors on 2-D velocity models.
//!
//! - [`UNet`] (+ [`UNetConfig`]): the DDPM ε-denoiser; tensor names are documented in
//!   [`unet`] and are the checkpoint keys.
//! - [`MlpAutoencoder`] / [`ConvAutoencoder`] (+ [`regularised_ae_loss`], [`vae_loss`],
//!   [`fit_latent_std`], [`sample_prior`]): the regularised-AE and β-VAE baseline priors.
//! - [`Gan`] (+ [`GanConfig`], [`discriminator_loss`], [`generator_loss`], [`SpectralNorm`]):
//!   the DCGAN prior with a spectrally normalised discriminator; its generator is a
//!   [`ConvDecoder`], as the conv autoencoder's decoder.
//! - [`seeded_var_builder`]: reproducible PyTorch-default initialisation (candle's CPU RNG
//!   cannot be seeded).
//! - On CPU devices the UNet's convolutions and GroupNorm(+SiLU) run velprior-kernels' CPU
//!   kernels; [`with_candle_ops`] switches back to candle's own ops (the reference).
//!
//! Shapes follow the project convention: images are (N, C, H, W) f32, H = depth (z).

pub mod ae_conv;
pub mod ae_mlp;
pub mod attention;
pub mod autoencoder;
pub mod config;
pub mod conv_decoder;
pub mod dropout;
pub mod error;
pub mod gan;
pub mod init;
mod layers;
pub mod pad;
pub mod res_block;
pub mod resample;
pub mod spectral_norm;
pub mod time_embedding;
pub mod unet;

pub use ae_conv::{ConvAeConfig, ConvAutoencoder};
pub use ae_mlp::{MlpAeConfig, MlpAutoencoder};
pub use attention::Attention;
pub use autoencoder::{
    AeLoss, Autoencoder, Decoder, fit_latent_std, regularised_ae_loss, sample_prior, vae_loss,
};
pub use config::{PadMode, UNetConfig};
pub use conv_decoder::ConvDecoder;
pub use error::{NnError, Result};
pub use gan::{Discriminator, Gan, GanConfig, discriminator_loss, generator, generator_loss};
pub use init::seeded_var_builder;
pub use layers::with_candle_ops;
pub use res_block::ResBlock;
pub use resample::{Downsample, Upsample};
pub use spectral_norm::SpectralNorm;
pub use time_embedding::{TimeEmbedding, sinusoidal_embedding};
pub use unet::{UNet, parameter_count};
