//! Fused AdamW update (Loshchilov & Hutter 2019, Alg. 2) of one parameter tensor: one pass over
//! (θ, g, m, v) instead of a dozen elementwise candle ops, and a fused Σ g² for gradient
//! clipping.

use candle_core::{Storage, Tensor};
use rayon::prelude::*;

use super::check_cpu_f32;
use crate::{Error, Result};

const OP: &str = "adamw_step";

/// Elements per parallel block.
const BLOCK: usize = 1 << 14;

/// Coefficients of one AdamW update (all in f64, rounded once to f32 for the loop).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamWStep {
    /// Learning rate η.
    pub lr: f64,
    /// β₁, β₂ of the moment averages.
    pub beta1: f64,
    pub beta2: f64,
    /// ε added to √v̂.
    pub eps: f64,
    /// Decoupled weight decay λ (θ ← θ(1 − ηλ) before the Adam step).
    pub weight_decay: f64,
    /// Bias corrections 1 − β₁ᵗ and 1 − β₂ᵗ.
    pub bias_correction1: f64,
    pub bias_correction2: f64,
    /// Factor applied to the gradient first (global-norm clipping; 1 for none).
    pub grad_scale: f64,
}

/// One AdamW update: with g ← s·g, m' = β₁m + (1−β₁)g, v' = β₂v + (1−β₂)g²,
/// θ' = θ(1 − ηλ) − η (m'/(1−β₁ᵗ)) / (√(v'/(1−β₂ᵗ)) + ε). All four tensors f32 of one shape on
/// the CPU; returns (θ', m', v') as new tensors (the inputs are not modified).
pub fn adamw_step(
    param: &Tensor,
    grad: &Tensor,
    m: &Tensor,
    v: &Tensor,
    s: &AdamWStep,
) -> Result<(Tensor, Tensor, Tensor)> {
    check_cpu_f32(OP, &[param, grad, m, v])?;
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
    let ts = [param, grad, m, v].map(|t| t.contiguous());
    let [p, g, m, v] = ts;
    let (p, g, m, v) = (p?, g?, m?, v?);
    let len = p.elem_count();
    let (mut p2, mut m2, mut v2) = (vec![0f32; len], vec![0f32; len], vec![0f32; len]);
    {
        let guards = [&p, &g, &m, &v].map(|t| t.storage_and_layout());
        let (ps, gs, ms, vs) = (
            cpu_data(&guards[0].0, guards[0].1)?,
            cpu_data(&guards[1].0, guards[1].1)?,
            cpu_data(&guards[2].0, guards[2].1)?,
            cpu_data(&guards[3].0, guards[3].1)?,
        );
        let f = |x: f64| x as f32;
        let (b1, b2, sc) = (f(s.beta1), f(s.beta2), f(s.grad_scale));
        let (ib1, ib2) = (f(1.0 / s.bias_correction1), f(1.0 / s.bias_correction2));
        let (lr, eps, decay) = (f(s.lr), f(s.eps), f(1.0 - s.lr * s.weight_decay));
        (
            p2.par_chunks_mut(BLOCK),
            m2.par_chunks_mut(BLOCK),
            v2.par_chunks_mut(BLOCK),
        )
            .into_par_iter()
            .enumerate()
            .for_each(|(k, (po, mo, vo))| {
                let r = k * BLOCK..k * BLOCK + po.len();
                let ins = (&ps[r.clone()], &gs[r.clone()], &ms[r.clone()], &vs[r]);
                for i in 0..po.len() {
                    let gi = sc * ins.1[i];
                    let mi = b1 * ins.2[i] + (1.0 - b1) * gi;
                    let vi = b2 * ins.3[i] + (1.0 - b2) * gi * gi;
                    mo[i] = mi;
                    vo[i] = vi;
                    po[i] = decay * ins.0[i] - lr * (mi * ib1) / ((vi * ib2).sqrt() + eps);
                }
            });
    }
    let mk = |d: Vec<f32>| Tensor::from_vec(d, p.shape(), p.device());
    Ok((mk(p2)?, mk(m2)?, mk(v2)?))
}

/// Σ g² of an f32 CPU tensor (f64 total, fixed summation order).
pub fn sum_squares(g: &Tensor) -> Result<f64> {
    check_cpu_f32("sum_squares", &[g])?;
    let g = g.contiguous()?;
    let (st, l) = g.storage_and_layout();
    let d = cpu_data(&st, l)?;
    Ok(d.par_chunks(BLOCK)
        .map(|c| c.iter().map(|&x| f64::from(x * x)).sum::<f64>())
        .collect::<Vec<f64>>()
        .iter()
        .sum())
}

fn cpu_data<'a>(st: &'a Storage, l: &candle_core::Layout) -> Result<&'a [f32]> {
    match st {
        Storage::Cpu(c) => Ok(super::cpu_slice(OP, c, l)?),
        _ => Err(Error::arg(OP, "CPU-only op called on another device")),
    }
}
