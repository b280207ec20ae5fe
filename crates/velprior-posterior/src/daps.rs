//! Decoupled annealing posterior sampling (DAPS; Zhang et al. 2024, "Improving Diffusion
//! Inverse Problem Solving with Decoupled Noise Annealing", Algorithm 1), for the VP process.
//!
//! For noise levels ᾱ_K < … < ᾱ_1 (a uniform respacing of the training schedule): from x_t,
//! the denoiser's x̂_0(x_t); then Langevin dynamics on x_0 targeting
//! p(x_0 | x_t, d) ∝ N(x_0; x̂_0, r_t² I) · exp(−f(x_0) / s), with r_t = ρ √(1 − ᾱ_t) (the
//! posterior std of x_0 given x_t for unit-variance data), f the data misfit and s the problem's
//! likelihood scale; then x_{t'} = √ᾱ_{t'} x_0 + √(1 − ᾱ_{t'}) ε with fresh noise at the next
//! level. The data enter only through x_0, at every level, so the chain can move far from
//! where the noise started (unlike DPS, whose guidance acts through x_t). With `t0 < 1` the
//! annealing starts at level t0 · T from the start model noised there (as SDEdit does), so a
//! smooth FWI start need not be rediscovered from pure noise. Each sample costs
//! `steps × langevin_steps` misfit gradients and `steps` denoiser calls (fewer with t0 < 1).
//!
//! With `x0_step = { kind = "gauss-newton", cg_iterations = n }` the Langevin is replaced by
//! one randomise-then-optimise draw under the operator linearised at the anchor
//! ([`gauss_newton_draw`]): Langevin steps on the stiff wave-equation likelihood must be too
//! small to fit seismic data.
//!
//! DAPS is exact when each level samples x_0 | x_t, d exactly (then x_{t'} ~ p(x_{t'} | d));
//! its Gaussian model of x_0 | x_t is far off at high noise, where a multimodal prior's
//! x_0 | x_t is itself multimodal, and that is where DAPS picks the posterior's mode. With
//! `candidates = M > 0` (mode-aware DAPS) the Gaussian is replaced by a kernel estimate: M draws
//! of x_0 | x_t by DDPM from the level down, one chosen with probability ∝ p(d | x_0)
//! (importance resampling), and the Langevin runs on N(x_0; chosen, r_t² I) · p(d | x_0) —
//! exact as M → ∞ and ρ → 0. Tested against the exact posterior of a memorising prior with
//! the wave operator (`tests/empirical_exact.rs`).

use candle_core::Tensor;
use rand::SeedableRng;
use rand::distr::weighted::WeightedIndex;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};
use velprior_data::item_seed;
use velprior_diffusion::Denoiser;
use velprior_diffusion::denoiser::{NoiseLevel, x0_from_eps};
use velprior_diffusion::noise::standard_normal;
use velprior_diffusion::samplers::{NoObserver, sample_ddpm};

use velprior_kernels::respacing::uniform_timesteps;
use velprior_kernels::{DdpmStep, Schedule};

use crate::gauss_newton::gauss_newton_draw;
use crate::illumination::data_precision;
use crate::observer::{IterationRecord, PosteriorObserver};
use crate::problem::Problem;
use crate::start_error::StartError;
use crate::tensors::{level, to_batch, to_models};
use crate::{PosteriorError, Result};

