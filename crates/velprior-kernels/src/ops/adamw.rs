//! AdamW (Loshchilov & Hutter 2019, Alg. 2) of one parameter tensor on any device, as three fused
//! passes (m', v', then θ'), for devices without velprior's one-pass CPU kernel
//! ([`crate::cpu::adamw_step`], which the CPU keeps using): three launches instead of a dozen
//! elementwise candle ops per parameter.

use std::mem::MaybeUninit;

use candle_core::{CpuStorage, CustomOp2, CustomOp3, Layout, Shape, Tensor};

use super::fused;
use crate::cpu::AdamWStep;
use crate::cuda::KernelSource;
use crate::{Error, Result};

pub(crate) const KERNEL: KernelSource = KernelSource {
    name: "adamw",
    func: "adamw_f32",
    src: include_str!("../../../../kernels/adamw.cu"),
};

const OP: &str = "adamw";

/// One AdamW update of `param` with gradient `grad` and moments `m`, `v` (f32, one shape, one
/// device): with g ← s·g, m' = β₁m + (1−β₁)g, v' = β₂v + (1−β₂)g²,
/// θ' = θ(1 − ηλ) − η (m'/(1−β₁ᵗ)) / (√(v'/(1−β₂ᵗ)) + ε). Returns (θ', m', v').
pub fn adamw_step_fused(
    param: &Tensor,
    grad: &Tensor,
    m: &Tensor,
    v: &Tensor,
    s: &AdamWStep,
) -> Result<(Tensor, Tensor, Tensor)> {
    for t in [grad, m, v] {
        if t.shape() != param.shape() {
            return Err(Error::arg(
                OP,
                format!(
                    "shapes differ: parameter {:?}, got {:?}",
                    param.dims(),
                    t.dims()
                ),
            ));
        }
    }
    // The whole tensor is one "sample": one coefficient row.
    let flat = |t: &Tensor| t.contiguous()?.reshape((1, t.elem_count()));
    let (p, g, m, v) = (flat(param)?, flat(grad)?, flat(m)?, flat(v)?);
    fused::check_inputs(OP, &[&p, &g, &m, &v])?;
    let f = |x: f64| x as f32;
    let moment = |beta: f64, flags: u32| Moment {
        coef: [f(beta), f(1.0 - beta), f(s.grad_scale), 0.0, 0.0],
        flags,
    };
    let m2 = m.apply_op2_no_bwd(&g, &moment(s.beta1, 0))?;
    let v2 = v.apply_op2_no_bwd(&g, &moment(s.beta2, 1))?;
    let update = Update {
        coef: [
            f(1.0 - s.lr * s.weight_decay),
            f(s.lr),
            f(1.0 / s.bias_correction1),
            f(1.0 / s.bias_correction2),
            f(s.eps),
        ],
    };
    let p2 = p.apply_op3_no_bwd(&m2, &v2, &update)?;
    let shape = param.shape();
    Ok((p2.reshape(shape)?, m2.reshape(shape)?, v2.reshape(shape)?))
}

/// m' = c₀m + c₁(c₂g) (flags 0) or v' = c₀v + c₁(c₂g)² (flags 1).
struct Moment {
    coef: [f32; 5],
    flags: u32,
}

impl CustomOp2 for Moment {
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
        let a = fused::cpu_input(KERNEL.name, s1, l1)?;
        let g = fused::cpu_input(KERNEL.name, s2, l2)?;
        let [c0, c1, sc, _, _] = self.coef;
        let square = self.flags == 1;
        let out = fused::cpu_map([a, g], fused::sample_len(l1), |_, [a, g], out| {
            for ((o, &a), &g) in out.iter_mut().zip(a).zip(g) {
                let g = sc * g;
                o.write(if square {
                    c0 * a + c1 * g * g
                } else {
                    c0 * a + c1 * g
                });
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
        let out = fused::cuda_launch(&KERNEL, &[(s1, l1), (s2, l2)], &self.coef, self.flags)?;
        Ok((out, l1.shape().clone()))
    }
}

/// θ' = c₀θ − c₁(m'c₂)/(√(v'c₃) + c₄).
struct Update {
    coef: [f32; 5],
}

impl Update {
    fn row(&self, p: &[f32], m: &[f32], v: &[f32], out: &mut [MaybeUninit<f32>]) {
        let [decay, lr, ib1, ib2, eps] = self.coef;
        for (((o, &p), &m), &v) in out.iter_mut().zip(p).zip(m).zip(v) {
            o.write(decay * p - lr * (m * ib1) / ((v * ib2).sqrt() + eps));
        }
    }
}

impl CustomOp3 for Update {
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
        let p = fused::cpu_input(KERNEL.name, s1, l1)?;
        let m = fused::cpu_input(KERNEL.name, s2, l2)?;
        let v = fused::cpu_input(KERNEL.name, s3, l3)?;
        let out = fused::cpu_map([p, m, v], fused::sample_len(l1), |_, [p, m, v], o| {
            self.row(p, m, v, o)
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
        let out = fused::cuda_launch(&KERNEL, &[(s1, l1), (s2, l2), (s3, l3)], &self.coef, 2)?;
        Ok((out, l1.shape().clone()))
    }
}
