//! Discrete T-step noise schedules: β_t and every table derived from it (Ho et al. 2020, "Denoising
//! Diffusion Probabilistic Models"; Nichol & Dhariwal 2021, "Improved DDPM").
//!
//! Forward process: q(x_t | x_0) = N(√ᾱ_t x_0, (1 − ᾱ_t) I) with α_t = 1 − β_t and
//! ᾱ_t = ∏_{s ≤ t} α_s. Timesteps are 0-based: index 0 is the first (least noisy) step, T − 1 the
//! last. Every table is computed in f64 (ᾱ through log ᾱ = Σ ln(1 − β), 1 − ᾱ through `expm1`, so
//! neither end loses digits) and stored both as f64 (used by the fused ops) and f32.

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// How β_t is chosen. Serialisable, so a checkpoint's metadata can record it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum BetaSchedule {
    /// β_t evenly spaced from `beta_start` to `beta_end` (Ho et al. 2020: 1e-4 → 0.02, T = 1000).
    Linear { beta_start: f64, beta_end: f64 },
    /// ᾱ(t) = f(t)/f(0), f(t) = cos²(((t/T + s)/(1 + s)) · π/2), β_t = min(1 − ᾱ_{t+1}/ᾱ_t,
    /// `max_beta`) (Nichol & Dhariwal 2021, eq. 17: s = 0.008, β clipped at 0.999).
    Cosine { s: f64, max_beta: f64 },
    /// ᾱ(t) = (σ(end/τ) − σ((t/T · (end − start) + start)/τ)) / (σ(end/τ) − σ(start/τ)),
    /// β from ratios as for the cosine schedule, clipped at `max_beta` (Jabri et al. 2022;
    /// Chen 2023, "On the importance of noise scheduling"; denoising-diffusion-pytorch's
    /// `sigmoid_beta_schedule`, start = −3, end = 3, τ = 1).
    Sigmoid {
        start: f64,
        end: f64,
        tau: f64,
        max_beta: f64,
    },
}

impl BetaSchedule {
    /// Linear β from 1e-4 to 0.02 (Ho et al. 2020).
    pub fn linear() -> Self {
        BetaSchedule::Linear {
            beta_start: 1e-4,
            beta_end: 0.02,
        }
    }

    /// Cosine schedule with s = 0.008 and β ≤ 0.999 (Nichol & Dhariwal 2021).
    pub fn cosine() -> Self {
        BetaSchedule::Cosine {
            s: 0.008,
            max_beta: 0.999,
        }
    }

    /// Sigmoid schedule with start = −3, end = 3, τ = 1 and β ≤ 0.999.
    pub fn sigmoid() -> Self {
        BetaSchedule::Sigmoid {
            start: -3.0,
            end: 3.0,
            tau: 1.0,
            max_beta: 0.999,
        }
    }

