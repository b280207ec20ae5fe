//! Forward noising q(x_t | x_0) (Ho et al. 2020, eq. 4): x_t = √ᾱ_t x_0 + √(1 − ᾱ_t) ε.

use candle_core::Tensor;

use super::fused;
use super::row_op::{self, Affine2};
use crate::cuda::KernelSource;
use crate::{AsTimesteps, Result, Schedule};

pub(crate) const KERNEL: KernelSource = KernelSource {
    name: "q_sample",
    func: "q_sample_f32",
    src: include_str!("../../../../kernels/q_sample.cu"),
};

/// x_t = √ᾱ_t x_0 + √(1 − ᾱ_t) ε for x_0, ε of shape (N, ...) (f32, same shape and device) and
/// one timestep per sample (`t` of length N or 1). Deterministic: ε comes from the caller.
pub fn q_sample<T: AsTimesteps + ?Sized>(
    x0: &Tensor,
    eps: &Tensor,
    t: &T,
    schedule: &Schedule,
) -> Result<Tensor> {
    let (n, _) = fused::check_inputs("q_sample", &[x0, eps])?;
    let mut coef = Vec::with_capacity(2 * n);
    for t in t.timesteps(n)? {
        schedule.check(t)?;
        coef.push(schedule.ab(t).sqrt() as f32);
        coef.push(schedule.omab(t).sqrt() as f32);
    }
    row_op::apply(
        Affine2 {
            kernel: &KERNEL,
            coef,
        },
        x0,
        eps,
        None,
    )
}
