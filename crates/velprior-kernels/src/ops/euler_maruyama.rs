//! One reverse-time Euler–Maruyama step of the VP-SDE (Song et al. 2021, "Score-Based Generative
//! Modeling through SDEs", eq. 6 and the `EulerMaruyamaPredictor`): from t to t − Δt,
//! x ← x + [½ β(t) x + β(t) s(x, t)] Δt + √(β(t) Δt) z, with the score s = −ε_θ / σ(t),
//! σ(t) = √(1 − ᾱ(t)). Fused: x ← (1 + ½ β Δt) x − (β Δt / σ(t)) ε + √(β Δt) z.

use std::mem::MaybeUninit;

use candle_core::{CpuStorage, CustomOp2, CustomOp3, Layout, Shape, Tensor};

use super::fused;
use crate::cuda::KernelSource;
use crate::{Error, Result, VpSde, timesteps::per_sample};

pub(crate) const KERNEL: KernelSource = KernelSource {
    name: "euler_maruyama",
    func: "euler_maruyama_f32",
    src: include_str!("../../../../kernels/euler_maruyama.cu"),
};

/// Reverse Euler–Maruyama step from continuous time t (per sample, length N or 1, in (0, 1]) to
/// t − `dt`, for x, ε (and noise z) of shape (N, ...). `z = None` takes the noiseless step (the
/// usual last step, returning the mean).
pub fn euler_maruyama_step(
    x: &Tensor,
    eps: &Tensor,
    z: Option<&Tensor>,
    t: &[f64],
    dt: f64,
    sde: &VpSde,
) -> Result<Tensor> {
    const OP: &str = "euler_maruyama_step";
    let mut ins = vec![x, eps];
    ins.extend(z);
    let (n, _) = fused::check_inputs(OP, &ins)?;
    if !(dt > 0.0 && dt.is_finite()) {
        return Err(Error::arg(
            OP,
            format!("dt must be finite and > 0, got {dt}"),
        ));
    }
    let mut coef = Vec::with_capacity(3 * n);
    for t in per_sample(OP, "t", t, n)? {
        if !(t > 0.0 && t <= 1.0) {
            return Err(Error::arg(OP, format!("t must be in (0, 1], got {t}")));
        }
        let (beta, sigma) = (sde.beta(t), sde.marginal_std(t));
        coef.push((1.0 + 0.5 * beta * dt) as f32);
        coef.push((-beta * dt / sigma) as f32);
        coef.push(if z.is_some() {
            (beta * dt).sqrt() as f32
        } else {
            0.0
        });
    }
    let op = EulerMaruyama { coef, flags: 0 };
    let (x, eps) = (x.contiguous()?, eps.contiguous()?);
    Ok(match z {
        Some(z) => x.apply_op3_no_bwd(&eps, &z.contiguous()?, &op)?,
        None => x.apply_op2_no_bwd(&eps, &op)?,
    })
}

/// Coefficients per sample: [1 + ½βΔt, −βΔt/σ(t), √(βΔt)].
struct EulerMaruyama {
    coef: Vec<f32>,
    /// Kernel flags (read by `cuda_fwd` only).
    #[cfg_attr(not(feature = "cuda"), allow(dead_code))]
    flags: u32,
}

impl EulerMaruyama {
    /// out = A x + B ε (+ G z) with [A, B, G] = coef[3n..3n + 3].
    fn row(&self, n: usize, x: &[f32], e: &[f32], z: Option<&[f32]>, out: &mut [MaybeUninit<f32>]) {
        let c = &self.coef[3 * n..3 * n + 3];
        fused::affine3(c[0], c[1], c[2], x, e, z, out);
    }
}

impl CustomOp2 for EulerMaruyama {
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
        let x = fused::cpu_input(KERNEL.name, s1, l1)?;
        let e = fused::cpu_input(KERNEL.name, s2, l2)?;
        let out = fused::cpu_map([x, e], fused::sample_len(l1), |n, [x, e], o| {
            self.row(n, x, e, None, o)
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
        let out = fused::cuda_launch(&KERNEL, &[(s1, l1), (s2, l2)], &self.coef, self.flags)?;
        Ok((out, l1.shape().clone()))
    }
}

impl CustomOp3 for EulerMaruyama {
    fn name(&self) -> &'static str {
        KERNEL.name
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let x = fused::cpu_input(KERNEL.name, s1, l1)?;
        let e = fused::cpu_input(KERNEL.name, s2, l2)?;
        let z = fused::cpu_input(KERNEL.name, s3, l3)?;
        let out = fused::cpu_map([x, e, z], fused::sample_len(l1), |n, [x, e, z], o| {
            self.row(n, x, e, Some(z), o)
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
        s3: &candle_core::CudaStorage,
        l3: &Layout,
    ) -> candle_core::Result<(candle_core::CudaStorage, Shape)> {
        let flags = self.flags | fused::HAS_Z;
        let out = fused::cuda_launch(&KERNEL, &[(s1, l1), (s2, l2), (s3, l3)], &self.coef, flags)?;
        Ok((out, l1.shape().clone()))
    }
}
