//! Diffusion-regularised FWI by alternation (Wang et al. 2023, "Prior-guided FWI with
//! diffusion models"; Taufik et al. 2024, "Learned regularizations for multi-parameter
//! elastic FWI using diffusion models"): the reverse chain starts part-way, from the noised
//! start model, and at every step the denoised estimate x̂_0 takes a few FWI gradient steps
//! before it is re-noised to the next level.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use velprior_diffusion::Denoiser;
use velprior_diffusion::denoiser::{eps_from_x0, x0_from_eps};
use velprior_diffusion::noise::standard_normal;
use velprior_kernels::{DdimStep, Schedule, ddim_step};
use velprior_physics::fwi::adam::Adam;

use crate::observer::{IterationRecord, PosteriorObserver};
use crate::problem::Problem;
use crate::tensors::{level, to_batch, to_models};
use crate::{PosteriorError, Result};

/// Settings of the alternating method.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlternatingConfig {
    /// Reverse steps of the full chain (uniform respacing of the training schedule).
    pub steps: usize,
    /// Where the chain starts, as a fraction of the training time in (0, 1]: the start model is
    /// noised to t0 · T.
    pub t0: f64,
    /// FWI (Adam) steps on x̂_0 per reverse step.
    pub fwi_steps: usize,
    /// Adam learning rate in normalised units.
    pub lr: f32,
    /// Re-noising: 0 keeps the predicted noise (DDIM), 1 draws fresh noise.
    pub eta: f64,
    /// Samples (independent chains).
    pub samples: usize,
}

/// Runs the alternation from `start` (normalised, one model) and returns `cfg.samples` models
/// (normalised) concatenated. At reverse step k: x̂_0 = Tweedie(x_k); x̂_0 ← `fwi_steps` Adam
/// steps on −log p(d | x) (`Problem::neg_log_likelihood`), clipped to [−1, 1];
/// ε' = (x_k − √ᾱ_k x̂_0)/√(1 − ᾱ_k); x_{k−1} = DDIM_η(x_k, ε'). The last step returns x̂_0.
pub fn alternating(
    model: &dyn Denoiser,
    problem: &Problem,
    schedule: &Schedule,
    start: &[f32],
    cfg: &AlternatingConfig,
    seed: u64,
    observer: &mut dyn PosteriorObserver,
) -> Result<Vec<f32>> {
    if cfg.steps == 0 || cfg.samples == 0 || !(cfg.t0 > 0.0 && cfg.t0 <= 1.0) {
        return Err(PosteriorError::invalid(
            "alternating: need steps >= 1, samples >= 1 and t0 in (0, 1]",
        ));
    }
    let schedule = velprior_diffusion::samplers::respaced(schedule, cfg.steps)?;
    let k0 = ((cfg.t0 * schedule.len() as f64).ceil() as usize).clamp(1, schedule.len()) - 1;
    let (n, shape, d) = (cfg.samples, problem.shape(), problem.dim());
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let x_start = to_batch(&start.repeat(n), n, shape, model.device())?;
    let a0 = level(&schedule, k0)?;
    let noise = standard_normal(&mut rng, x_start.dims(), x_start.device())?;
    let mut x = ((x_start * a0.alpha_bar.sqrt())? + (noise * a0.sigma())?)?;
    let mut adams: Vec<Adam> = (0..n)
        .map(|_| Adam::new(d, cfg.lr, 0.9, 0.999, 1e-8))
        .collect();
    let opts = DdimStep {
        eta: cfg.eta,
        clip_x0: None,
    };
    let total = k0 + 1;
    let mut out = Vec::with_capacity(n * d);
    for (it, k) in (0..=k0).rev().enumerate() {
        let lvl = level(&schedule, k)?;
        let levels = vec![lvl; n];
        let eps = model.predict_eps(&x, &levels)?;
        let mut models = to_models(&x0_from_eps(&x, &eps, &levels)?)?;
        let mut misfit = 0.0;
        for (m, adam) in models.iter_mut().zip(&mut adams) {
            m.iter_mut().for_each(|v| *v = v.clamp(-1.0, 1.0));
            for _ in 0..cfg.fwi_steps {
                let (f, g) = problem.neg_log_likelihood(m)?;
                misfit = f;
                adam.step(m, &g);
                m.iter_mut().for_each(|v| *v = v.clamp(-1.0, 1.0));
            }
        }
        observer.on_iteration(&IterationRecord {
            iteration: it,
            total,
            misfit: (cfg.fwi_steps > 0).then_some(misfit * problem.likelihood_scale),
            alpha_bar: Some(lvl.alpha_bar),
            estimate: &models[0],
            ..Default::default()
        })?;
        if k == 0 {
            out = models.concat();
            break;
        }
        let x0 = to_batch(&models.concat(), n, shape, model.device())?;
        let eps = eps_from_x0(&x, &x0, &levels)?;
        let z = (cfg.eta > 0.0)
            .then(|| standard_normal(&mut rng, x.dims(), x.device()))
            .transpose()?;
        x = ddim_step(&x, &eps, z.as_ref(), &k, &schedule, &opts)?;
    }
    Ok(out)
}
