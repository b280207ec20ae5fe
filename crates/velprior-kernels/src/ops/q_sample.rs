//! Forward noising q(x_t | x_0) (Ho et al. 2020, eq. 4): x_t = √ᾱ_t x_0 + √(1 − ᾱ_t) ε.

use candle_core::{CpuStorage, CustomOp2, Layout, Shape, Tensor};

use super::fused;
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
    let op = QSample { coef };
    Ok(x0.contiguous()?.apply_op2_no_bwd(&eps.contiguous()?, &op)?)
}

/// Coefficients per sample: [√ᾱ_t, √(1 − ᾱ_t)].
struct QSample {
    coef: Vec<f32>,
}

impl CustomOp2 for QSample {
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
        let x0 = fused::cpu_input(KERNEL.name, s1, l1)?;
        let eps = fused::cpu_input(KERNEL.name, s2, l2)?;
        let out = fused::cpu_map([x0, eps], fused::sample_len(l1), |n, [x0, eps], out| {
            let (a, b) = (self.coef[2 * n], self.coef[2 * n + 1]);
            for ((o, &x), &e) in out.iter_mut().zip(x0).zip(eps) {
                o.write(a * x + b * e);
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