    /// β_0 … β_{T−1} in f64.
    pub fn betas(&self, num_timesteps: usize) -> Result<Vec<f64>> {
        let bad = |m: String| Err(Error::InvalidSchedule(m));
        if num_timesteps == 0 {
            return bad("the number of timesteps must be at least 1".into());
        }
        let n = num_timesteps;
        match *self {
            BetaSchedule::Linear {
                beta_start,
                beta_end,
            } => {
                if !(beta_start > 0.0 && beta_start <= beta_end && beta_end < 1.0) {
                    return bad(format!(
                        "linear schedule needs 0 < beta_start <= beta_end < 1, got {beta_start} and {beta_end}"
                    ));
                }
                let step = if n > 1 {
                    (beta_end - beta_start) / (n - 1) as f64
                } else {
                    0.0
                };
                Ok((0..n).map(|i| beta_start + step * i as f64).collect())
            }
            BetaSchedule::Cosine { s, max_beta } => {
                if !(s > 0.0 && max_beta > 0.0 && max_beta < 1.0) {
                    return bad(format!(
                        "cosine schedule needs s > 0 and 0 < max_beta < 1, got s = {s}, max_beta = {max_beta}"
                    ));
                }
                let f = |i: usize| {
                    let u = (i as f64 / n as f64 + s) / (1.0 + s) * std::f64::consts::FRAC_PI_2;
                    u.cos().powi(2)
                };
                Ok(ratio_betas(n, f, max_beta))
            }
            BetaSchedule::Sigmoid {
                start,
                end,
                tau,
                max_beta,
            } => {
                if !(start < end && tau > 0.0 && max_beta > 0.0 && max_beta < 1.0) {
                    return bad(format!(
                        "sigmoid schedule needs start < end, tau > 0, 0 < max_beta < 1, got start = {start}, end = {end}, tau = {tau}, max_beta = {max_beta}"
                    ));
                }
                let sig = |x: f64| 1.0 / (1.0 + (-x).exp());
                let (v_start, v_end) = (sig(start / tau), sig(end / tau));
                let f = |i: usize| {
                    let t = i as f64 / n as f64;
                    (v_end - sig((t * (end - start) + start) / tau)) / (v_end - v_start)
                };
                Ok(ratio_betas(n, f, max_beta))
            }
        }
    }
}

/// β_i = min(1 − f(i+1)/f(i), max_beta) for a decreasing ᾱ-shaped function f.
fn ratio_betas(n: usize, f: impl Fn(usize) -> f64, max_beta: f64) -> Vec<f64> {
    (0..n)
        .map(|i| (1.0 - f(i + 1) / f(i)).clamp(0.0, max_beta))
        .collect()
}

/// The tables of a schedule, one entry per timestep (index 0 … len − 1).
#[derive(Clone, Debug, PartialEq)]
pub struct ScheduleTables<F> {
    /// β_t.
    pub betas: Vec<F>,
    /// α_t = 1 − β_t.
    pub alphas: Vec<F>,
    /// ᾱ_t = ∏_{s ≤ t} α_s, in (0, 1), decreasing.
    pub alphas_cumprod: Vec<F>,
    /// ᾱ_{t−1}, with ᾱ_{−1} = 1.
    pub alphas_cumprod_prev: Vec<F>,
    /// √ᾱ_t.
    pub sqrt_alphas_cumprod: Vec<F>,
    /// √(1 − ᾱ_t).
    pub sqrt_one_minus_alphas_cumprod: Vec<F>,
    /// Posterior variance β̃_t = β_t (1 − ᾱ_{t−1}) / (1 − ᾱ_t) of q(x_{t−1} | x_t, x_0) (β̃_0 = 0).
    pub posterior_variance: Vec<F>,
    /// ln β̃_t with β̃_0 replaced by β̃_1 (so it stays finite), as in improved-diffusion.
    pub posterior_log_variance_clipped: Vec<F>,
    /// Posterior mean coefficient of x_0: β_t √ᾱ_{t−1} / (1 − ᾱ_t).
    pub posterior_mean_coef1: Vec<F>,
    /// Posterior mean coefficient of x_t: (1 − ᾱ_{t−1}) √α_t / (1 − ᾱ_t).
    pub posterior_mean_coef2: Vec<F>,
}

impl ScheduleTables<f64> {
    fn to_f32(&self) -> ScheduleTables<f32> {
        let c = |v: &[f64]| v.iter().map(|&x| x as f32).collect::<Vec<f32>>();
        ScheduleTables {
            betas: c(&self.betas),
            alphas: c(&self.alphas),
            alphas_cumprod: c(&self.alphas_cumprod),
            alphas_cumprod_prev: c(&self.alphas_cumprod_prev),
            sqrt_alphas_cumprod: c(&self.sqrt_alphas_cumprod),
            sqrt_one_minus_alphas_cumprod: c(&self.sqrt_one_minus_alphas_cumprod),
            posterior_variance: c(&self.posterior_variance),
            posterior_log_variance_clipped: c(&self.posterior_log_variance_clipped),
            posterior_mean_coef1: c(&self.posterior_mean_coef1),
            posterior_mean_coef2: c(&self.posterior_mean_coef2),
        }
    }
}

