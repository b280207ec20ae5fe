//! RED-diff: regularisation by denoising with a diffusion prior (Mardani et al. 2024, "A
//! Variational Perspective on Solving Inverse Problems with Diffusion Models"), in the FWI form
//! of RED-DiffEq (Shan et al. 2026): no reverse chain, plain optimisation of
//! misfit(x) + λ·mean(sg[ε̂(x_t, t) − ε] · x), a fresh random t and ε every iteration.
//!
//! At the edge of the prior's support (the velocity cap, where many training models sit) the
//! regulariser's gradient E[ε̂ − ε] does not vanish as t → 0: the noise that pushes x outward is
//! predicted, the noise that pushes it inward is not, so the mean residual points inward at
//! every level. Where the data are blind nothing resists that pull; [`PriorWeight::Illumination`]
//! fades λ there.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use velprior_diffusion::Denoiser;
use velprior_diffusion::noise::standard_normal;
use velprior_kernels::Schedule;
use velprior_physics::fwi::adam::Adam;

use crate::illumination::{data_precision, seen_fraction};
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
    /// How λ varies over the model (default: the same everywhere; not written when default,
    /// so the states of runs made before it match).
    #[serde(default, skip_serializing_if = "PriorWeight::is_uniform")]
    pub prior_weight: PriorWeight,
}

/// How RED-diff's prior weight λ varies over the model.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum PriorWeight {
    /// λ in every cell (the paper).
    #[default]
    Uniform,
    /// λ · h / (h + fade_below · max h) per cell, h = diag(JᵀJ) / s estimated at the start
    /// ([`data_precision`], `probes` random data vectors, blurred by `smooth` cells): the
    /// prior's pull fades in cells the data see less than `fade_below` of the best-seen cell,
    /// so those keep the start's values.
    Illumination {
        probes: usize,
        smooth: f32,
        fade_below: f32,
    },
}

impl PriorWeight {
    fn is_uniform(&self) -> bool {
        *self == PriorWeight::Uniform
    }

    /// λ per cell for a run from `start`.
    fn per_cell(
        self,
        lambda: f64,
        problem: &Problem,
        start: &[f32],
        seed: u64,
    ) -> Result<Vec<f64>> {
        match self {
            PriorWeight::Uniform => Ok(vec![lambda; start.len()]),
            PriorWeight::Illumination {
                probes,
                smooth,
                fade_below,
            } => {
                let valid = |v: f32, min: f32| v.is_finite() && v >= min;
                if probes == 0 || !valid(smooth, 0.0) || !valid(fade_below, f32::MIN_POSITIVE) {
                    return Err(PosteriorError::invalid(
                        "red_diff: prior_weight needs probes >= 1, a finite smooth >= 0 and a finite fade_below > 0 (e.g. probes = 8, smooth = 2, fade_below = 0.01)",
                    ));
                }
                let h = data_precision(problem, start, probes, smooth, seed)?;
                let seen = seen_fraction(&h, fade_below)
                    .map_err(|e| PosteriorError::invalid(format!("red_diff: prior_weight: {e}")))?;
                Ok(seen.iter().map(|w| lambda * w).collect())
            }
        }
    }
}

/// The RED-diff objective at x (normalised, one model) for a given noise level and noise ε:
/// (misfit, regulariser, gradient) of f(x)/s + mean(λ · c · x) with c = ε̂(√ᾱ x + σ ε, t) − ε
/// held fixed (the stop-gradient) and λ per cell, i.e. gradient ∇f/s + λ c / D. `eps_hat` is ε̂
/// already evaluated.
pub fn red_diff_objective(
    problem: &Problem,
    x: &[f32],
    eps_hat: &[f32],
    eps: &[f32],
    lambda: &[f64],
) -> Result<(f64, f64, Vec<f32>)> {
    let (f, mut g) = problem.neg_log_likelihood(x)?;
    let d = x.len() as f64;
    let mut reg = 0.0;
    let residuals = eps_hat.iter().zip(eps).zip(lambda);
    for ((gi, xi), ((eh, e), l)) in g.iter_mut().zip(x).zip(residuals) {
        let c = l * f64::from(eh - e);
        reg += c * f64::from(*xi);
        *gi += (c / d) as f32;
    }
    Ok((f, reg / d, g))
}

/// RED-diff from `start` (normalised, one model): `cfg.iterations` Adam steps on
/// [`red_diff_objective`], each with t ~ U{t_min·T … t_max·T} and ε ~ N(0, I) per sample,
/// x clipped to [−1, 1], λ per cell from `cfg.prior_weight`. Returns `cfg.samples` models
/// (normalised) concatenated.
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
    let lambda = cfg
        .prior_weight
        .per_cell(cfg.lambda, problem, start, seed)?;
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
            let (f, reg, g) = red_diff_objective(problem, x, &eps_hat[i], &eps[i], &lambda)?;
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
