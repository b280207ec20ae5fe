//! Fused GroupNorm (Wu & He 2018) with optional SiLU, as a candle `CustomOp2` with its analytic
//! backward pass in one more op.
//!
//! Per sample n and group G of M = (C/groups)·H·W values: x̂ = (x − μ_G)/√(σ²_G + ε),
//! z = γ_c x̂ + β_c, y = SiLU(z) = z σ(z) (or y = z). Backward, with dz = dy · SiLU'(z) and
//! dx̂ = γ_c dz: dx = (dx̂ − mean_G(dx̂) − x̂ · mean_G(dx̂ x̂)) / √(σ²_G + ε),
//! dγ_c = Σ dz x̂, dβ_c = Σ dz.

use std::mem::MaybeUninit;

use candle_core::{CpuStorage, CustomOp2, CustomOp3, Layout, Shape, Tensor};
use rayon::prelude::*;

use super::{check_cpu_f32, cpu_slice, lane_sums, reduction_chunk, written_vec};
use crate::{Error, Result};

const OP: &str = "group_norm";

/// `silu(group_norm(x))` (or plain GroupNorm with `silu = false`), as PyTorch's
/// `F.silu(nn.GroupNorm(groups, C, eps)(x))`. `x`: (N, C, ...) f32, `gamma`, `beta`: (C,).
/// Returns x's shape. Differentiable in `x`, `gamma` and `beta`; CPU only.
pub fn group_norm(
    x: &Tensor,
    gamma: &Tensor,
    beta: &Tensor,
    groups: usize,
    eps: f64,
    silu: bool,
) -> Result<Tensor> {
    check(x, gamma, beta, groups)?;
    let affine = Tensor::cat(&[gamma, beta], 0)?;
    let op = GroupNormOp::new(groups, eps, silu);
    Ok(x.contiguous()?.apply_op2(&affine, op)?)
}

/// Checks x (N, C, ...) against γ, β (C,) and the group count.
pub(crate) fn check(x: &Tensor, gamma: &Tensor, beta: &Tensor, groups: usize) -> Result<()> {
    check_cpu_f32(OP, &[x, gamma, beta])?;
    let dims = x.dims();
    if dims.len() < 2 || x.elem_count() == 0 {
        return Err(Error::arg(
            OP,
            format!("x must be a non-empty (N, C, ...) tensor, got {dims:?}"),
        ));
    }
    let c = dims[1];
    if groups == 0 || !c.is_multiple_of(groups) {
        return Err(Error::arg(
            OP,
            format!("{c} channels cannot be split into {groups} groups"),
        ));
    }
    if gamma.dims() != [c] || beta.dims() != [c] {
        return Err(Error::arg(
            OP,
            format!(
                "gamma and beta must be ({c},), got {:?} and {:?}",
                gamma.dims(),
                beta.dims()
            ),
        ));
    }
    Ok(())
}

/// Forward op: (x, [γ; β]) → y.
pub(crate) struct GroupNormOp {
    groups: usize,
    eps: f32,
    silu: bool,
}

/// Sample geometry: (N, C, pixels per channel, channels per group).
fn geometry(l: &Layout, groups: usize) -> (usize, usize, usize, usize) {
    let d = l.dims();
    let (n, c) = (d[0], d[1]);
    (n, c, d[2..].iter().product(), c / groups)
}

/// Mean and 1/√(var + ε) of one group (two passes, f64 totals).
#[inline(always)]
fn stats(xg: &[f32], eps: f32) -> (f32, f32) {
    let m = xg.len() as f64;
    let mean = (lane_sums::sum(xg) / m) as f32;
    let var = lane_sums::squared_deviations(xg, mean) / m;
    (mean, (1.0 / (var + f64::from(eps)).sqrt()) as f32)
}

/// Whether to run the AVX2 + FMA builds of the per-sample loops (8 lanes instead of the
/// baseline's 4).
#[cfg(target_arch = "x86_64")]
#[inline]
fn has_avx2() -> bool {
    std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
}

/// σ(z) = 1/(1 + e^(−z)), with [`exp`] so that the loops around it vectorise.
#[inline(always)]
fn sigmoid(z: f32) -> f32 {
    1.0 / (1.0 + exp(-z))
}

/// e^x, branch-free (vectorises; libm's `expf` does not): x = k ln 2 + r with |r| ≤ ln2/2,
/// e^r by its degree-6 Taylor polynomial (relative error < 2e-7), 2^k through the exponent
/// bits. Inputs are clamped to [−87, 88] (the normal f32 range).
#[inline(always)]
fn exp(x: f32) -> f32 {
    const ROUND: f32 = 12_582_912.0; // 1.5 · 2²³: adding it rounds to an integer
    let x = x.clamp(-87.0, 88.0);
    // t = ROUND + k: the low mantissa bits of t hold the integer k (two's complement), so
    // (bits(t) + 127) << 23 is the f32 2^k, with integer operations only (no float → int
    // conversion, which Rust's saturating semantics keep from vectorising).
    let t = x * std::f32::consts::LOG2_E + ROUND;
    let k = t - ROUND;
    let r = x - k * 0.693_145_75 - k * 1.428_606_8e-6;
    let p = 1.0
        + r * (1.0
            + r * (0.5
                + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0))))));
    p * f32::from_bits(t.to_bits().wrapping_add(127) << 23)
}

