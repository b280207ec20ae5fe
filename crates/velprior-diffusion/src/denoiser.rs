//! The `Denoiser` seam: everything samplers and posterior methods know about a prior.
//!
//! A denoiser predicts the noise ε in x_t = √ᾱ x_0 + √(1 − ᾱ) ε. It is implemented by the
//! UNet and by analytic oracles whose posteriors are known in closed form, so samplers are
//! tested exactly against the oracles.

use candle_core::Tensor;

use crate::Result;

/// The noise level of one sample: ᾱ (what oracles need) and the continuous time t ∈ (0, 1]
/// (what a network is conditioned on). Step i of a T-step discrete schedule has t = (i + 1)/T.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NoiseLevel {
    /// ᾱ ∈ (0, 1): the signal fraction of x_t.
    pub alpha_bar: f64,
    /// Continuous time in (0, 1].
    pub t: f64,
}

impl NoiseLevel {
    /// The level of step `index` of a discrete schedule with `num_train_timesteps` steps and
    /// cumulative product `alpha_bar`.
    pub fn discrete(index: usize, num_train_timesteps: usize, alpha_bar: f64) -> NoiseLevel {
        NoiseLevel { alpha_bar, t: (index + 1) as f64 / num_train_timesteps as f64 }
    }

    /// √(1 − ᾱ): the noise standard deviation σ.
    pub fn sigma(&self) -> f64 {
        (1.0 - self.alpha_bar).sqrt()
    }
}

/// A model of p(x_0) seen through its noise prediction ε̂(x_t, t).
pub trait Denoiser: Send + Sync {
    /// Predicts ε for a batch x_t of shape (N, C, H, W) (normalised units) with one noise level
    /// per sample (`levels.len()` = N).
    fn predict_eps(&self, x_t: &Tensor, levels: &[NoiseLevel]) -> Result<Tensor>;
}
