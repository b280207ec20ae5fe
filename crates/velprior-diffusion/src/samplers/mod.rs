//! Samplers: from noise x_T ~ N(0, I) to x_0 ~ p(x_0) using only a [`Denoiser`], in the style of
//! k-diffusion: one short function per algorithm, each citing its paper, each taking the model,
//! the initial noise, the noise grid, an RNG and a [`SamplerObserver`] for trajectories and
//! progress.
//!
//! - [`sample_ddpm`]: ancestral sampling (Ho et al. 2020, Alg. 2), full or respaced schedule.
//! - [`sample_ddim`]: DDIM with η (Song, Meng & Ermon 2021).
//! - [`sample_dpm_solver_pp`]: DPM-Solver++(2M), a second-order probability-flow ODE solver
//!   (Lu et al. 2022).
//! - [`sample_euler_maruyama`]: the reverse VP-SDE with Euler–Maruyama (Song et al. 2021).
//! - [`sample_predictor_corrector`]: EM predictor + Langevin corrector (Song et al. 2021).
//!
//! x̂_0 is kept in the data's range by clipping or, for DPM-Solver++, by dynamic thresholding
//! ([`Thresholding`]).
//!
//! The per-step arithmetic is the fused ops of `velprior_kernels`; the samplers are the loops.
//! [`SamplerConfig`] + [`sample`] is the entry point of the CLI and the trainer. Discrete
//! samplers call the denoiser with `NoiseLevel::discrete(model_timestep(k), T, ᾱ_k)`, continuous
//! ones with `NoiseLevel { alpha_bar: ᾱ(t), t }` of the VP-SDE.

mod ddim;
mod ddpm;
mod dpm_solver;
mod euler_maruyama;
mod predictor_corrector;
mod thresholding;

pub use ddim::sample_ddim;
pub use ddpm::sample_ddpm;
pub use dpm_solver::sample_dpm_solver_pp;
pub use euler_maruyama::sample_euler_maruyama;
pub use predictor_corrector::{LangevinCorrector, sample_predictor_corrector};
pub use thresholding::{DEFAULT_DYNAMIC_THRESHOLD, Thresholding, dynamic_threshold};

use candle_core::{Device, Tensor};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use velprior_kernels::respacing::{log_snr_timesteps, uniform_timesteps};
use velprior_kernels::{BetaSchedule, DdimStep, DdpmStep, DdpmVariance, Schedule, VpSde};

use crate::denoiser::{Denoiser, NoiseLevel, x0_from_eps};
use crate::noise::standard_normal;
use crate::{DiffusionError, Result};

/// What an observer sees at each denoiser evaluation of a sampler.
#[derive(Debug)]
pub struct SamplerStep<'a> {
    /// 0-based index of this step.
    pub step: usize,
    /// Total number of steps of the run: the schedule length for DDPM / DDIM, grid points for
    /// the SDE samplers (steps + the final denoising; corrector evaluations are not reported).
    pub num_steps: usize,
    /// The noise level of x.
    pub level: NoiseLevel,
    /// The current state x_t (N, C, H, W), before this step's update.
    pub x: &'a Tensor,
    /// Tweedie's x̂_0 = E[x_0 | x_t] at this step (N, C, H, W).
    pub x0_hat: &'a Tensor,
}