impl GroupNormOp {
    pub(crate) fn new(groups: usize, eps: f64, silu: bool) -> Self {
        GroupNormOp {
            groups,
            eps: eps as f32,
            silu,
        }
    }

    /// y of a batch x (N, c, hw pixels) with `aff` = [γ; β].
    pub(crate) fn forward(&self, x: &[f32], aff: &[f32], c: usize, hw: usize) -> Vec<f32> {
        let cg = c / self.groups;
        let (gamma, beta) = aff.split_at(c);
        let fill = |y: &mut [MaybeUninit<f32>]| {
            y.par_chunks_mut(c * hw)
                .zip(x.par_chunks(c * hw))
                .for_each(|(ys, xs)| {
                    #[cfg(target_arch = "x86_64")]
                    if has_avx2() {
                        // SAFETY: the CPU supports the enabled features.
                        return unsafe { self.forward_sample_avx2(xs, gamma, beta, (hw, cg), ys) };
                    }
                    self.forward_sample(xs, gamma, beta, (hw, cg), ys)
                })
        };
        // SAFETY: forward_sample writes every element of each sample (groups · cg = c channels).
        unsafe { written_vec(x.len(), fill) }
    }

    /// (dx, [dγ; dβ]) for the output gradient `dy`.
    pub(crate) fn backward(
        &self,
        x: &Tensor,
        affine: &Tensor,
        dy: &Tensor,
    ) -> candle_core::Result<(Tensor, Tensor)> {
        let grad = GroupNormGrad {
            groups: self.groups,
            eps: self.eps,
            silu: self.silu,
        };
        let flat = x.apply_op3_no_bwd(affine, &dy.contiguous()?, &grad)?;
        let n = x.elem_count();
        let dx = flat.narrow(0, 0, n)?.reshape(x.shape())?;
        let da = flat.narrow(0, n, affine.elem_count())?;
        Ok((dx, da))
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn forward_sample_avx2(
        &self,
        xs: &[f32],
        gamma: &[f32],
        beta: &[f32],
        geom: (usize, usize),
        ys: &mut [MaybeUninit<f32>],
    ) {
        self.forward_sample(xs, gamma, beta, geom, ys);
    }

    /// y of one sample (C, pixels) into `ys` (every element written).
    #[inline(always)]
    fn forward_sample(
        &self,
        xs: &[f32],
        gamma: &[f32],
        beta: &[f32],
        (hw, cg): (usize, usize),
        ys: &mut [MaybeUninit<f32>],
    ) {
        for g in 0..self.groups {
            let r = g * cg * hw..(g + 1) * cg * hw;
            let (mean, rstd) = stats(&xs[r], self.eps);
            for ch in g * cg..(g + 1) * cg {
                let a = gamma[ch] * rstd;
                let b = beta[ch] - mean * a;
                let (yc, xc) = (&mut ys[ch * hw..(ch + 1) * hw], &xs[ch * hw..(ch + 1) * hw]);
                if self.silu {
                    for (o, &v) in yc.iter_mut().zip(xc) {
                        let z = a * v + b;
                        o.write(z * sigmoid(z));
                    }
                } else {
                    for (o, &v) in yc.iter_mut().zip(xc) {
                        o.write(a * v + b);
                    }
                }
            }
        }
    }
}

impl CustomOp2 for GroupNormOp {
    fn name(&self) -> &'static str {
        OP
    }

    fn cpu_fwd(
        &self,
        sx: &CpuStorage,
        lx: &Layout,
        sa: &CpuStorage,
        la: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let (x, aff) = (cpu_slice(OP, sx, lx)?, cpu_slice(OP, sa, la)?);
        let (_, c, hw, _) = geometry(lx, self.groups);
        let y = self.forward(x, aff, c, hw);
        Ok((CpuStorage::F32(y), lx.shape().clone()))
    }

    fn bwd(
        &self,
        x: &Tensor,
        affine: &Tensor,
        _res: &Tensor,
        dy: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>)> {
        let (dx, da) = self.backward(x, affine, dy)?;
        Ok((Some(dx), Some(da)))
    }
}

/// Backward op: (x, [γ; β], dy) → flat [dx; dγ; dβ].
struct GroupNormGrad {
    groups: usize,
    eps: f32,
    silu: bool,
}

