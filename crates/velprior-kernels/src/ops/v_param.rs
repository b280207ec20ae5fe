//! The v-parameterisation (Salimans & Ho 2022, "Progressive Distillation", §4 and appendix D):
//! v = √ᾱ_t ε − √(1 − ᾱ_t) x_0, so that ε = √(1 − ᾱ_t) x_t + √ᾱ_t v and
//! x_0 = √ᾱ_t x_t − √(1 − ᾱ_t) v.

use candle_core::Tensor;

use super::fused;
use super::row_op::{self, Affine2};
use crate::cuda::KernelSource;
use crate::{AsTimesteps, Result, Schedule};

pub(crate) const KERNEL: KernelSource = KernelSource {
    name: "v_param",
    func: "v_param_f32",
    src: include_str!("../../../../kernels/v_param.cu"),
};

/// Training target v = √ᾱ_t ε − √(1 − ᾱ_t) x_0 from x_0, ε of shape (N, ...).
pub fn v_target<T: AsTimesteps + ?Sized>(
    x0: &Tensor,
    eps: &Tensor,
    t: &T,
    schedule: &Schedule,
) -> Result<Tensor> {
    combine("v_target", x0, eps, t, schedule, |sab, somab| (-somab, sab))
}

/// ε = √(1 − ᾱ_t) x_t + √ᾱ_t v from x_t and a predicted v.
pub fn eps_from_v<T: AsTimesteps + ?Sized>(
    x_t: &Tensor,
    v: &Tensor,
    t: &T,
    schedule: &Schedule,
) -> Result<Tensor> {
    combine("eps_from_v", x_t, v, t, schedule, |sab, somab| (somab, sab))
}

/// x_0 = √ᾱ_t x_t − √(1 − ᾱ_t) v from x_t and a predicted v.
pub fn x0_from_v<T: AsTimesteps + ?Sized>(
    x_t: &Tensor,
    v: &Tensor,
    t: &T,
    schedule: &Schedule,
) -> Result<Tensor> {
    combine("x0_from_v", x_t, v, t, schedule, |sab, somab| (sab, -somab))
}

/// a p + b q with (a, b) = coef(√ᾱ_t, √(1 − ᾱ_t)) per sample.
fn combine<T: AsTimesteps + ?Sized>(
    op: &'static str,
    p: &Tensor,
    q: &Tensor,
    t: &T,
    schedule: &Schedule,
    coef_of: impl Fn(f64, f64) -> (f64, f64),
) -> Result<Tensor> {
    let (n, _) = fused::check_inputs(op, &[p, q])?;
    let mut coef = Vec::with_capacity(2 * n);
    for t in t.timesteps(n)? {
        schedule.check(t)?;
        let (a, b) = coef_of(schedule.ab(t).sqrt(), schedule.omab(t).sqrt());
        coef.push(a as f32);
        coef.push(b as f32);
    }
    row_op::apply(
        Affine2 {
            kernel: &KERNEL,
            coef,
        },
        p,
        q,
        None,
    )
}