/// A hook called at every step of a sampler: trajectories, progress bars, PNG dumps. An error
/// aborts the sampling and is returned by the sampler.
pub trait SamplerObserver {
    /// Called once per step, before the update.
    fn on_step(&mut self, step: &SamplerStep<'_>) -> Result<()>;
}

/// Observes nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoObserver;

impl SamplerObserver for NoObserver {
    fn on_step(&mut self, _step: &SamplerStep<'_>) -> Result<()> {
        Ok(())
    }
}

impl<F: FnMut(&SamplerStep<'_>) -> Result<()>> SamplerObserver for F {
    fn on_step(&mut self, step: &SamplerStep<'_>) -> Result<()> {
        self(step)
    }
}

fn default_t_min() -> f64 {
    1e-3
}
fn default_snr() -> f64 {
    0.16
}
fn default_corrector_steps() -> usize {
    1
}

/// Which sampler and its settings, as read from TOML (`[sampler]`, `kind = "ddim"`, …); unknown
/// keys are rejected.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum SamplerConfig {
    /// [`sample_ddpm`]: `steps` = None uses every training step, Some(S) a uniform respacing.
    Ddpm {
        #[serde(default)]
        steps: Option<usize>,
        #[serde(default)]
        variance: DdpmVariance,
        /// Clip x̂_0 to [lo, hi] inside each step.
        #[serde(default)]
        clip: Option<[f32; 2]>,
    },
    /// [`sample_ddim`] on a uniform respacing to `steps` steps.
    Ddim {
        steps: usize,
        #[serde(default)]
        eta: f64,
        /// Clip x̂_0 to [lo, hi] inside each step.
        #[serde(default)]
        clip: Option<[f32; 2]>,
    },
    /// [`sample_dpm_solver_pp`] on `steps` steps evenly spaced in log-SNR.
    DpmSolver {
        steps: usize,
        /// Clip x̂_0 to [lo, hi] at each step.
        #[serde(default)]
        clip: Option<[f32; 2]>,
        /// Instead of `clip`: dynamic thresholding of x̂_0 at this quantile of |x̂_0| per
        /// sample (e.g. 0.95; [`Thresholding::Dynamic`]).
        #[serde(default)]
        dynamic_threshold: Option<f64>,
    },
    /// [`sample_euler_maruyama`] with `steps` steps from t = 1 to `t_min`.
    EulerMaruyama {
        steps: usize,
        #[serde(default = "default_t_min")]
        t_min: f64,
        /// Clip the final x̂_0 to [lo, hi].
        #[serde(default)]
        clip: Option<[f32; 2]>,
    },
    /// [`sample_predictor_corrector`]: `steps` predictor steps, `corrector_steps` Langevin steps
    /// each with signal-to-noise ratio `snr`.
    Pc {
        steps: usize,
        #[serde(default = "default_snr")]
        snr: f64,
        #[serde(default = "default_corrector_steps")]
        corrector_steps: usize,
        #[serde(default = "default_t_min")]
        t_min: f64,
        /// Clip the final x̂_0 to [lo, hi].
        #[serde(default)]
        clip: Option<[f32; 2]>,
    },
}

impl SamplerConfig {
    /// Deterministic DDIM with `steps` steps (η = 0, no clipping).
    pub fn ddim(steps: usize) -> Self {
        SamplerConfig::Ddim {
            steps,
            eta: 0.0,
            clip: None,
        }
    }

    /// DPM-Solver++(2M) with `steps` steps and x̂_0 dynamically thresholded at
    /// [`DEFAULT_DYNAMIC_THRESHOLD`].
    pub fn dpm_solver(steps: usize) -> Self {
        SamplerConfig::DpmSolver {
            steps,
            clip: None,
            dynamic_threshold: Some(DEFAULT_DYNAMIC_THRESHOLD),
        }
    }

    /// Checks every value; the error names the `sampler.<key>` at fault and the valid range.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(DiffusionError::Config(format!("sampler.{m}")));
        let (steps, clip) = match self {
            SamplerConfig::Ddpm { steps, clip, .. } => (steps.unwrap_or(1), clip),
            SamplerConfig::Ddim { steps, clip, .. }
            | SamplerConfig::DpmSolver { steps, clip, .. }
            | SamplerConfig::EulerMaruyama { steps, clip, .. }
            | SamplerConfig::Pc { steps, clip, .. } => (*steps, clip),
        };
        if steps == 0 {
            return bad("steps = 0: need at least 1 step".into());
        }
        if let Some([lo, hi]) = clip
            && lo.partial_cmp(hi) != Some(std::cmp::Ordering::Less)
        {
            return bad(format!(
                "clip = [{lo}, {hi}]: need lo < hi, e.g. [-1.0, 1.0]"
            ));
        }
        match *self {
            SamplerConfig::DpmSolver {
                dynamic_threshold: Some(q),
                clip,
                ..
            } => {
                if !(q > 0.0 && q <= 1.0) {
                    bad(format!(
                        "dynamic_threshold = {q}: must be a quantile in (0, 1], e.g. 0.95"
                    ))
                } else if clip.is_some() {
                    bad("clip and dynamic_threshold are both set: keep one".into())
                } else {
                    Ok(())
                }
            }
            SamplerConfig::Ddim { eta, .. } if !(0.0..=1.0).contains(&eta) => {
                bad(format!("eta = {eta}: must be in [0, 1]"))
            }
            SamplerConfig::EulerMaruyama { t_min, .. } | SamplerConfig::Pc { t_min, .. }
                if !(t_min > 0.0 && t_min < 1.0) =>
            {
                bad(format!("t_min = {t_min}: must be in (0, 1), e.g. 1e-3"))
            }
            SamplerConfig::Pc { snr, .. } if !(snr > 0.0 && snr.is_finite()) => {
                bad(format!("snr = {snr}: must be > 0, e.g. 0.16"))
            }
            _ => Ok(()),
        }
    }
}