impl CustomOp3 for GroupNormGrad {
    fn name(&self) -> &'static str {
        "group_norm_grad"
    }

    fn cpu_fwd(
        &self,
        sx: &CpuStorage,
        lx: &Layout,
        sa: &CpuStorage,
        la: &Layout,
        sdy: &CpuStorage,
        ldy: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let name = self.name();
        let (x, aff, dy) = (
            cpu_slice(name, sx, lx)?,
            cpu_slice(name, sa, la)?,
            cpu_slice(name, sdy, ldy)?,
        );
        let (n, c, hw, cg) = geometry(lx, self.groups);
        let gamma = &aff[..c];
        let beta = &aff[c..];
        let mut out = vec![0f32; x.len() + 2 * c];
        let (dx, daff) = out.split_at_mut(x.len());
        let chunk = reduction_chunk(n);
        let partials: Vec<Vec<f64>> = dx
            .par_chunks_mut(chunk * c * hw)
            .enumerate()
            .map(|(k, dx_chunk)| {
                let mut acc = vec![0f64; 2 * c];
                for (i, dxs) in dx_chunk.chunks_mut(c * hw).enumerate() {
                    let s = k * chunk + i;
                    let xs = &x[s * c * hw..(s + 1) * c * hw];
                    let dys = &dy[s * c * hw..(s + 1) * c * hw];
                    #[cfg(target_arch = "x86_64")]
                    if has_avx2() {
                        // SAFETY: the CPU supports the enabled features.
                        unsafe { self.sample_avx2(xs, dys, gamma, beta, (hw, cg), dxs, &mut acc) };
                        continue;
                    }
                    self.sample(xs, dys, gamma, beta, (hw, cg), dxs, &mut acc);
                }
                acc
            })
            .collect();
        for p in &partials {
            for (o, &v) in daff.iter_mut().zip(p) {
                *o += v as f32;
            }
        }
        Ok((CpuStorage::F32(out), Shape::from(x.len() + 2 * c)))
    }
}

impl GroupNormGrad {
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    #[allow(clippy::too_many_arguments)]
    unsafe fn sample_avx2(
        &self,
        xs: &[f32],
        dys: &[f32],
        gamma: &[f32],
        beta: &[f32],
        geom: (usize, usize),
        dxs: &mut [f32],
        acc: &mut [f64],
    ) {
        self.sample(xs, dys, gamma, beta, geom, dxs, acc);
    }

    /// dx of one sample into `dxs`; adds Σ dz x̂ and Σ dz per channel to `acc` = [dγ; dβ].
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn sample(
        &self,
        xs: &[f32],
        dys: &[f32],
        gamma: &[f32],
        beta: &[f32],
        (hw, cg): (usize, usize),
        dxs: &mut [f32],
        acc: &mut [f64],
    ) {
        let c = gamma.len();
        let m = (cg * hw) as f64;
        for g in 0..self.groups {
            let (mean, rstd) = stats(&xs[g * cg * hw..(g + 1) * cg * hw], self.eps);
            // Pass 1: dz into dxs; Σ dx̂ and Σ dx̂ x̂ over the group.
            let (mut s1, mut s2) = (0f64, 0f64);
            for ch in g * cg..(g + 1) * cg {
                let r = ch * hw..(ch + 1) * hw;
                let (xc, dyc, dzc) = (&xs[r.clone()], &dys[r.clone()], &mut dxs[r]);
                if self.silu {
                    let a = gamma[ch] * rstd;
                    let b = beta[ch] - mean * a;
                    for ((dz, &v), &d) in dzc.iter_mut().zip(xc).zip(dyc) {
                        let z = a * v + b;
                        let sg = sigmoid(z);
                        *dz = d * sg * (1.0 + z * (1.0 - sg));
                    }
                } else {
                    dzc.copy_from_slice(dyc);
                }
                let (sum_dz, dot_dz_x) = lane_sums::sum_and_dot(dzc, xc);
                let sum_dz_xhat = f64::from(rstd) * (dot_dz_x - f64::from(mean) * sum_dz);
                acc[ch] += sum_dz_xhat;
                acc[c + ch] += sum_dz;
                s1 += f64::from(gamma[ch]) * sum_dz;
                s2 += f64::from(gamma[ch]) * sum_dz_xhat;
            }
            // Pass 2: dx = rstd (γ dz − S1/M − x̂ S2/M).
            let (m1, m2) = ((s1 / m) as f32, (s2 / m) as f32);
            let r = g * cg * hw..(g + 1) * cg * hw;
            let chans = dxs[r.clone()].chunks_mut(hw).zip(xs[r].chunks(hw));
            for ((dxc, xc), &gm) in chans.zip(&gamma[g * cg..(g + 1) * cg]) {
                for (d, &v) in dxc.iter_mut().zip(xc) {
                    let xhat = (v - mean) * rstd;
                    *d = rstd * (gm * *d - m1 - xhat * m2);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn exp_is_accurate_over_the_f32_range() {
        for i in 0..175_000 {
            let x = -87.0 + i as f32 * 1e-3;
            let (got, want) = (f64::from(super::exp(x)), f64::from(x).exp());
            assert!(
                (got - want).abs() <= 4e-7 * want,
                "exp({x}) = {got}, want {want}"
            );
        }
    }
}
