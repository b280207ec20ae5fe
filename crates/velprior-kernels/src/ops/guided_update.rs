//! The guided (DPS) update of posterior sampling (Chung et al. 2023, "Diffusion Posterior
//! Sampling", Algorithm 1 with the step normalised by the residual norm):
//! x ← x − ζ g / ‖r‖, where g = ∇_{x_t} ‖d − F(x̂_0(x_t))‖² (or its 1/√ᾱ_t approximation) and
//! r = d − F(x̂_0) the data residual of that sample.

use candle_core::{CpuStorage, CustomOp2, Layout, Shape, Tensor};

use super::fused;
use crate::cuda::KernelSource;
use crate::{Error, Result, timesteps::per_sample};

pub(crate) const KERNEL: KernelSource = KernelSource {
    name: "guided_update",
    func: "guided_update_f32",
    src: include_str!("../../../../kernels/guided_update.cu"),
};

/// x − ζ g / ‖r‖ for x, g of shape (N, ...), one residual norm ‖r‖ > 0 per sample (length N or 1).
pub fn guided_update(
    x: &Tensor,
    grad: &Tensor,
    zeta: f64,
    residual_norm: &[f64],
) -> Result<Tensor> {
    const OP: &str = "guided_update";
    let (n, _) = fused::check_inputs(OP, &[x, grad])?;
    if !zeta.is_finite() {
        return Err(Error::arg(
            OP,
            format!("step size zeta must be finite, got {zeta}"),
        ));
    }
    let mut coef = Vec::with_capacity(2 * n);
    for r in per_sample(OP, "residual_norm", residual_norm, n)? {
        if !(r > 0.0 && r.is_finite()) {
            return Err(Error::arg(
                OP,
                format!("residual norms must be finite and > 0, got {r}"),
            ));
        }
        coef.push(1.0);
        coef.push((-zeta / r) as f32);
    }
    let op = GuidedUpdate { coef };
    Ok(x.contiguous()?.apply_op2_no_bwd(&grad.contiguous()?, &op)?)
}

/// Coefficients per sample: [1, −ζ/‖r‖] applied to (x, g).
struct GuidedUpdate {
    coef: Vec<f32>,
}

impl CustomOp2 for GuidedUpdate {
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
