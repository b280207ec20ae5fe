//! Tweedie's formula for the posterior mean of x_0 (Efron 2011; Ho et al. 2020, eq. 15):
//! x̂_0 = E[x_0 | x_t] = (x_t − √(1 − ᾱ_t) ε_θ(x_t, t)) / √ᾱ_t.

use candle_core::Tensor;

use super::fused;
use super::row_op::{self, Affine2};
use crate::cuda::KernelSource;
use crate::{AsTimesteps, Result, Schedule};

pub(crate) const KERNEL: KernelSource = KernelSource {
    name: "tweedie",
    func: "tweedie_x0_f32",
    src: include_str!("../../../../kernels/tweedie.cu"),
};

/// x̂_0 = (x_t − √(1 − ᾱ_t) ε) / √ᾱ_t for x_t, ε of shape (N, ...) and one timestep per sample.
pub fn tweedie_x0<T: AsTimesteps + ?Sized>(
    x_t: &Tensor,
    eps: &Tensor,
    t: &T,
    schedule: &Schedule,
) -> Result<Tensor> {
    let (n, _) = fused::check_inputs("tweedie_x0", &[x_t, eps])?;
    let mut coef = Vec::with_capacity(2 * n);
    for t in t.timesteps(n)? {
        schedule.check(t)?;
        let sab = schedule.ab(t).sqrt();
        coef.push((1.0 / sab) as f32);
        coef.push((-schedule.omab(t).sqrt() / sab) as f32);
    }
    row_op::apply(
        Affine2 {
            kernel: &KERNEL,
            coef,
        },
        x_t,
        eps,
        None,
    )
}