/// Draws `shape` = (N, C, H, W) samples with the sampler of `cfg` from a model trained on
/// `schedule` (its discrete training schedule; the SDE samplers need a linear one, see
/// [`vp_sde_for`]). The initial noise and every later draw come from `ChaCha8Rng(seed)`, so the
/// same seed gives the same bits on the same machine. Returns x_0 (N, C, H, W) f32.
pub fn sample(
    model: &dyn Denoiser,
    cfg: &SamplerConfig,
    schedule: &Schedule,
    shape: &[usize],
    device: &Device,
    seed: u64,
    observer: &mut dyn SamplerObserver,
) -> Result<Tensor> {
    cfg.validate()?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let x = standard_normal(&mut rng, shape, device)?;
    let clip = |c: &Option<[f32; 2]>| c.map(|[lo, hi]| (lo, hi));
    match cfg {
        SamplerConfig::Ddpm {
            steps,
            variance,
            clip: c,
        } => {
            let respaced = match steps {
                Some(s) => respaced(schedule, *s)?,
                None => schedule.clone(),
            };
            let opts = DdpmStep {
                variance: *variance,
                clip_x0: clip(c),
            };
            sample_ddpm(model, x, &respaced, &opts, &mut rng, observer)
        }
        SamplerConfig::Ddim {
            steps,
            eta,
            clip: c,
        } => {
            let opts = DdimStep {
                eta: *eta,
                clip_x0: clip(c),
            };
            sample_ddim(
                model,
                x,
                &respaced(schedule, *steps)?,
                &opts,
                &mut rng,
                observer,
            )
        }
        SamplerConfig::DpmSolver {
            steps,
            clip: c,
            dynamic_threshold,
        } => {
            let grid = if *steps == schedule.len() {
                schedule.clone()
            } else {
                schedule.respace(&log_snr_timesteps(schedule, *steps)?)?
            };
            let threshold = match dynamic_threshold {
                Some(quantile) => Some(Thresholding::Dynamic {
                    quantile: *quantile,
                }),
                None => clip(c).map(|(lo, hi)| Thresholding::Clip(lo, hi)),
            };
            sample_dpm_solver_pp(model, x, &grid, threshold, observer)
        }
        SamplerConfig::EulerMaruyama {
            steps,
            t_min,
            clip: c,
        } => {
            let ts = vp_time_grid(*steps, *t_min)?;
            let x0 =
                sample_euler_maruyama(model, x, &vp_sde_for(schedule)?, &ts, &mut rng, observer)?;
            clamp(x0, clip(c))
        }
        SamplerConfig::Pc {
            steps,
            snr,
            corrector_steps,
            t_min,
            clip: c,
        } => {
            let ts = vp_time_grid(*steps, *t_min)?;
            let corrector = LangevinCorrector {
                snr: *snr,
                steps: *corrector_steps,
            };
            let sde = vp_sde_for(schedule)?;
            let x0 =
                sample_predictor_corrector(model, x, &sde, &ts, &corrector, &mut rng, observer)?;
            clamp(x0, clip(c))
        }
    }
}

fn clamp(x: Tensor, clip: Option<(f32, f32)>) -> Result<Tensor> {
    Ok(match clip {
        Some((lo, hi)) => x.clamp(lo, hi)?,
        None => x,
    })
}

