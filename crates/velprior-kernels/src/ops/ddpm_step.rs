//! The DDPM ancestral step (Ho et al. 2020, Algorithm 2; Nichol & Dhariwal 2021, eqs. 10–13):
//! x_{t−1} = μ̃_t(x̂_0, x_t) + σ_t z, with x̂_0 = (x_t − √(1 − ᾱ_t) ε) / √ᾱ_t (optionally clipped),
//! μ̃_t = β_t √ᾱ_{t−1} / (1 − ᾱ_t) · x̂_0 + (1 − ᾱ_{t−1}) √α_t / (1 − ᾱ_t) · x_t and σ_t² = β̃_t
//! (posterior variance) or β_t; no noise at t = 0. Without clipping this is
//! x_{t−1} = (x_t − β_t / √(1 − ᾱ_t) · ε) / √α_t + σ_t z.

use std::mem::MaybeUninit;

use candle_core::Tensor;

use super::fused;
use super::row_op::{self, RowOp};
use crate::cuda::KernelSource;
use crate::{AsTimesteps, Error, Result, Schedule};

pub(crate) const KERNEL: KernelSource = KernelSource {
    name: "ddpm_step",
    func: "ddpm_step_f32",
    src: include_str!("../../../../kernels/ddpm_step.cu"),
};

/// The variance σ_t² of the reverse step (Ho et al. 2020, §3.2: both give similar samples);
/// written `"posterior"` / `"beta"` in configs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DdpmVariance {
    /// σ_t² = β̃_t = β_t (1 − ᾱ_{t−1}) / (1 − ᾱ_t), the posterior variance ("fixed small").
    #[default]
    Posterior,
    /// σ_t² = β_t ("fixed large"), except σ_0 = 0.
    Beta,
}

/// Options of [`ddpm_step`].
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct DdpmStep {
    /// Which σ_t.
    pub variance: DdpmVariance,
    /// Clip x̂_0 to [lo, hi] before forming the mean (normalised velocities live in [−1, 1]).
    pub clip_x0: Option<(f32, f32)>,
}

/// One ancestral step x_t → x_{t−1} for x_t, ε (and z) of shape (N, ...), with one timestep per
/// sample indexing `schedule` (a respaced schedule gives the respaced DDPM step). `z` may be
/// `None` only where σ_t = 0 (t = 0).
pub fn ddpm_step<T: AsTimesteps + ?Sized>(
    x_t: &Tensor,
    eps: &Tensor,
    z: Option<&Tensor>,
    t: &T,
    schedule: &Schedule,
    opts: &DdpmStep,
) -> Result<Tensor> {
    const OP: &str = "ddpm_step";
    let mut ins = vec![x_t, eps];
    ins.extend(z);
    let (n, _) = fused::check_inputs(OP, &ins)?;
    let (lo, hi) = fused::check_clip(OP, opts.clip_x0)?;
    let mut coef = Vec::with_capacity(STRIDE * n);
    for t in t.timesteps(n)? {
        schedule.check(t)?;
        let (ab, omab, beta) = (schedule.ab(t), schedule.omab(t), schedule.beta(t));
        let (ab_prev, omab_prev) = (schedule.ab_prev(t), schedule.omab_prev(t));
        let alpha = 1.0 - beta;
        let var = match opts.variance {
            DdpmVariance::Posterior => beta * omab_prev / omab,
            DdpmVariance::Beta if t == 0 => 0.0,
            DdpmVariance::Beta => beta,
        };
        if var > 0.0 && z.is_none() {
            return Err(Error::arg(
                OP,
                format!("noise z is required at t = {t} (sigma_t > 0)"),
            ));
        }
        let row = [
            1.0 / alpha.sqrt(),
            -beta / (alpha.sqrt() * omab.sqrt()),
            var.sqrt(),
            1.0 / ab.sqrt(),
            -omab.sqrt() / ab.sqrt(),
            beta * ab_prev.sqrt() / omab,
            omab_prev * alpha.sqrt() / omab,
        ];
        coef.extend(row.iter().map(|&c| c as f32));
        coef.extend([lo, hi]);
    }
    let flags = if opts.clip_x0.is_some() {
        fused::CLIP
    } else {
        0
    };
    row_op::apply(DdpmAncestral { coef, flags }, x_t, eps, z)
}

const STRIDE: usize = 9;

/// Coefficients per sample: [A = 1/√α_t, B = −β_t/(√α_t √(1 − ᾱ_t)), σ_t, 1/√ᾱ_t,
/// −√(1 − ᾱ_t)/√ᾱ_t, μ̃ coefficient of x̂_0, μ̃ coefficient of x_t, lo, hi].
struct DdpmAncestral {
    coef: Vec<f32>,
    flags: u32,
}

impl RowOp for DdpmAncestral {
    fn kernel(&self) -> &'static KernelSource {
        &KERNEL
    }

    fn coef(&self) -> &[f32] {
        &self.coef
    }

    fn flags(&self, inputs: usize) -> u32 {
        if inputs == 3 {
            self.flags | fused::HAS_Z
        } else {
            self.flags
        }
    }

    fn row(&self, n: usize, x: &[f32], e: &[f32], z: Option<&[f32]>, out: &mut [MaybeUninit<f32>]) {
        let c = &self.coef[STRIDE * n..STRIDE * (n + 1)];
        if self.flags & fused::CLIP == 0 {
            return fused::affine3(c[0], c[1], c[2], x, e, z, out);
        }
        let (s, ax, bx, c0, c1, lo, hi) = (c[2], c[3], c[4], c[5], c[6], c[7], c[8]);
        let mean = |x: f32, e: f32| c0 * fused::clip(ax * x + bx * e, lo, hi) + c1 * x;
        match z {
            Some(z) => {
                for (((o, &x), &e), &z) in out.iter_mut().zip(x).zip(e).zip(z) {
                    o.write(mean(x, e) + s * z);
                }
            }
            None => {
                for ((o, &x), &e) in out.iter_mut().zip(x).zip(e) {
                    o.write(mean(x, e));
                }
            }
        }
    }
}
