//! The continuous variance-preserving SDE (Song et al. 2021, "Score-Based Generative Modeling
//! through Stochastic Differential Equations", eq. 11 and appendix B).
//!
//! dx = −½ β(t) x dt + √β(t) dw on t ∈ [0, 1], with β(t) = β_min + t (β_max − β_min). Its marginal
//! is x_t = √ᾱ(t) x_0 + √(1 − ᾱ(t)) ε with ᾱ(t) = exp(−∫₀ᵗ β(s) ds); the T-step DDPM chain with
//! β_i = β(i/T)/T is its discretisation (β_min = 0.1, β_max = 20, T = 1000 gives the linear
//! 1e-4 → 0.02 schedule).

use serde::{Deserialize, Serialize};

use crate::{BetaSchedule, Error, Result, Schedule};

/// VP-SDE with linear β(t).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct VpSde {
    /// β(0).
    pub beta_min: f64,
    /// β(1).
    pub beta_max: f64,
}

impl Default for VpSde {
    /// β_min = 0.1, β_max = 20 (Song et al. 2021).
    fn default() -> Self {
        VpSde {
            beta_min: 0.1,
            beta_max: 20.0,
        }
    }
}

impl VpSde {
    /// A VP-SDE, checking 0 < β_min ≤ β_max.
    pub fn new(beta_min: f64, beta_max: f64) -> Result<Self> {
        if !(beta_min > 0.0 && beta_min <= beta_max && beta_max.is_finite()) {
            return Err(Error::InvalidSchedule(format!(
                "VP-SDE needs 0 < beta_min <= beta_max, got {beta_min} and {beta_max}"
            )));
        }
        Ok(VpSde { beta_min, beta_max })
    }

    /// β(t) = β_min + t (β_max − β_min).
    pub fn beta(&self, t: f64) -> f64 {
        self.beta_min + t * (self.beta_max - self.beta_min)
    }

    /// ∫₀ᵗ β(s) ds = β_min t + ½ (β_max − β_min) t².
    pub fn integrated_beta(&self, t: f64) -> f64 {
        self.beta_min * t + 0.5 * (self.beta_max - self.beta_min) * t * t
    }

    /// ᾱ(t) = exp(−∫₀ᵗ β).
    pub fn alpha_bar(&self, t: f64) -> f64 {
        (-self.integrated_beta(t)).exp()
    }

    /// Mean coefficient √ᾱ(t) of the marginal.
    pub fn marginal_mean_coef(&self, t: f64) -> f64 {
        (-0.5 * self.integrated_beta(t)).exp()
    }

    /// Standard deviation σ(t) = √(1 − ᾱ(t)) of the marginal (via expm1, accurate near t = 0).
    pub fn marginal_std(&self, t: f64) -> f64 {
        (-(-self.integrated_beta(t)).exp_m1()).sqrt()
    }

    /// The matching T-step discrete schedule: linear β from β_min/T to β_max/T.
    pub fn discretize(&self, num_timesteps: usize) -> Result<Schedule> {
        let n = num_timesteps as f64;
        Schedule::new(
            BetaSchedule::Linear {
                beta_start: self.beta_min / n,
                beta_end: self.beta_max / n,
            },
            num_timesteps,
        )
    }
}