/// `schedule` respaced to `steps` uniformly spaced timesteps (both ends kept); the schedule
/// itself when `steps` is its length.
pub fn respaced(schedule: &Schedule, steps: usize) -> Result<Schedule> {
    if steps == schedule.len() {
        return Ok(schedule.clone());
    }
    Ok(schedule.respace(&uniform_timesteps(schedule.len(), steps)?)?)
}

/// The VP-SDE whose T-step discretisation is `schedule` (linear β from β_min/T to β_max/T,
/// [`VpSde::discretize`]): what the SDE samplers integrate for a model trained on it. Other
/// schedules (cosine, sigmoid, respaced) have no linear-β SDE: use DDPM or DDIM for them.
pub fn vp_sde_for(schedule: &Schedule) -> Result<VpSde> {
    let t = schedule.num_train_timesteps();
    match *schedule.kind() {
        BetaSchedule::Linear {
            beta_start,
            beta_end,
        } if schedule.len() == t => Ok(VpSde::new(beta_start * t as f64, beta_end * t as f64)?),
        ref kind => Err(DiffusionError::Config(format!(
            "sampler.kind: the euler-maruyama and pc samplers need a model trained on the linear \
             schedule (the VP-SDE), this one has {kind:?} with {} of {t} steps; use kind = \"ddim\" \
             or \"ddpm\"",
            schedule.len()
        ))),
    }
}

/// `steps` + 1 times 1 = t_0 > t_1 > … > t_steps = `t_min`, evenly spaced: the grid of the SDE
/// samplers.
pub fn vp_time_grid(steps: usize, t_min: f64) -> Result<Vec<f64>> {
    if steps == 0 || !(t_min > 0.0 && t_min < 1.0) {
        return Err(DiffusionError::invalid(format!(
            "vp_time_grid: need steps >= 1 and t_min in (0, 1), got {steps} and {t_min}"
        )));
    }
    let h = (1.0 - t_min) / steps as f64;
    Ok((0..=steps)
        .map(|i| {
            if i == steps {
                t_min
            } else {
                1.0 - i as f64 * h
            }
        })
        .collect())
}

/// Checks that `ts` is a grid of at least two times in (0, 1], strictly decreasing.
fn check_time_grid(ts: &[f64]) -> Result<()> {
    let ok = ts.len() >= 2
        && ts.iter().all(|t| *t > 0.0 && *t <= 1.0)
        && ts.windows(2).all(|w| w[0] > w[1]);
    if ok {
        Ok(())
    } else {
        Err(DiffusionError::invalid(format!(
            "time grid must hold >= 2 strictly decreasing times in (0, 1], got {} values from {:?} to {:?}",
            ts.len(),
            ts.first(),
            ts.last()
        )))
    }
}

/// The level of step k of a (possibly respaced) discrete schedule: training timestep, T, ᾱ_k.
fn discrete_level(schedule: &Schedule, k: usize) -> Result<NoiseLevel> {
    Ok(NoiseLevel::discrete(
        schedule.model_timestep(k)?,
        schedule.num_train_timesteps(),
        schedule.tables_f64().alphas_cumprod[k],
    ))
}

/// The level of continuous time t of the VP-SDE.
fn continuous_level(sde: &VpSde, t: f64) -> NoiseLevel {
    NoiseLevel {
        alpha_bar: sde.alpha_bar(t),
        t,
    }
}

/// The last step of the SDE samplers: x̂_0 = (x − σ ε̂)/√ᾱ at t = ts.last() (Tweedie).
fn denoise_final(
    model: &dyn Denoiser,
    x: &Tensor,
    sde: &VpSde,
    ts: &[f64],
    observer: &mut dyn SamplerObserver,
) -> Result<Tensor> {
    let t = ts[ts.len() - 1];
    let level = continuous_level(sde, t);
    let levels = vec![level; x.dim(0)?];
    let x0 = x0_from_eps(x, &model.predict_eps(x, &levels)?, &levels)?;
    let (step, num_steps) = (ts.len() - 1, ts.len());
    observer.on_step(&SamplerStep {
        step,
        num_steps,
        level,
        x,
        x0_hat: &x0,
    })?;
    Ok(x0)
}