/// DAPS settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DapsConfig {
    /// Annealing levels (uniform respacing of the training schedule).
    pub steps: usize,
    /// How x_0 | x_t, d is drawn at each level (default: Langevin, as in the paper).
    #[serde(default)]
    pub x0_step: X0Step,
    /// Langevin steps on x_0 per level.
    #[serde(default = "langevin_steps")]
    pub langevin_steps: usize,
    /// Langevin step size at a level: η = lr · r_t² (default 1e-4).
    #[serde(default = "lr")]
    pub lr: f64,
    /// Scale ρ of r_t (default 1).
    #[serde(default = "one")]
    pub rho: f64,
    /// The variance r_t² / ρ² of the Gaussian model of x_0 | x_t (default: 1 − ᾱ_t, as in
    /// the paper).
    #[serde(default)]
    pub x0_variance: X0Variance,
    /// The annealing starts at level t0 · T from the start model noised there; 1 (the
    /// default) starts from pure noise.
    #[serde(default = "one")]
    pub t0: f64,
    /// With t0 < 1, each chain starts from the start model plus a draw of this error field
    /// ([`StartError`]), kept where the data are blind: the start's stated uncertainty there
    /// (default: none, every chain from the start itself). Estimates diag(JᵀJ) / s at the start
    /// as the preconditioner does (with its settings, or 8 probes and a blur of 2 cells).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_error: Option<StartError>,
    /// Independent samples (one chain each, seeded seed + j by the runner).
    pub samples: usize,
    /// Evaluate the likelihood at x_0 clamped to [−1, 1] (the prior's range, so that the
    /// operator sees physical models) and return clamped samples (default true).
    #[serde(default = "yes")]
    pub clip_x0: bool,
    /// Mode-aware x_0 | x_t, d: this many draws of x_0 | x_t from the prior (DDPM from the
    /// level down), one chosen by likelihood weight, anchor the Langevin instead of x̂_0
    /// (0, the default: x̂_0, as in the paper). Costs `candidates` forward solves and
    /// ≤ `candidate_steps` denoiser calls (batched) per level.
    #[serde(default)]
    pub candidates: usize,
    /// DDPM steps of a candidate draw (default 25).
    #[serde(default = "candidate_steps")]
    pub candidate_steps: usize,
}

/// The draw of x_0 | x_t, d at a level, about its anchor.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum X0Step {
    /// `langevin_steps` Langevin steps of size lr · r_t² (the paper).
    #[default]
    Langevin,
    /// One Gauss–Newton randomise-then-optimise draw with `cg_iterations` conjugate-gradient
    /// iterations ([`gauss_newton_draw`]): for the stiff seismic likelihood; needs the L2
    /// misfit.
    GaussNewton {
        cg_iterations: usize,
        /// Where the forward operator is linearised (default: at each level's anchor).
        #[serde(default)]
        linearise_at: Linearisation,
        /// Precondition CG by diag(JᵀJ) / s, estimated at the start model by each chain
        /// (default: none; not written when none, so runs recorded before the setting existed
        /// still resume).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        preconditioner: Option<Preconditioner>,
    },
}

/// The Jacobi preconditioner of the Gauss–Newton x_0 step: diag(JᵀJ) / s estimated by
/// [`data_precision`] at the start model when a chain starts (one forward solve, then one
/// adjoint solve per probe: 8 probes cost about two thirds of a Gauss–Newton draw of 5
/// iterations).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Preconditioner {
    /// Random data vectors of the estimate (default 8).
    #[serde(default = "probes")]
    pub probes: usize,
    /// Gaussian blur of the estimate, cells (default 2).
    #[serde(default = "two")]
    pub smooth: f32,
}

/// Where the Gauss–Newton x_0 step linearises the forward operator.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Linearisation {
    /// At each level's anchor (x̂_0): Gauss–Newton on the full nonlinear operator.
    #[default]
    Anchor,
    /// At the start model (with a first stage, the posterior's mode), for every level: the
    /// samples are those of the prior times the likelihood linearised there (a Laplace-style
    /// likelihood, accurate where the posterior stays near the mode). Anchors far from the
    /// mode at high noise then cannot pull the linearisation into another basin (cycle
    /// skipping), which is meant to let the anneal start from pure noise (t0 = 1); on the
    /// seismic calibration models that blurred the mean without widening the bands (README).
    Start,
}

/// The variance per pixel of the Gaussian model N(x_0; anchor, r_t² I) of x_0 | x_t.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum X0Variance {
    /// 1 − ᾱ_t: the posterior variance of x_0 given x_t for unit-variance white data (the
    /// paper's r_t = σ_t); far wider than x_0 | x_t of a structured prior at low noise.
    #[default]
    UnitData,
    /// The mean variance of x_0 | x_t under the prior itself, from the second-order Tweedie
    /// formula ([`tweedie_x0_variance`]): one more denoiser call per level.
    Tweedie,
}

fn langevin_steps() -> usize {
    10
}

fn lr() -> f64 {
    1e-4
}

fn one() -> f64 {
    1.0
}

fn probes() -> usize {
    8
}

fn two() -> f32 {
    2.0
}

fn candidate_steps() -> usize {
    25
}

fn yes() -> bool {
    true
}

