//! RED-diff: regularisation by denoising with a diffusion prior (Mardani et al. 2024, "A
//! Variational Perspective on Solving Inverse Problems with Diffusion Models"), in the FWI form
//! of RED-DiffEq (Shan et al. 2026): no reverse chain, plain optimisation of
//! misfit(x) + λ·mean(sg[ε̂(x_t, t) − ε] · x), a fresh random t and ε every iteration.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use velprior_diffusion::Denoiser;
use velprior_diffusion::noise::standard_normal;
use velprior_kernels::Schedule;
use velprior_physics::fwi::adam::Adam;

use crate::observer::{IterationRecord, PosteriorObserver};
use crate::problem::Problem;
use crate::tensors::{level, to_batch, to_models};
use crate::{PosteriorError, Result};

/// RED-diff settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedDiffConfig {
    /// Adam iterations.
    pub iterations: usize,
    /// Adam learning rate in normalised units.
    pub lr: f32,
    /// Weight λ of the diffusion regulariser.
    pub lambda: f64,
    /// t is drawn uniformly from the training steps in [t_min, t_max] · T (fractions in (0, 1]).
    pub t_min: f64,
    pub t_max: f64,
    /// Independent runs (different t and ε draws), the spread of RED-diff's answers.
    pub samples: usize,
}

/// The RED-diff objective at x (normalised, one model) for a given noise level and noise ε:
/// (value, gradient) of f(x)/s + λ·mean(c · x) with c = ε̂(√ᾱ x + σ ε, t) − ε held fixed
/// (the stop-gradient), i.e. gradient ∇f/s + λ c / D. `eps_hat` is ε̂ already evaluated.
pub fn red_diff_objective(
    problem: &Problem,
    x: &[f32],
    eps_hat: &[f32],
    eps: &[f32],
    lambda: f64,
) -> Result<(f64, f64, Vec<f32>)> {
    let (f, mut g) = problem.neg_log_likelihood(x)?;
    let d = x.len() as f64;
    let mut reg = 0.0;
    for ((gi, xi), (eh, e)) in g.iter_mut().zip(x).zip(eps_hat.iter().zip(eps)) {
        let c = f64::from(eh - e);
        reg += c * f64::from(*xi);
        *gi += (lambda * c / d) as f32;
    }
    Ok((f, lambda * reg / d, g))
}

/// RED-diff from `start` (normalised, one model): `cfg.iterations` Adam steps on
/// [`red_diff_objective`], each with t ~ U{t_min·T … t_max·T} and ε ~ N(0, I) per sample,
/// x clipped to [−1, 1]. Returns `cfg.samples` models (normalised) concatenated.
pub fn red_diff(
    model: &dyn Denoiser,
    problem: &Problem,
    schedule: &Schedule,
    start: &[f32],
    cfg: &RedDiffConfig,
    seed: u64,
    observer: &mut dyn PosteriorObserver,
) -> Result<Vec<f32>> {
    let t_ok = 0.0 < cfg.t_min && cfg.t_min <= cfg.t_max && cfg.t_max <= 1.0;
    if cfg.iterations == 0 || cfg.samples == 0 || !t_ok {
        return Err(PosteriorError::invalid(
            "red_diff: need iterations >= 1, samples >= 1 and 0 < t_min <= t_max <= 1",
        ));
    }
    let (n, shape, d) = (cfg.samples, problem.shape(), problem.dim());
    let steps = schedule.len();
    let (k_lo, k_hi) = (
        ((cfg.t_min * steps as f64).ceil() as usize).clamp(1, steps) - 1,
        ((cfg.t_max * steps as f64).ceil() as usize).clamp(1, steps) - 1,
    );
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut xs: Vec<Vec<f32>> = vec![start.to_vec(); n];
    let mut adams: Vec<Adam> = (0..n)
        .map(|_| Adam::new(d, cfg.lr, 0.9, 0.999, 1e-8))
        .collect();
    for it in 0..cfg.iterations {
        let steps: Vec<usize> = (0..n).map(|_| rng.random_range(k_lo..=k_hi)).collect();
        let levels = steps
            .iter()
            .map(|&k| level(schedule, k))
            .collect::<Result<Vec<_>>>()?;
        let x = to_batch(&xs.concat(), n, shape, model.device())?;
        let eps = standard_normal(&mut rng, x.dims(), x.device())?;
        let x_t = velprior_kernels::q_sample(&x, &eps, &steps[..], schedule)?;
        let eps_hat = to_models(&model.predict_eps(&x_t, &levels)?)?;
        let eps = to_models(&eps)?;
        let mut record = (0.0, 0.0);
        for (i, (x, adam)) in xs.iter_mut().zip(&mut adams).enumerate() {
            let (f, reg, g) = red_diff_objective(problem, x, &eps_hat[i], &eps[i], cfg.lambda)?;
            if i == 0 {
                record = (f * problem.likelihood_scale, reg);
            }
            adam.step(x, &g);
            x.iter_mut().for_each(|v| *v = v.clamp(-1.0, 1.0));
        }
        observer.on_iteration(&IterationRecord {
            iteration: it,
            total: cfg.iterations,
            misfit: Some(record.0),
            regulariser: Some(record.1),
            estimate: &xs[0],
            ..Default::default()
        })?;
    }
    Ok(xs.concat())
}
