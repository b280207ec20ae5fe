//! Regularised autoencoder (the pedagogical baseline prior): loss ‖x − D(E(x))‖² + λ‖E(x)‖²,
//! sampling z ~ N(0, s²I) with s the empirical std of the corpus latents, then x = D(z); and
//! its variational form, the β-VAE ([`vae_loss`]; prior z ~ N(0, I)).
//!
//! Two encoders/decoders implement [`Autoencoder`]: [`crate::MlpAutoencoder`] for 1-D
//! profiles (N, L) and [`crate::ConvAutoencoder`] for 2-D models (N, C, H, W). The loss,
//! the latent-std fit and sampling are shared here.

use candle_core::{DType, Device, Tensor};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

use crate::error::{NnError, Result};

/// A network that turns latent codes into models: an autoencoder's decoder or a GAN's
/// generator.
pub trait Decoder {
    /// Latent dimension k.
    fn latent_dim(&self) -> usize;
    /// The device of the weights.
    fn device(&self) -> &Device;
    /// The shape of one model after the batch dimension: (H·W) for an MLP on flat models,
    /// (1, H, W) for a conv network.
    fn model_dims(&self) -> Vec<usize>;
    /// z (N, k) → x̂ (N, …) with the trailing shape [`Decoder::model_dims`].
    fn decode(&self, z: &Tensor) -> Result<Tensor>;
    /// The same network as an autoencoder, when it has an encoder (a GAN's generator has
    /// none).
    fn as_autoencoder(&self) -> Option<&dyn Autoencoder> {
        None
    }
}

/// An encoder/decoder pair with a `latent_dim`-dimensional code.
pub trait Autoencoder: Decoder {
    /// x (N, …) with the trailing shape [`Decoder::model_dims`] → z (N, k).
    fn encode(&self, x: &Tensor) -> Result<Tensor>;
    /// The Gaussian q(z | x) = N(μ, diag σ²) of a variational encoder as (μ, log σ²), each
    /// (N, k); a plain autoencoder's code μ = E(x) has no variance (None).
    fn encode_gaussian(&self, x: &Tensor) -> Result<(Tensor, Option<Tensor>)> {
        Ok((self.encode(x)?, None))
    }
}

/// The three terms of the regularised-AE loss, each a scalar tensor.
#[derive(Debug, Clone)]
pub struct AeLoss {
    /// `recon + lambda · latent` (differentiable).
    pub total: Tensor,
    /// mean over the batch of ‖x_n − D(E(x_n))‖² (sum over pixels).
    pub recon: Tensor,
    /// mean over the batch of ‖E(x_n)‖².
    pub latent: Tensor,
}

/// mean over the batch `x` (N, …) of ‖x_n − D(z_n)‖² (a scalar tensor).
fn reconstruction_error(ae: &dyn Autoencoder, x: &Tensor, z: &Tensor) -> Result<Tensor> {
    let xr = ae.decode(z)?;
    if xr.dims() != x.dims() {
        return Err(NnError::Shape(format!(
            "decoder output {:?} differs from input {:?}",
            xr.dims(),
            x.dims()
        )));
    }
    Ok(((x - &xr)?.sqr()?.sum_all()? / x.dim(0)? as f64)?)
}

/// Regularised-AE loss on a batch `x` (N, …): per-sample squared norms averaged over N.
pub fn regularised_ae_loss(ae: &dyn Autoencoder, x: &Tensor, lambda: f64) -> Result<AeLoss> {
    let n = x.dim(0)?;
    let z = ae.encode(x)?;
    let recon = reconstruction_error(ae, x, &z)?;
    let latent = (z.sqr()?.sum_all()? / n as f64)?;
    let total = (&recon + (&latent * lambda)?)?;
    Ok(AeLoss {
        total,
        recon,
        latent,
    })
}

/// β-VAE loss (Kingma & Welling 2014; Higgins et al. 2017) on a batch `x` (N, …), averaged
/// over N: ‖x − D(μ + σ ⊙ ε)‖² + β KL(N(μ, σ²) ‖ N(0, I)), KL = ½ Σ (μ² + σ² − log σ² − 1),
/// ε ~ N(0, I) drawn from `rng` (reparameterisation). `latent` holds the KL term. The recon
/// term is the Gaussian likelihood with variance ½, so β = 1 is the ELBO.
pub fn vae_loss(
    ae: &dyn Autoencoder,
    x: &Tensor,
    beta: f64,
    rng: &mut ChaCha8Rng,
) -> Result<AeLoss> {
    let n = x.dim(0)?;
    let (mu, log_var) = ae.encode_gaussian(x)?;
    let log_var = log_var.ok_or_else(|| {
        NnError::Shape("a VAE loss needs a variational encoder (log σ² head)".into())
    })?;
    let eps: Vec<f32> = (0..mu.elem_count())
        .map(|_| StandardNormal.sample(rng))
        .collect();
    let eps = Tensor::from_vec(eps, mu.dims(), mu.device())?;
    let z = (&mu + ((&log_var * 0.5)?.exp()? * eps)?)?;
    let recon = reconstruction_error(ae, x, &z)?;
    let kl = ((mu.sqr()? + log_var.exp()? - &log_var)? - 1.0)?;
    let latent = ((kl.sum_all()? * 0.5)? / n as f64)?;
    let total = (&recon + (&latent * beta)?)?;
    Ok(AeLoss {
        total,
        recon,
        latent,
    })
}

/// Empirical std s of all latent entries of a corpus `x` (N, …), encoded in chunks of
/// `batch` samples: s² = mean over samples and latent dims of (z − z̄)², z̄ the global mean.
pub fn fit_latent_std(ae: &dyn Autoencoder, x: &Tensor, batch: usize) -> Result<f64> {
    let n = x.dim(0)?;
    if n == 0 {
        return Err(NnError::Shape(
            "cannot fit the latent std of an empty corpus".into(),
        ));
    }
    let batch = batch.max(1);
    let (mut s1, mut s2, mut cnt) = (0f64, 0f64, 0usize);
    let mut start = 0;
    while start < n {
        let len = batch.min(n - start);
        let z = ae.encode(&x.narrow(0, start, len)?)?.detach();
        let v = z.flatten_all()?.to_dtype(DType::F64)?.to_vec1::<f64>()?;
        s1 += v.iter().sum::<f64>();
        s2 += v.iter().map(|a| a * a).sum::<f64>();
        cnt += v.len();
        start += len;
    }
    let mean = s1 / cnt as f64;
    Ok((s2 / cnt as f64 - mean * mean).max(0.0).sqrt())
}

/// Draw `n` prior samples: z ~ N(0, s²I) from a ChaCha8 stream seeded by `seed`, x = D(z).
pub fn sample_prior(
    ae: &dyn Decoder,
    n: usize,
    latent_std: f64,
    seed: u64,
    device: &Device,
) -> Result<Tensor> {
    let k = ae.latent_dim();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let z: Vec<f32> = (0..n * k)
        .map(|_| {
            let e: f64 = StandardNormal.sample(&mut rng);
            (latent_std * e) as f32
        })
        .collect();
    let z = Tensor::from_vec(z, (n, k), device)?;
    ae.decode(&z)
}