/// `cfg.samples` DAPS samples (normalised units, concatenated), drawn one after another;
/// `start` (normalised) is used when `cfg.t0 < 1`.
pub fn daps(
    model: &dyn Denoiser,
    problem: &Problem,
    schedule: &Schedule,
    cfg: &DapsConfig,
    start: &[f32],
    seed: u64,
    observer: &mut dyn PosteriorObserver,
) -> Result<Vec<f32>> {
    if cfg.steps == 0 || cfg.samples == 0 || cfg.langevin_steps == 0 {
        return Err(PosteriorError::invalid(
            "daps: steps, langevin_steps and samples must be >= 1",
        ));
    }
    if !(cfg.lr > 0.0 && cfg.lr.is_finite() && cfg.rho > 0.0 && cfg.rho.is_finite()) {
        return Err(PosteriorError::invalid(
            "daps: lr and rho must be finite and > 0",
        ));
    }
    if let X0Step::GaussNewton {
        cg_iterations: 0, ..
    } = cfg.x0_step
    {
        return Err(PosteriorError::invalid(
            "daps: x0_step.cg_iterations must be >= 1 (e.g. 10)",
        ));
    }
    if let X0Step::GaussNewton {
        preconditioner: Some(p),
        ..
    } = cfg.x0_step
        && !(p.probes >= 1 && p.smooth >= 0.0 && p.smooth.is_finite())
    {
        return Err(PosteriorError::invalid(
            "daps: x0_step.preconditioner needs probes >= 1 and a finite smooth >= 0 (e.g. probes = 8, smooth = 2)",
        ));
    }
    if cfg.candidates > 0 && cfg.candidate_steps == 0 {
        return Err(PosteriorError::invalid(
            "daps: candidate_steps must be >= 1 (e.g. 25)",
        ));
    }
    if !(cfg.t0 > 0.0 && cfg.t0 <= 1.0) {
        return Err(PosteriorError::invalid("daps: t0 must lie in (0, 1]"));
    }
    if let Some(e) = &cfg.start_error {
        if cfg.t0 >= 1.0 {
            return Err(PosteriorError::invalid(
                "daps: start_error needs t0 < 1 (from t0 = 1 the chains start from noise, not from the start model)",
            ));
        }
        e.check()?;
    }
    let training = schedule;
    let schedule = velprior_diffusion::samplers::respaced(schedule, cfg.steps)?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let shape = problem.shape();
    let d = problem.dim();
    let mut out = Vec::with_capacity(cfg.samples * d);
    let k0 = ((cfg.t0 * schedule.len() as f64).ceil() as usize).clamp(1, schedule.len()) - 1;
    let total = k0 + 1;
    let preconditioner = match cfg.x0_step {
        X0Step::GaussNewton { preconditioner, .. } => preconditioner,
        X0Step::Langevin => None,
    };
    // diag(JᵀJ) / s at the start: the preconditioner's, and where the start error is kept.
    let precision = if preconditioner.is_some() || cfg.start_error.is_some() {
        let p = preconditioner.unwrap_or(Preconditioner {
            probes: probes(),
            smooth: two(),
        });
        Some(data_precision(problem, start, p.probes, p.smooth, seed)?)
    } else {
        None
    };
    let start_error = match (&cfg.start_error, &precision) {
        (Some(e), Some(h)) => Some((e, e.kept(h)?)),
        _ => None,
    };
    let precondition = preconditioner.and(precision.as_deref());
    for j in 0..cfg.samples {
        let noise = standard_normal(&mut rng, &[1, 1, shape[0], shape[1]], model.device())?;
        let mut x = if cfg.t0 < 1.0 {
            let a0 = level(&schedule, k0)?.alpha_bar;
            let x_start = match &start_error {
                Some((e, kept)) => {
                    let error = e.draw_for_chain(
                        problem.operator.model_shape(),
                        problem.normalisation,
                        kept,
                        item_seed(seed, j),
                        &mut rng,
                    );
                    let perturbed: Vec<f32> =
                        start.iter().zip(&error).map(|(s, e)| s + e).collect();
                    to_batch(&perturbed, 1, shape, model.device())?
                }
                None => to_batch(start, 1, shape, model.device())?,
            };
            ((x_start * a0.sqrt())? + (noise * (1.0 - a0).sqrt())?)?
        } else {
            noise
        };
        let mut x0 = vec![0f32; d];
        for (it, k) in (0..=k0).rev().enumerate() {
            let lvl = level(&schedule, k)?;
            // x_0 | x_t, d is drawn about an anchor: x̂_0, or a likelihood-weighted draw of
            // x_0 | x_t.
            let anchor = if cfg.candidates > 0 {
                resampled_x0(
                    model,
                    problem,
                    training,
                    schedule.model_timesteps()[k],
                    &x,
                    cfg,
                    &mut rng,
                )?
            } else {
                let eps = model.predict_eps(&x, &[lvl])?;
                to_models(&x0_from_eps(&x, &eps, &[lvl])?)?.remove(0)
            };
            let variance = match cfg.x0_variance {
                X0Variance::UnitData => 1.0 - lvl.alpha_bar,
                X0Variance::Tweedie => tweedie_x0_variance(model, &x, lvl, &mut rng)?,
            };
            let r2 = cfg.rho * cfg.rho * variance;
            let misfit;
            (x0, misfit) = match cfg.x0_step {
                X0Step::Langevin => langevin_x0(problem, &anchor, r2, cfg, &mut rng)?,
                X0Step::GaussNewton {
                    cg_iterations,
                    linearise_at,
                    ..
                } => {
                    let at = match linearise_at {
                        Linearisation::Anchor => &anchor[..],
                        Linearisation::Start => start,
                    };
                    let x0 = gauss_newton_draw(
                        problem,
                        &anchor,
                        at,
                        r2,
                        cg_iterations,
                        precondition,
                        &mut rng,
                    )?;
                    let f = if j == 0 {
                        let inside: Vec<f32> =
                            x0.iter().map(|&v| in_range(v, cfg.clip_x0)).collect();
                        problem.neg_log_likelihood_value(&inside)? * problem.likelihood_scale
                    } else {
                        0.0
                    };
                    (x0, f)
                }
            };
            if j == 0 {
                observer.on_iteration(&IterationRecord {
                    iteration: it,
                    total,
                    misfit: Some(misfit),
                    alpha_bar: Some(lvl.alpha_bar),
                    estimate: &x0,
                    ..Default::default()
                })?;
            }
            if k > 0 {
                // Re-noise x_0 to the next level with fresh noise.
                let next = level(&schedule, k - 1)?.alpha_bar;
                let z = standard_normal(&mut rng, &[1, 1, shape[0], shape[1]], model.device())?;
                let x0_t = to_batch(&x0, 1, shape, model.device())?;
                x = ((x0_t * next.sqrt())? + (z * (1.0 - next).sqrt())?)?;
            }
        }
        out.extend(x0.iter().map(|&v| in_range(v, cfg.clip_x0)));
    }
    Ok(out)
}

