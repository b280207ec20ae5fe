//! One Langevin corrector step (Song et al. 2021, "Score-Based Generative Modeling through SDEs",
//! Algorithms 4–5): x ← x + δ s(x, t) + √(2δ) z with the score s = −ε_θ / σ_t, so fused:
//! x ← x − (δ / σ_t) ε + √(2δ) z. The step size δ comes from the signal-to-noise ratio r:
//! δ = 2 α_t (r ‖z‖ / ‖s‖)² ([`langevin_snr_step_size`]).

use std::mem::MaybeUninit;

use candle_core::{CpuStorage, CustomOp2, CustomOp3, Layout, Shape, Tensor};

use super::fused;
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
    let op = Langevin { coef, flags: 0 };
    Ok(x.contiguous()?
        .apply_op3_no_bwd(&eps.contiguous()?, &z.contiguous()?, &op)?)
}

/// Step size δ = 2 α (r ‖z‖ / ‖s‖)² of Song et al.'s corrector for signal-to-noise ratio
/// `snr` = r, the norms of the noise z and of the score s = −ε/σ, and α = α_t (1 for VE).
pub fn langevin_snr_step_size(snr: f64, noise_norm: f64, score_norm: f64, alpha: f64) -> f64 {
    2.0 * alpha * (snr * noise_norm / score_norm).powi(2)
}

/// Coefficients per sample: [1, −δ/σ, √(2δ)].
struct Langevin {
    coef: Vec<f32>,
    /// Kernel flags (read by `cuda_fwd` only).
    #[cfg_attr(not(feature = "cuda"), allow(dead_code))]
    flags: u32,
}

impl Langevin {
    /// out = A x + B ε (+ G z) with [A, B, G] = coef[3n..3n + 3].
    fn row(&self, n: usize, x: &[f32], e: &[f32], z: Option<&[f32]>, out: &mut [MaybeUninit<f32>]) {
        let c = &self.coef[3 * n..3 * n + 3];
        fused::affine3(c[0], c[1], c[2], x, e, z, out);
    }
}

impl CustomOp2 for Langevin {
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

impl CustomOp3 for Langevin {
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
