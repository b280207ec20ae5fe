//! AdamW (Loshchilov & Hutter 2019, Alg. 2) of one parameter tensor on any device, as three fused
//! passes (m', v', then θ'), for devices without velprior's one-pass CPU kernel
//! ([`crate::cpu::adamw_step`], which the CPU keeps using): three launches instead of a dozen
//! elementwise candle ops per parameter.

use std::mem::MaybeUninit;

use candle_core::Tensor;

use super::fused;
use super::row_op::{self, RowOp};
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
    let m2 = row_op::apply(moment(s.beta1, 0), &m, &g, None)?;
    let v2 = row_op::apply(moment(s.beta2, 1), &v, &g, None)?;
    let update = Update {
        coef: [
            f(1.0 - s.lr * s.weight_decay),
            f(s.lr),
            f(1.0 / s.bias_correction1),
            f(1.0 / s.bias_correction2),
            f(s.eps),
        ],
    };
    let p2 = row_op::apply(update, &p, &m2, Some(&v2))?;
    let shape = param.shape();
    Ok((p2.reshape(shape)?, m2.reshape(shape)?, v2.reshape(shape)?))
}

/// m' = c₀m + c₁(c₂g) (flags 0) or v' = c₀v + c₁(c₂g)² (flags 1).
struct Moment {
    coef: [f32; 5],
    flags: u32,
}

impl RowOp for Moment {
    fn kernel(&self) -> &'static KernelSource {
        &KERNEL
    }

    fn coef(&self) -> &[f32] {
        &self.coef
    }

    fn flags(&self, _inputs: usize) -> u32 {
        self.flags
    }

    fn row(&self, _: usize, a: &[f32], g: &[f32], _: Option<&[f32]>, out: &mut [MaybeUninit<f32>]) {
        let [c0, c1, sc, _, _] = self.coef;
        let square = self.flags == 1;
        for ((o, &a), &g) in out.iter_mut().zip(a).zip(g) {
            let g = sc * g;
            o.write(if square {
                c0 * a + c1 * g * g
            } else {
                c0 * a + c1 * g
            });
        }
    }
}

/// θ' = c₀θ − c₁(m'c₂)/(√(v'c₃) + c₄) (flags 2).
struct Update {
    coef: [f32; 5],
}

impl RowOp for Update {
    fn kernel(&self) -> &'static KernelSource {
        &KERNEL
    }

    fn coef(&self) -> &[f32] {
        &self.coef
    }

    fn flags(&self, _inputs: usize) -> u32 {
        2
    }

    fn row(&self, _: usize, p: &[f32], m: &[f32], v: Option<&[f32]>, out: &mut [MaybeUninit<f32>]) {
        let [decay, lr, ib1, ib2, eps] = self.coef;
        let v = v.expect("the update takes θ, m' and v'");
        for (((o, &p), &m), &v) in out.iter_mut().zip(p).zip(m).zip(v) {
            o.write(decay * p - lr * (m * ib1) / ((v * ib2).sqrt() + eps));
        }
    }
}
