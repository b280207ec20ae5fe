//! Boomerang local sampling (Luzi et al. 2024, "Boomerang: Local sampling on image manifolds
//! using diffusion models"): noise a model part-way and run the reverse chain back, giving
//! samples of the prior near it.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use velprior_diffusion::Denoiser;
use velprior_diffusion::noise::standard_normal;
use velprior_diffusion::samplers::{SamplerStep, sample_ddpm};
use velprior_kernels::respacing::uniform_timesteps;
use velprior_kernels::{DdpmStep, DdpmVariance, Schedule};

use crate::observer::{IterationRecord, PosteriorObserver};
use crate::tensors::{to_batch, to_models};
use crate::{PosteriorError, Result};

/// Boomerang settings: noise the start model to t* and run `steps` (uniform respacing, those
/// ≤ t*) reverse DDPM steps back, `samples` times.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BoomerangConfig {
    /// t* / T in (0, 1].
    pub t_star: f64,
    pub steps: usize,
    pub samples: usize,
}

/// `cfg.samples` local variations of `x` (normalised, shape (H, W)): x_{t*} = √ᾱ x + √(1 − ᾱ) ε
/// at t* = `cfg.t_star` · T, then DDPM ancestral steps (σ² = β̃) over the training steps ≤ t*
/// of a `cfg.steps`-step uniform respacing. t* → 0 returns x, t* = 1 draws from the prior.
pub fn boomerang(
    model: &dyn Denoiser,
    schedule: &Schedule,
    x: &[f32],
    shape: [usize; 2],
    cfg: &BoomerangConfig,
    seed: u64,
    observer: &mut dyn PosteriorObserver,
) -> Result<Vec<f32>> {
    let BoomerangConfig {
        t_star,
        steps,
        samples,
    } = *cfg;
    if !(t_star > 0.0 && t_star <= 1.0) || steps == 0 || samples == 0 {
        return Err(PosteriorError::invalid(format!(
            "boomerang: need t_star in (0, 1] (got {t_star}), steps >= 1 and samples >= 1"
        )));
    }
    let t = schedule.num_train_timesteps();
    let last = ((t_star * t as f64).round() as usize).clamp(1, t) - 1;
    let kept: Vec<usize> = uniform_timesteps(t, steps)?
        .into_iter()
        .filter(|&s| s <= last)
        .chain(std::iter::once(last))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let local = schedule.respace(&kept)?;
    let a = local.tables_f64().alphas_cumprod[local.len() - 1];
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let x0 = to_batch(&x.repeat(samples), samples, shape, model.device())?;
    let noise = standard_normal(&mut rng, x0.dims(), x0.device())?;
    let xt = ((x0 * a.sqrt())? + (noise * (1.0 - a).sqrt())?)?;
    // x̂0 clipped to the normalised range, as `velprior sample` does: the samples stay
    // within the prior's velocity range.
    let opts = DdpmStep {
        variance: DdpmVariance::Posterior,
        clip_x0: Some((-1.0, 1.0)),
    };
    let mut obs = |s: &SamplerStep<'_>| -> velprior_diffusion::Result<()> {
        let first = to_models(&s.x0_hat.narrow(0, 0, 1)?)
            .map_err(|e| velprior_diffusion::DiffusionError::invalid(e.to_string()))?;
        observer
            .on_iteration(&IterationRecord {
                iteration: s.step,
                total: s.num_steps,
                alpha_bar: Some(s.level.alpha_bar),
                estimate: &first[0],
                ..Default::default()
            })
            .map_err(|e| velprior_diffusion::DiffusionError::invalid(e.to_string()))
    };
    let out = sample_ddpm(model, xt, &local, &opts, &mut rng, &mut obs)?;
    Ok(out.flatten_all()?.to_vec1::<f32>()?)
}
