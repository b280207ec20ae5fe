//! Random-walk Metropolis (Metropolis et al. 1953) in model space or in the latent space of a
//! regularised autoencoder, where the prior is N(0, s² I) on z and the model is D(z).

use candle_core::{Tensor, Var};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use velprior_nn::Decoder;

use crate::observer::{IterationRecord, PosteriorObserver};
use crate::problem::Problem;
use crate::target::{Chain, ChainConfig, Target, check_start, outside_support};
use crate::{PosteriorError, Result};

/// Random-walk Metropolis from `x0`: x' = x + s ξ, ξ ~ N(0, I), s = `cfg.step`, accepted with
/// probability min(1, π(x')/π(x)). Exact for any s > 0; s sets the acceptance rate.
pub fn random_walk_metropolis(
    target: &dyn Target,
    x0: &[f32],
    cfg: &ChainConfig,
    seed: u64,
    observer: &mut dyn PosteriorObserver,
) -> Result<Chain> {
    if !cfg.step.is_finite() || cfg.step <= 0.0 || x0.len() != target.dim() {
        return Err(PosteriorError::invalid(format!(
            "metropolis: need step > 0 (got {}) and a start of length {} (got {})",
            cfg.step,
            target.dim(),
            x0.len()
        )));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut x = x0.to_vec();
    let mut lp = target.log_density(&x)?;
    check_start(lp)?;
    let (mut accepted, total) = (0usize, cfg.total());
    let mut samples = Vec::with_capacity(cfg.samples * x.len());
    for i in 0..total {
        let prop: Vec<f32> = x
            .iter()
            .map(|&v| {
                let xi: f64 = StandardNormal.sample(&mut rng);
                (f64::from(v) + cfg.step * xi) as f32
            })
            .collect();
        let lp_new = target.log_density(&prop)?;
        if rng.random::<f64>().ln() < lp_new - lp {
            (x, lp) = (prop, lp_new);
            accepted += 1;
        }
        if cfg.keeps(i) {
            samples.extend_from_slice(&x);
        }
        observer.on_iteration(&IterationRecord {
            iteration: i,
            total,
            acceptance: Some(accepted as f64 / (i + 1) as f64),
            estimate: &x,
            ..Default::default()
        })?;
    }
    Ok(Chain {
        samples,
        acceptance_rate: accepted as f64 / total.max(1) as f64,
    })
}

/// The posterior over an autoencoder's latent code z (length k):
/// log π(z) = −‖z‖²/(2 s²) − f(F(v(D(z))), d)/scale, with s the corpus latent std.
pub struct LatentTarget<'a> {
    pub decoder: &'a dyn Decoder,
    /// s: the empirical std of the corpus latents (`velprior_nn::fit_latent_std`).
    pub latent_std: f64,
    pub problem: &'a Problem<'a>,
}

impl LatentTarget<'_> {
    /// x = D(z), flattened (normalised units).
    pub fn decode(&self, z: &[f32]) -> Result<Vec<f32>> {
        let zt = Tensor::from_slice(z, (1, z.len()), self.decoder.device())?;
        let x = self.decoder.decode(&zt)?.flatten_all()?.to_vec1::<f32>()?;
        self.check(&x)?;
        Ok(x)
    }

    fn check(&self, x: &[f32]) -> Result<()> {
        if x.len() != self.problem.dim() {
            return Err(PosteriorError::invalid(format!(
                "latent metropolis: the decoder makes {} values, the operator takes {}",
                x.len(),
                self.problem.dim()
            )));
        }
        Ok(())
    }

    fn log_prior(&self, z: &[f32]) -> f64 {
        let s2 = self.latent_std * self.latent_std;
        -z.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / (2.0 * s2)
    }
}

impl Target for LatentTarget<'_> {
    fn dim(&self) -> usize {
        self.decoder.latent_dim()
    }
    fn log_density(&self, z: &[f32]) -> Result<f64> {
        let x = self.decode(z)?;
        match self.problem.neg_log_likelihood_value(&x) {
            Ok(nll) => Ok(self.log_prior(z) - nll),
            Err(e) => outside_support(e, 0).map(|(lp, _)| lp),
        }
    }
    /// The gradient through the decoder by candle autograd: −z/s² − J_Dᵀ ∇_x(f/scale).
    fn value_and_grad(&self, z: &[f32]) -> Result<(f64, Vec<f32>)> {
        let var = Var::from_tensor(&Tensor::from_slice(z, (1, z.len()), self.decoder.device())?)?;
        let xt = self.decoder.decode(var.as_tensor())?;
        let x = xt.flatten_all()?.to_vec1::<f32>()?;
        self.check(&x)?;
        let (nll, gx) = match self.problem.neg_log_likelihood(&x) {
            Ok(v) => v,
            Err(e) => return outside_support(e, z.len()),
        };
        let gx = Tensor::from_vec(gx, xt.dims(), xt.device())?;
        let grads = (&xt * &gx)?.sum_all()?.backward()?;
        let gz = grads
            .get(var.as_tensor())
            .ok_or_else(|| {
                PosteriorError::invalid("latent target: the decoder is not differentiable")
            })?
            .flatten_all()?
            .to_vec1::<f32>()?;
        let s2 = (self.latent_std * self.latent_std) as f32;
        let grad = z.iter().zip(&gz).map(|(&z, &g)| -z / s2 - g).collect();
        Ok((self.log_prior(z) - nll, grad))
    }
}
