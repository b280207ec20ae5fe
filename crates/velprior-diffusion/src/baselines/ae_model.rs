//! Either autoencoder network behind one type that takes flat (N, H, W) model batches.

use candle_core::{Device, Tensor};
use velprior_nn::{Autoencoder, ConvAutoencoder, Decoder, MlpAutoencoder};

use crate::error::Result;

/// An MLP (on flattened (H, W) models) or conv autoencoder.
#[derive(Debug, Clone)]
pub enum AnyAutoencoder {
    /// MLP on H·W values per model; remembers (H, W).
    Mlp(MlpAutoencoder, [usize; 2]),
    /// Conv on (1, H, W) models.
    Conv(ConvAutoencoder),
}

impl AnyAutoencoder {
    /// Wraps `n` row-major (H, W) models (normalised) as the network's input tensor:
    /// (n, H·W) for the MLP, (n, 1, H, W) for the conv network.
    pub fn input(&self, models: Vec<f32>, n: usize, device: &Device) -> Result<Tensor> {
        let mut dims = vec![n];
        dims.extend(self.model_dims());
        Ok(Tensor::from_vec(models, dims, device)?)
    }

    /// Decodes latents z (n, k) into flat row-major (n, H, W) normalised models.
    pub fn decode_flat(&self, z: &Tensor) -> Result<Vec<f32>> {
        Ok(self.decode(z)?.flatten_all()?.to_vec1::<f32>()?)
    }
}

impl Decoder for AnyAutoencoder {
    fn latent_dim(&self) -> usize {
        match self {
            AnyAutoencoder::Mlp(ae, _) => ae.latent_dim(),
            AnyAutoencoder::Conv(ae) => ae.latent_dim(),
        }
    }

    fn device(&self) -> &Device {
        match self {
            AnyAutoencoder::Mlp(ae, _) => ae.device(),
            AnyAutoencoder::Conv(ae) => ae.device(),
        }
    }

    fn model_dims(&self) -> Vec<usize> {
        match self {
            AnyAutoencoder::Mlp(ae, _) => ae.model_dims(),
            AnyAutoencoder::Conv(ae) => ae.model_dims(),
        }
    }

    fn decode(&self, z: &Tensor) -> velprior_nn::Result<Tensor> {
        match self {
            AnyAutoencoder::Mlp(ae, _) => ae.decode(z),
            AnyAutoencoder::Conv(ae) => ae.decode(z),
        }
    }

    fn as_autoencoder(&self) -> Option<&dyn Autoencoder> {
        Some(self)
    }
}

impl Autoencoder for AnyAutoencoder {
    fn encode(&self, x: &Tensor) -> velprior_nn::Result<Tensor> {
        match self {
            AnyAutoencoder::Mlp(ae, _) => ae.encode(x),
            AnyAutoencoder::Conv(ae) => ae.encode(x),
        }
    }

    fn encode_gaussian(&self, x: &Tensor) -> velprior_nn::Result<(Tensor, Option<Tensor>)> {
        match self {
            AnyAutoencoder::Mlp(ae, _) => ae.encode_gaussian(x),
            AnyAutoencoder::Conv(ae) => ae.encode_gaussian(x),
        }
    }
}