/// Relative size of the denoiser's difference step in [`tweedie_x0_variance`].
const TWEEDIE_STEP: f64 = 1e-3;

/// The mean variance per pixel of x_0 | x_t (one model, (1, 1, nz, nx)) under the denoiser's
/// prior, tr Cov[x_0 | x_t] / D, by the second-order Tweedie formula
/// Cov[x_0 | x_t] = (1 − ᾱ_t) / √ᾱ_t · ∂x̂_0/∂x_t (exact for an exact denoiser), its trace by
/// one Hutchinson probe z: zᵀ(x̂_0(x_t + h z) − x̂_0(x_t)) / h. Floored at 10⁻⁶ (1 − ᾱ_t), where
/// a learned denoiser's estimate is not positive.
pub fn tweedie_x0_variance(
    model: &dyn Denoiser,
    x_t: &Tensor,
    lvl: NoiseLevel,
    rng: &mut ChaCha8Rng,
) -> Result<f64> {
    let z = standard_normal(rng, x_t.dims(), model.device())?;
    let pair = Tensor::cat(&[x_t, &(x_t + (&z * TWEEDIE_STEP)?)?], 0)?;
    let eps = model.predict_eps(&pair, &[lvl, lvl])?;
    let x0 = to_models(&x0_from_eps(&pair, &eps, &[lvl, lvl])?)?;
    let z = z.flatten_all()?.to_vec1::<f32>()?;
    let quadratic: f64 = z
        .iter()
        .zip(x0[1].iter().zip(&x0[0]))
        .map(|(&z, (&b, &a))| f64::from(z) * (f64::from(b) - f64::from(a)))
        .sum::<f64>()
        / TWEEDIE_STEP;
    let noise = 1.0 - lvl.alpha_bar;
    let variance = noise / lvl.alpha_bar.sqrt() * quadratic / z.len() as f64;
    Ok(variance.max(1e-6 * noise))
}

