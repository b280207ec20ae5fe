//! DPM-Solver++(2M) sampling.

use candle_core::Tensor;
use velprior_kernels::Schedule;

use super::{SamplerObserver, SamplerStep, Thresholding, discrete_level};
use crate::Result;
use crate::denoiser::Denoiser;

/// DPM-Solver++(2M), Lu et al. 2022 ("DPM-Solver++: Fast Solver for Guided Sampling of
/// Diffusion Probabilistic Models", Alg. 2): the probability-flow ODE in data prediction,
/// integrated exactly in its linear part and to second order (multistep) in x̂_0. With
/// αₖ = √ᾱₖ, σₖ = √(1 − ᾱₖ), λₖ = ln(αₖ/σₖ) and hₖ = λₖ₋₁ − λₖ, the step from k to k − 1 is
///
/// x_{k−1} = (σₖ₋₁/σₖ) xₖ + αₖ₋₁ (1 − e^{−hₖ}) D,  D = (1 + 1/(2r)) x̂_0,k − 1/(2r) x̂_0,k+1,
///
/// r = hₖ₊₁/hₖ, with D = x̂_0,k on the first step (no history yet). The last step goes to
/// ᾱ₋₁ = 1 (σ = 0, h = ∞), where the update is x̂_0 itself (first order, as DDIM's last step).
///
/// Deterministic: `x` is the initial noise, shape (N, C, H, W) f32, and `schedule` the training
/// schedule respaced to S steps (S network evaluations). `threshold` bounds every x̂_0 (data in
/// a known range). `observer` sees xₖ and x̂_0 before each step.
pub fn sample_dpm_solver_pp(
    model: &dyn Denoiser,
    x: Tensor,
    schedule: &Schedule,
    threshold: Option<Thresholding>,
    observer: &mut dyn SamplerObserver,
) -> Result<Tensor> {
    let (n, num_steps) = (x.dim(0)?, schedule.len());
    let alpha_bar = &schedule.tables_f64().alphas_cumprod;
    let lambda = |k: usize| 0.5 * (alpha_bar[k] / (1.0 - alpha_bar[k])).ln();
    let mut x = x;
    // x̂_0 and h of the previous step.
    let mut previous: Option<(Tensor, f64)> = None;
    for (step, k) in (0..num_steps).rev().enumerate() {
        let level = discrete_level(schedule, k)?;
        let mut x0 = model.predict_x0(&x, &vec![level; n])?;
        if let Some(threshold) = threshold {
            x0 = threshold.apply(&x0)?;
        }
        observer.on_step(&SamplerStep {
            step,
            num_steps,
            level,
            x: &x,
            x0_hat: &x0,
        })?;
        if k == 0 {
            return Ok(x0);
        }
        let h = lambda(k - 1) - lambda(k);
        let d = match &previous {
            Some((x0_prev, h_prev)) => {
                let half_over_r = 0.5 * h / h_prev;
                ((&x0 * (1.0 + half_over_r))? - (x0_prev * half_over_r)?)?
            }
            None => x0.clone(),
        };
        let sigma_ratio = ((1.0 - alpha_bar[k - 1]) / (1.0 - alpha_bar[k])).sqrt();
        let data_weight = alpha_bar[k - 1].sqrt() * -(-h).exp_m1();
        x = ((&x * sigma_ratio)? + (d * data_weight)?)?;
        previous = Some((x0, h));
    }
    Ok(x)
}
