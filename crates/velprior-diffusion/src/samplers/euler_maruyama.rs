//! Euler–Maruyama integration of the reverse VP-SDE.

use candle_core::Tensor;
use rand_chacha::ChaCha8Rng;
use velprior_kernels::{VpSde, euler_maruyama_step};

use super::{SamplerObserver, SamplerStep, check_time_grid, continuous_level, denoise_final};
use crate::Result;
use crate::denoiser::{Denoiser, x0_from_eps};
use crate::noise::standard_normal;

/// Reverse-time SDE sampling with Euler–Maruyama (Song et al. 2021, "Score-Based Generative
/// Modeling through Stochastic Differential Equations", eq. 6, `EulerMaruyamaPredictor`):
/// from t_i to t_{i+1} = t_i − Δ, x ← x + [½β(t_i) x + β(t_i) s(x, t_i)] Δ + √(β(t_i) Δ) z with
/// s = −ε̂/σ(t_i), followed by one Tweedie denoising step x̂_0 = (x − σ ε̂)/√ᾱ at the last time
/// (the "denoise" of Song et al.'s code; Jolicoeur-Martineau et al. 2021).
///
/// `ts` is the decreasing time grid 1 = t_0 > … > t_S = t_min > 0 ([`super::vp_time_grid`]);
/// `x` the initial noise, shape (N, C, H, W) f32. Known bias: EM is weak order 1; for a 1-D
/// Gaussian of variance λ ∈ [0.05, 1] (closed-form recursion of this chain, β ∈ [0.1, 20],
/// t_min = 1e-3) the output variance is off by +1.5 … 2.4% with 100 steps, ≤ 0.3% with 500 and
/// ≤ 0.13% with 1000.
pub fn sample_euler_maruyama(
    model: &dyn Denoiser,
    x: Tensor,
    sde: &VpSde,
    ts: &[f64],
    rng: &mut ChaCha8Rng,
    observer: &mut dyn SamplerObserver,
) -> Result<Tensor> {
    check_time_grid(ts)?;
    let (n, num_steps) = (x.dim(0)?, ts.len());
    let mut x = x;
    for (step, w) in ts.windows(2).enumerate() {
        let (t, dt) = (w[0], w[0] - w[1]);
        let level = continuous_level(sde, t);
        let levels = vec![level; n];
        let eps = model.predict_eps(&x, &levels)?;
        let x0_hat = x0_from_eps(&x, &eps, &levels)?;
        observer.on_step(&SamplerStep {
            step,
            num_steps,
            level,
            x: &x,
            x0_hat: &x0_hat,
        })?;
        let z = standard_normal(rng, x.dims(), x.device())?;
        x = euler_maruyama_step(&x, &eps, Some(&z), &[t], dt, sde)?;
    }
    denoise_final(model, &x, sde, ts, observer)
}
