//! Tweedie's formula for the posterior mean of x_0 (Efron 2011; Ho et al. 2020, eq. 15):
//! x̂_0 = E[x_0 | x_t] = (x_t − √(1 − ᾱ_t) ε_θ(x_t, t)) / √ᾱ_t.

use candle_core::{CpuStorage, CustomOp2, Layout, Shape, Tensor};

use super::fused;
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
    let op = TweedieX0 { coef };
    Ok(x_t
        .contiguous()?
        .apply_op2_no_bwd(&eps.contiguous()?, &op)?)
}

/// Coefficients per sample: [1/√ᾱ_t, −√(1 − ᾱ_t)/√ᾱ_t] applied to (x_t, ε).
struct TweedieX0 {
    coef: Vec<f32>,
}

impl CustomOp2 for TweedieX0 {
    fn name(&self) -> &'static str {
        KERNEL.name
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let p = fused::cpu_input(KERNEL.name, s1, l1)?;
        let q = fused::cpu_input(KERNEL.name, s2, l2)?;
        let out = fused::cpu_map([p, q], fused::sample_len(l1), |n, [p, q], out| {
            let (a, b) = (self.coef[2 * n], self.coef[2 * n + 1]);
            for ((o, &x), &y) in out.iter_mut().zip(p).zip(q) {
                o.write(a * x + b * y);
            }
        });
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }

    #[cfg(feature = "cuda")]
    fn cuda_fwd(
        &self,
        s1: &candle_core::CudaStorage,
        l1: &Layout,
        s2: &candle_core::CudaStorage,
        l2: &Layout,
    ) -> candle_core::Result<(candle_core::CudaStorage, Shape)> {
        let out = fused::cuda_launch(&KERNEL, &[(s1, l1), (s2, l2)], &self.coef, 0)?;
        Ok((out, l1.shape().clone()))
    }
}
