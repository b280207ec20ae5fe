//! One Langevin corrector step (Song et al. 2021, "Score-Based Generative Modeling through SDEs",
//! Algorithms 4–5): x ← x + δ s(x, t) + √(2δ) z with the score s = −ε_θ / σ_t, so fused:
//! x ← x − (δ / σ_t) ε + √(2δ) z. The step size δ comes from the signal-to-noise ratio r:
//! δ = 2 α_t (r ‖z‖ / ‖s‖)² ([`langevin_snr_step_size`]).

use candle_core::Tensor;

use super::fused;
use super::row_op::{self, Affine3};
use crate::cuda::KernelSource;
use crate::{Error, Result, timesteps::per_sample};

pub(crate) const KERNEL: KernelSource = KernelSource {
    name: "langevin",
    func: "langevin_f32",
    src: include_str!("../../../../kernels/langevin.cu"),
};

/// x − (δ/σ) ε + √(2δ) z for x, ε, z of shape (N, ...), with the noise level σ > 0 and the step
/// size δ ≥ 0 of each sample (slices of length N or 1).
pub fn langevin_step(
    x: &Tensor,
    eps: &Tensor,
    z: &Tensor,
    sigma: &[f64],
    step_size: &[f64],
) -> Result<Tensor> {
    const OP: &str = "langevin_step";
    let (n, _) = fused::check_inputs(OP, &[x, eps, z])?;
    let sigma = per_sample(OP, "sigma", sigma, n)?;
    let delta = per_sample(OP, "step_size", step_size, n)?;
    let mut coef = Vec::with_capacity(3 * n);
    for (s, d) in sigma.into_iter().zip(delta) {
        if !(s > 0.0 && s.is_finite() && d >= 0.0 && d.is_finite()) {
            return Err(Error::arg(
                OP,
                format!("need sigma > 0 and step_size >= 0 (finite), got {s} and {d}"),
            ));
        }
        coef.push(1.0);
        coef.push((-d / s) as f32);
        coef.push((2.0 * d).sqrt() as f32);
    }
    row_op::apply(
        Affine3 {
            kernel: &KERNEL,
            coef,
        },
        x,
        eps,
        Some(z),
    )
}

/// Step size δ = 2 α (r ‖z‖ / ‖s‖)² of Song et al.'s corrector for signal-to-noise ratio
/// `snr` = r, the norms of the noise z and of the score s = −ε/σ, and α = α_t (1 for VE).
pub fn langevin_snr_step_size(snr: f64, noise_norm: f64, score_norm: f64, alpha: f64) -> f64 {
    2.0 * alpha * (snr * noise_norm / score_norm).powi(2)
}
