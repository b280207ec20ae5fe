//! Velocity models in and out of a prior's latent space (autoencoder, VAE, GAN, a flow's base
//! variable), whatever its kind: codes z (N, k) are decoded into models in m/s, models encoded
//! where the map has an inverse.

use candle_core::Tensor;
use velprior_nn::Decoder;

use super::Prior;
use crate::error::{DiffusionError, Result};

/// The decoder and latent std s (prior z ~ N(0, s²I)) of a prior with a latent space.
pub fn latent_parts(prior: &dyn Prior) -> Result<(&dyn Decoder, f64)> {
    prior.latent().ok_or_else(|| {
        DiffusionError::invalid(format!(
            "a {} prior has no latent space; use an autoencoder, VAE, GAN or flow checkpoint",
            prior.meta().kind.name()
        ))
    })
}

/// Decodes codes (N, k), flat row-major, into models in m/s, flat (N, H, W).
pub fn decode_latents(prior: &dyn Prior, z: &[f32]) -> Result<Vec<f32>> {
    let (decoder, _) = latent_parts(prior)?;
    let k = decoder.latent_dim();
    if z.is_empty() || !z.len().is_multiple_of(k) {
        return Err(DiffusionError::invalid(format!(
            "latents must hold N rows of {k} values; got {} values",
            z.len()
        )));
    }
    let z = Tensor::from_slice(z, (z.len() / k, k), decoder.device())?;
    let mut v = decoder.decode(&z)?.flatten_all()?.to_vec1::<f32>()?;
    prior.meta().normalisation.denormalise(&mut v);
    Ok(v)
}

/// Encodes models in m/s, flat (N, H, W), into codes (N, k); None when the network has no
/// encoder (a GAN).
pub fn encode_models(prior: &dyn Prior, models: &[f32]) -> Result<Option<Vec<f32>>> {
    let (decoder, _) = latent_parts(prior)?;
    let Some(autoencoder) = decoder.as_autoencoder() else {
        return Ok(None);
    };
    let [h, w] = prior.meta().model_shape;
    if models.is_empty() || !models.len().is_multiple_of(h * w) {
        return Err(DiffusionError::invalid(format!(
            "the prior takes {h}x{w} models; got {} values",
            models.len()
        )));
    }
    let mut x = models.to_vec();
    prior.meta().normalisation.normalise(&mut x);
    let mut dims = vec![x.len() / (h * w)];
    dims.extend(autoencoder.model_dims());
    let x = Tensor::from_vec(x, dims, autoencoder.device())?;
    Ok(Some(
        autoencoder.encode(&x)?.flatten_all()?.to_vec1::<f32>()?,
    ))
}