/// `cfg.langevin_steps` Langevin steps on N(x_0; anchor, r2 I) · exp(−f(x_0) / s) from the
/// anchor, and the misfit at the last step's start.
fn langevin_x0(
    problem: &Problem,
    anchor: &[f32],
    r2: f64,
    cfg: &DapsConfig,
    rng: &mut ChaCha8Rng,
) -> Result<(Vec<f32>, f64)> {
    let eta = cfg.lr * r2;
    let mut x0 = anchor.to_vec();
    let mut misfit = 0.0;
    for _ in 0..cfg.langevin_steps {
        let (f, g) = misfit_in_range(problem, &x0, cfg.clip_x0)?;
        misfit = f;
        let noise = (2.0 * eta).sqrt();
        for ((x, &m), &g) in x0.iter_mut().zip(anchor).zip(&g) {
            let e: f64 = StandardNormal.sample(rng);
            let drift =
                -(f64::from(*x) - f64::from(m)) / r2 - f64::from(g) / problem.likelihood_scale;
            *x = (f64::from(*x) + eta * drift + noise * e) as f32;
        }
    }
    Ok((x0, misfit))
}

/// The misfit and its gradient at x_0 — with `clip`, at x_0 clamped to the prior's range
/// [−1, 1] (the operator sees physical models), the gradient zero where the clamp is active.
/// The Langevin state itself is not clamped: clamping it truncates N(x̂_0, r_t²) on one side
/// and biases the annealing towards models with more cells near the range's ends.
fn misfit_in_range(problem: &Problem, x0: &[f32], clip: bool) -> Result<(f64, Vec<f32>)> {
    if !clip {
        return problem.misfit(x0);
    }
    let inside: Vec<f32> = x0.iter().map(|&v| in_range(v, true)).collect();
    let (f, mut g) = problem.misfit(&inside)?;
    for (g, &v) in g.iter_mut().zip(x0) {
        if !(-1.0..=1.0).contains(&v) {
            *g = 0.0;
        }
    }
    Ok((f, g))
}

/// A draw of x_0 ∝ p(x_0 | x_t) p(d | x_0) by importance resampling: `cfg.candidates` draws of
/// x_0 | x_t by DDPM (`cfg.candidate_steps` steps from timestep `t` of the training `schedule`
/// down; exact for an exact denoiser as the steps grow), one of them chosen with probability
/// ∝ exp(−f(x_0) / s).
fn resampled_x0(
    model: &dyn Denoiser,
    problem: &Problem,
    schedule: &Schedule,
    t: usize,
    x_t: &Tensor,
    cfg: &DapsConfig,
    rng: &mut ChaCha8Rng,
) -> Result<Vec<f32>> {
    let steps = cfg.candidate_steps.min(t + 1);
    let below = schedule.respace(&uniform_timesteps(t + 1, steps)?)?;
    let x_t = Tensor::cat(&vec![x_t.clone(); cfg.candidates], 0)?;
    let drawn = sample_ddpm(
        model,
        x_t,
        &below,
        &DdpmStep::default(),
        rng,
        &mut NoObserver,
    )?;
    let mut draws = to_models(&drawn)?;
    let nll = draws
        .iter()
        .map(|x| {
            let inside: Vec<f32> = x.iter().map(|&v| in_range(v, cfg.clip_x0)).collect();
            problem.neg_log_likelihood_value(&inside)
        })
        .collect::<Result<Vec<f64>>>()?;
    let best = nll.iter().copied().fold(f64::INFINITY, f64::min);
    let weights = WeightedIndex::new(nll.iter().map(|v| (best - v).exp()))
        .map_err(|e| PosteriorError::invalid(format!("daps: candidate weights: {e}")))?;
    Ok(draws.swap_remove(weights.sample(rng)))
}

/// `v` clamped to the prior's range [−1, 1] when `clip`.
fn in_range(v: f32, clip: bool) -> f32 {
    if clip { v.clamp(-1.0, 1.0) } else { v }
}