/// A discrete noise schedule, possibly respaced (a subset of a training schedule's timesteps,
/// see [`Schedule::respace`]).
///
/// The fused ops index it with per-sample timesteps `t ∈ 0..len()`; the denoiser must be called
/// with [`Schedule::model_timestep`]`(t)`, the timestep of the training schedule.
#[derive(Clone, Debug)]
pub struct Schedule {
    kind: BetaSchedule,
    num_train_timesteps: usize,
    timestep_map: Vec<usize>,
    log_alphas_cumprod: Vec<f64>,
    one_minus_alphas_cumprod: Vec<f64>,
    t64: ScheduleTables<f64>,
    t32: ScheduleTables<f32>,
}

impl Schedule {
    /// The T-step training schedule of `kind`.
    pub fn new(kind: BetaSchedule, num_timesteps: usize) -> Result<Self> {
        let betas = kind.betas(num_timesteps)?;
        Self::from_betas(kind, num_timesteps, (0..num_timesteps).collect(), betas)
    }

    /// Linear schedule (1e-4 → 0.02) with `num_timesteps` steps.
    pub fn linear(num_timesteps: usize) -> Result<Self> {
        Self::new(BetaSchedule::linear(), num_timesteps)
    }

    /// Cosine schedule (s = 0.008) with `num_timesteps` steps.
    pub fn cosine(num_timesteps: usize) -> Result<Self> {
        Self::new(BetaSchedule::cosine(), num_timesteps)
    }

    /// Sigmoid schedule (−3 … 3, τ = 1) with `num_timesteps` steps.
    pub fn sigmoid(num_timesteps: usize) -> Result<Self> {
        Self::new(BetaSchedule::sigmoid(), num_timesteps)
    }

    /// Builds every table from β (f64) and the map index → training timestep.
    pub(crate) fn from_betas(
        kind: BetaSchedule,
        num_train_timesteps: usize,
        timestep_map: Vec<usize>,
        betas: Vec<f64>,
    ) -> Result<Self> {
        let n = betas.len();
        if n == 0 || timestep_map.len() != n {
            return Err(Error::InvalidSchedule(
                "a schedule needs at least one timestep".into(),
            ));
        }
        if let Some((i, b)) = betas
            .iter()
            .enumerate()
            .find(|(_, b)| !(**b > 0.0 && **b < 1.0))
        {
            return Err(Error::InvalidSchedule(format!(
                "beta[{i}] = {b} is not in (0, 1)"
            )));
        }
        let mut log_ab = Vec::with_capacity(n);
        let mut acc = 0.0f64;
        for &b in &betas {
            acc += (-b).ln_1p();
            log_ab.push(acc);
        }
        let ab: Vec<f64> = log_ab.iter().map(|l| l.exp()).collect();
        let omab: Vec<f64> = log_ab.iter().map(|l| -l.exp_m1()).collect();
        let ab_prev: Vec<f64> = (0..n)
            .map(|i| if i == 0 { 1.0 } else { ab[i - 1] })
            .collect();
        let omab_prev: Vec<f64> = (0..n)
            .map(|i| if i == 0 { 0.0 } else { omab[i - 1] })
            .collect();
        let post_var: Vec<f64> = (0..n).map(|i| betas[i] * omab_prev[i] / omab[i]).collect();
        let post_logvar = (0..n)
            .map(|i| {
                let v = if i == 0 {
                    if n > 1 { post_var[1] } else { betas[0] }
                } else {
                    post_var[i]
                };
                v.ln()
            })
            .collect();
        let t64 = ScheduleTables {
            alphas: betas.iter().map(|b| 1.0 - b).collect(),
            alphas_cumprod: ab.clone(),
            sqrt_alphas_cumprod: ab.iter().map(|a| a.sqrt()).collect(),
            sqrt_one_minus_alphas_cumprod: omab.iter().map(|a| a.sqrt()).collect(),
            posterior_mean_coef1: (0..n)
                .map(|i| betas[i] * ab_prev[i].sqrt() / omab[i])
                .collect(),
            posterior_mean_coef2: (0..n)
                .map(|i| omab_prev[i] * (1.0 - betas[i]).sqrt() / omab[i])
                .collect(),
            alphas_cumprod_prev: ab_prev,
            posterior_variance: post_var,
            posterior_log_variance_clipped: post_logvar,
            betas,
        };
        let t32 = t64.to_f32();
        Ok(Schedule {
            kind,
            num_train_timesteps,
            timestep_map,
            log_alphas_cumprod: log_ab,
            one_minus_alphas_cumprod: omab,
            t64,
            t32,
        })
    }

