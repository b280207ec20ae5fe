//! Diffusion Posterior Sampling (Chung et al. 2023, "Diffusion Posterior Sampling for General
//! Noisy Inverse Problems", Algorithm 1).

use candle_core::{Tensor, Var};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use velprior_diffusion::denoiser::x0_from_eps;
use velprior_diffusion::noise::standard_normal;
use velprior_diffusion::{Denoiser, NoiseLevel};
use velprior_kernels::{DdpmStep, DdpmVariance, Schedule, ddpm_step, guided_update};

use crate::observer::{IterationRecord, PosteriorObserver};
use crate::problem::Problem;
use crate::tensors::{level, to_models};
use crate::{PosteriorError, Result};

/// How ∇_{x_t} of the data term is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Guidance {
    /// Through the network with candle autograd: Jᵀ ∇_{x̂_0}, J = ∂x̂_0/∂x_t (Chung et al.).
    Network,
    /// ∂x̂_0/∂x_t ≈ I/√ᾱ_t: no backward pass, works with any denoiser (analytic oracles).
    Approximate,
}

/// DPS settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DpsConfig {
    /// Reverse steps (uniform respacing of the training schedule).
    pub steps: usize,
    /// Step size ζ of the guided update x ← x − ζ ∇‖r‖² / ‖r‖.
    pub zeta: f64,
    pub guidance: Guidance,
    /// Guided updates per reverse step (≥ 1): the extra ones act on x_t before the DDPM step.
    #[serde(default = "one")]
    pub likelihood_steps: usize,
    /// Samples drawn in one batch.
    pub samples: usize,
    /// Clip x̂_0 to [−1, 1] where the data term reads it and in the DDPM step, as Chung et al.'s
    /// sampler does; keeps a weak prior's first steps (ᾱ ≈ 0) from blowing up (default false).
    #[serde(default)]
    pub clip_x0: bool,
}

fn one() -> usize {
    1
}

/// The DPS gradient of x_t (N, 1, H, W) at `lvl`: ε̂, x̂_0, per-sample misfits f and
/// g = ∇_{x_t} ‖r‖² (with ‖r‖² = 2f: the squared residual norm for the L2 misfit). With `clip`
/// the misfit is taken at x̂_0 clipped to [−1, 1] (its gradient passed through unchanged).
pub fn dps_gradient(
    model: &dyn Denoiser,
    problem: &Problem,
    x: &Tensor,
    lvl: NoiseLevel,
    guidance: Guidance,
    clip: bool,
) -> Result<(Tensor, Tensor, Vec<f64>, Tensor)> {
    let n = x.dim(0)?;
    let levels = vec![lvl; n];
    let var = Var::from_tensor(x)?;
    let xt = match guidance {
        Guidance::Network => var.as_tensor().clone(),
        Guidance::Approximate => x.detach(),
    };
    let eps = model.predict_eps(&xt, &levels)?;
    if guidance == Guidance::Network && !eps.track_op() {
        return Err(PosteriorError::invalid(
            "dps.guidance = \"network\" needs a differentiable denoiser (the UNet); \
             analytic oracles need guidance = \"approximate\"",
        ));
    }
    let x0 = x0_from_eps(&xt, &eps, &levels)?;
    let (mut fs, mut g0) = (Vec::with_capacity(n), Vec::new());
    for mut m in to_models(&x0)? {
        if clip {
            m.iter_mut().for_each(|v| *v = v.clamp(-1.0, 1.0));
        }
        let (f, g) = problem.misfit(&m)?;
        fs.push(f);
        g0.extend(g.into_iter().map(|g| 2.0 * g));
    }
    let g0 = Tensor::from_vec(g0, x.dims(), x.device())?;
    let grad = match guidance {
        Guidance::Approximate => (g0 / lvl.alpha_bar.sqrt())?,
        Guidance::Network => {
            let grads = (&x0 * &g0)?.sum_all()?.backward()?;
            grads.get(var.as_tensor()).cloned().ok_or_else(|| {
                PosteriorError::invalid(
                    "dps.guidance = \"network\" needs a differentiable denoiser (the UNet); \
                     analytic oracles need guidance = \"approximate\"",
                )
            })?
        }
    };
    Ok((eps.detach(), x0.detach(), fs, grad))
}

/// DPS, Algorithm 1 of Chung et al. 2023: for k = K … 1, x'_{k−1} = DDPM step(x_k, ε̂) and
/// x_{k−1} = x'_{k−1} − ζ ∇_{x_k} ‖d − F(x̂_0(x_k))‖² / ‖d − F(x̂_0(x_k))‖ (the residual-normalised
/// step, `velprior_kernels::guided_update`), with σ² = β̃ on `schedule` respaced to
/// `cfg.steps`. Returns `cfg.samples` models (normalised units) concatenated.
///
/// Known bias: the guidance is the gradient of the likelihood at the posterior mean x̂_0, not
/// of p(d | x_t), so DPS is not an exact posterior sampler (see the crate tests for the measured
/// bias against a closed-form Gaussian posterior).
pub fn dps(
    model: &dyn Denoiser,
    problem: &Problem,
    schedule: &Schedule,
    cfg: &DpsConfig,
    seed: u64,
    observer: &mut dyn PosteriorObserver,
) -> Result<Vec<f32>> {
    if cfg.steps == 0 || cfg.samples == 0 || cfg.likelihood_steps == 0 {
        return Err(PosteriorError::invalid(
            "dps: steps, samples and likelihood_steps must be >= 1",
        ));
    }
    let schedule = velprior_diffusion::samplers::respaced(schedule, cfg.steps)?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let [h, w] = problem.shape();
    let n = cfg.samples;
    let mut x = standard_normal(&mut rng, &[n, 1, h, w], model.device())?;
    let opts = DdpmStep {
        variance: DdpmVariance::Posterior,
        clip_x0: cfg.clip_x0.then_some((-1.0, 1.0)),
    };
    let total = schedule.len();
    for (it, k) in (0..total).rev().enumerate() {
        let lvl = level(&schedule, k)?;
        for _ in 1..cfg.likelihood_steps {
            let (_, _, fs, g) = dps_gradient(model, problem, &x, lvl, cfg.guidance, cfg.clip_x0)?;
            x = guided_update(&x, &g, cfg.zeta, &residual_norms(&fs))?;
        }
        let (eps, x0, fs, g) = dps_gradient(model, problem, &x, lvl, cfg.guidance, cfg.clip_x0)?;
        let z = (k > 0)
            .then(|| standard_normal(&mut rng, x.dims(), x.device()))
            .transpose()?;
        let stepped = ddpm_step(&x, &eps, z.as_ref(), &k, &schedule, &opts)?;
        x = if k > 0 {
            guided_update(&stepped, &g, cfg.zeta, &residual_norms(&fs))?
        } else {
            stepped
        };
        let first = to_models(&x0.narrow(0, 0, 1)?)?.remove(0);
        observer.on_iteration(&IterationRecord {
            iteration: it,
            total,
            misfit: Some(fs[0]),
            alpha_bar: Some(lvl.alpha_bar),
            estimate: &first,
            ..Default::default()
        })?;
    }
    Ok(x.flatten_all()?.to_vec1::<f32>()?)
}

/// ‖r‖ = √(2f) per sample, floored so a perfect fit does not divide by zero.
fn residual_norms(fs: &[f64]) -> Vec<f64> {
    fs.iter().map(|f| (2.0 * f).sqrt().max(1e-12)).collect()
}
