//! The `Denoiser` seam: everything samplers and posterior methods know about a prior.
//!
//! A denoiser predicts the noise ε in x_t = √ᾱ x_0 + √(1 − ᾱ) ε. It is implemented by the
//! UNet and by analytic oracles whose posteriors are known in closed form, so samplers are
//! tested exactly against the oracles.

use candle_core::{Device, Tensor};

use crate::{DiffusionError, Result};

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
        NoiseLevel {
            alpha_bar,
            t: (index + 1) as f64 / num_train_timesteps as f64,
        }
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

    /// The device the denoiser computes on; samplers and posterior methods create their
    /// tensors there.
    fn device(&self) -> &Device;

    /// Tweedie's x̂_0 = E[x_0 | x_t] (see [`x0_from_eps`]), shape (N, ...) like x_t.
    fn predict_x0(&self, x_t: &Tensor, levels: &[NoiseLevel]) -> Result<Tensor> {
        x0_from_eps(x_t, &self.predict_eps(x_t, levels)?, levels)
    }

    /// The score ∇ log p_t(x_t) = −ε̂ / √(1 − ᾱ) (see [`score_from_eps`]), shape like x_t.
    fn predict_score(&self, x_t: &Tensor, levels: &[NoiseLevel]) -> Result<Tensor> {
        score_from_eps(&self.predict_eps(x_t, levels)?, levels)
    }
}

/// Checks a batch against its levels: x_t has rank ≥ 2 (N, ...), `levels.len()` = N and every
/// ᾱ is in [0, 1) (σ > 0). Returns (N, D) with D the elements per sample.
pub fn check_levels(op: &str, x_t: &Tensor, levels: &[NoiseLevel]) -> Result<(usize, usize)> {
    let dims = x_t.dims();
    if dims.len() < 2 {
        return Err(DiffusionError::invalid(format!(
            "{op}: x_t must be a batch (N, C, H, W), got shape {dims:?}"
        )));
    }
    let n = dims[0];
    if levels.len() != n {
        return Err(DiffusionError::invalid(format!(
            "{op}: got {} noise levels for a batch of {n}",
            levels.len()
        )));
    }
    if let Some(l) = levels
        .iter()
        .find(|l| !(l.alpha_bar >= 0.0 && l.alpha_bar < 1.0))
    {
        return Err(DiffusionError::invalid(format!(
            "{op}: alpha_bar must be in [0, 1), got {}",
            l.alpha_bar
        )));
    }
    Ok((n, x_t.elem_count() / n.max(1)))
}

/// Per-sample coefficients `f(level)` as an (N, 1, …, 1) tensor of x's rank, dtype and device,
/// for broadcasting over x of shape (N, ...).
fn coef(x: &Tensor, levels: &[NoiseLevel], f: impl Fn(&NoiseLevel) -> f64) -> Result<Tensor> {
    let mut shape = vec![1usize; x.rank()];
    shape[0] = levels.len();
    let v: Vec<f64> = levels.iter().map(f).collect();
    Ok(Tensor::from_vec(v, shape, x.device())?.to_dtype(x.dtype())?)
}

/// Tweedie's posterior mean x̂_0 = E[x_0 | x_t] = (x_t − √(1 − ᾱ) ε̂) / √ᾱ for x_t, ε̂ of shape
/// (N, ...) and one level per sample (ᾱ > 0).
pub fn x0_from_eps(x_t: &Tensor, eps: &Tensor, levels: &[NoiseLevel]) -> Result<Tensor> {
    check_levels("x0_from_eps", x_t, levels)?;
    if let Some(l) = levels.iter().find(|l| l.alpha_bar <= 0.0) {
        return Err(DiffusionError::invalid(format!(
            "x0_from_eps: alpha_bar must be > 0, got {}",
            l.alpha_bar
        )));
    }
    let a = coef(x_t, levels, |l| 1.0 / l.alpha_bar.sqrt())?;
    let b = coef(x_t, levels, |l| -l.sigma() / l.alpha_bar.sqrt())?;
    Ok((x_t.broadcast_mul(&a)? + eps.broadcast_mul(&b)?)?)
}

/// ε̂ = (x_t − √ᾱ x̂_0) / √(1 − ᾱ), the inverse of [`x0_from_eps`].
pub fn eps_from_x0(x_t: &Tensor, x0: &Tensor, levels: &[NoiseLevel]) -> Result<Tensor> {
    check_levels("eps_from_x0", x_t, levels)?;
    let a = coef(x_t, levels, |l| 1.0 / l.sigma())?;
    let b = coef(x_t, levels, |l| -l.alpha_bar.sqrt() / l.sigma())?;
    Ok((x_t.broadcast_mul(&a)? + x0.broadcast_mul(&b)?)?)
}

/// The score ∇ log p_t(x_t) = −ε̂ / √(1 − ᾱ) for ε̂ of shape (N, ...).
pub fn score_from_eps(eps: &Tensor, levels: &[NoiseLevel]) -> Result<Tensor> {
    check_levels("score_from_eps", eps, levels)?;
    Ok(eps.broadcast_mul(&coef(eps, levels, |l| -1.0 / l.sigma())?)?)
}

/// ε̂ = −√(1 − ᾱ) · score, the inverse of [`score_from_eps`].
pub fn eps_from_score(score: &Tensor, levels: &[NoiseLevel]) -> Result<Tensor> {
    check_levels("eps_from_score", score, levels)?;
    Ok(score.broadcast_mul(&coef(score, levels, |l| -l.sigma())?)?)
}