    /// Number of timesteps of this schedule (T, or the number kept by a respacing).
    pub fn len(&self) -> usize {
        self.t64.betas.len()
    }

    /// Always false: a schedule has at least one step.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// How β was chosen for the training schedule.
    pub fn kind(&self) -> &BetaSchedule {
        &self.kind
    }

    /// T of the training schedule this one was derived from.
    pub fn num_train_timesteps(&self) -> usize {
        self.num_train_timesteps
    }

    /// Training timestep of index `t` (identity unless respaced): what the denoiser is called with.
    pub fn model_timestep(&self, t: usize) -> Result<usize> {
        self.check(t)?;
        Ok(self.timestep_map[t])
    }

    /// Training timesteps of every index, increasing.
    pub fn model_timesteps(&self) -> &[usize] {
        &self.timestep_map
    }

    /// The tables in f32 (as stored for GPU use and for callers).
    pub fn tables(&self) -> &ScheduleTables<f32> {
        &self.t32
    }

    /// The tables in f64 (what the fused ops derive their coefficients from).
    pub fn tables_f64(&self) -> &ScheduleTables<f64> {
        &self.t64
    }

    /// β_t in f32.
    pub fn betas(&self) -> &[f32] {
        &self.t32.betas
    }

    /// ᾱ_t in f32.
    pub fn alphas_cumprod(&self) -> &[f32] {
        &self.t32.alphas_cumprod
    }

    /// ln ᾱ_t (f64, exact to rounding even where ᾱ_t underflows f32).
    pub fn log_alphas_cumprod(&self) -> &[f64] {
        &self.log_alphas_cumprod
    }

    /// Error unless `t` indexes this schedule.
    pub fn check(&self, t: usize) -> Result<()> {
        if t < self.len() {
            Ok(())
        } else {
            Err(Error::TimestepOutOfRange { t, len: self.len() })
        }
    }

    /// ᾱ_t (f64).
    pub(crate) fn ab(&self, t: usize) -> f64 {
        self.t64.alphas_cumprod[t]
    }

    /// 1 − ᾱ_t (f64, via expm1).
    pub(crate) fn omab(&self, t: usize) -> f64 {
        self.one_minus_alphas_cumprod[t]
    }

    /// ᾱ_{t−1} (f64), 1 at t = 0.
    pub(crate) fn ab_prev(&self, t: usize) -> f64 {
        self.t64.alphas_cumprod_prev[t]
    }

    /// 1 − ᾱ_{t−1} (f64), 0 at t = 0.
    pub(crate) fn omab_prev(&self, t: usize) -> f64 {
        if t == 0 {
            0.0
        } else {
            self.one_minus_alphas_cumprod[t - 1]
        }
    }

    /// 1 − ᾱ_t / ᾱ_{t−1} = β_t (f64).
    pub(crate) fn beta(&self, t: usize) -> f64 {
        self.t64.betas[t]
    }
}
