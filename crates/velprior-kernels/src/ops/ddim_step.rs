//! The DDIM step (Song, Meng & Ermon 2021, "Denoising Diffusion Implicit Models", eq. 12):
//! x_{t'} = √ᾱ_{t'} x̂_0 + √(1 − ᾱ_{t'} − σ_t²) ε + σ_t z, with t' = t − 1 in the (respaced)
//! schedule (ᾱ_{t'} = 1 at t = 0), x̂_0 = (x_t − √(1 − ᾱ_t) ε)/√ᾱ_t and
//! σ_t = η √((1 − ᾱ_{t'})/(1 − ᾱ_t)) √(1 − ᾱ_t/ᾱ_{t'}) (eq. 16). η = 0 is the deterministic
//! sampler, η = 1 on the full schedule is DDPM with σ_t² = β̃_t. With x̂_0 clipped, ε is
//! recomputed from the clipped x̂_0 (as diffusers does), which keeps η = 1 equal to clipped DDPM.

use std::mem::MaybeUninit;

use candle_core::Tensor;

use super::fused;
use super::row_op::{self, RowOp};
use crate::cuda::KernelSource;
use crate::{AsTimesteps, Error, Result, Schedule};

pub(crate) const KERNEL: KernelSource = KernelSource {
    name: "ddim_step",
    func: "ddim_step_f32",
    src: include_str!("../../../../kernels/ddim_step.cu"),
};

/// Options of [`ddim_step`].
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct DdimStep {
    /// η ∈ [0, 1]: 0 deterministic (DDIM), 1 the DDPM posterior variance.
    pub eta: f64,
    /// Clip x̂_0 to [lo, hi] (normalised velocities live in [−1, 1]).
    pub clip_x0: Option<(f32, f32)>,
}

/// One DDIM step x_t → x_{t−1} of `schedule` (respace it to skip steps) for x_t, ε (and z) of
/// shape (N, ...), one timestep per sample. `z` may be `None` where σ_t = 0 (η = 0, or t = 0).
pub fn ddim_step<T: AsTimesteps + ?Sized>(
    x_t: &Tensor,
    eps: &Tensor,
    z: Option<&Tensor>,
    t: &T,
    schedule: &Schedule,
    opts: &DdimStep,
) -> Result<Tensor> {
    const OP: &str = "ddim_step";
    let mut ins = vec![x_t, eps];
    ins.extend(z);
    let (n, _) = fused::check_inputs(OP, &ins)?;
    let (lo, hi) = fused::check_clip(OP, opts.clip_x0)?;
    let eta = opts.eta;
    if !(0.0..=1.0).contains(&eta) {
        return Err(Error::arg(OP, format!("eta must be in [0, 1], got {eta}")));
    }
    let mut coef = Vec::with_capacity(STRIDE * n);
    for t in t.timesteps(n)? {
        schedule.check(t)?;
        let (ab, omab, beta) = (schedule.ab(t), schedule.omab(t), schedule.beta(t));
        let (ab_prev, omab_prev) = (schedule.ab_prev(t), schedule.omab_prev(t));
        let alpha = 1.0 - beta;
        let eta2 = eta * eta;
        // σ² = η² β̃_t; 1 − ᾱ' − σ² = (1 − ᾱ')[(1 − η²)(1 − ᾱ) + η² α (1 − ᾱ')]/(1 − ᾱ) ≥ 0.
        let var = eta2 * beta * omab_prev / omab;
        let dir2 = omab_prev * ((1.0 - eta2) * omab + eta2 * alpha * omab_prev) / omab;
        let c_dir = dir2.max(0.0).sqrt();
        if var > 0.0 && z.is_none() {
            return Err(Error::arg(
                OP,
                format!("noise z is required at t = {t} with eta = {eta} (sigma_t > 0)"),
            ));
        }
        let (sab, somab, sab_prev) = (ab.sqrt(), omab.sqrt(), ab_prev.sqrt());
        let row = [
            sab_prev / sab,
            c_dir - sab_prev * somab / sab,
            var.sqrt(),
            1.0 / sab,
            -somab / sab,
            sab_prev,
            c_dir,
            1.0 / somab,
            -sab / somab,
        ];
        coef.extend(row.iter().map(|&c| c as f32));
        coef.extend([lo, hi]);
    }
    let flags = if opts.clip_x0.is_some() {
        fused::CLIP
    } else {
        0
    };
    row_op::apply(Ddim { coef, flags }, x_t, eps, z)
}

const STRIDE: usize = 11;

/// Coefficients per sample: [A = √ᾱ'/√ᾱ, B = c_dir − √ᾱ'√(1 − ᾱ)/√ᾱ, σ, 1/√ᾱ, −√(1 − ᾱ)/√ᾱ,
/// √ᾱ', c_dir = √(1 − ᾱ' − σ²), 1/√(1 − ᾱ), −√ᾱ/√(1 − ᾱ), lo, hi].
struct Ddim {
    coef: Vec<f32>,
    flags: u32,
}

impl RowOp for Ddim {
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
        let (s, ax, bx, sab_prev, c_dir, ex, ex0, lo, hi) =
            (c[2], c[3], c[4], c[5], c[6], c[7], c[8], c[9], c[10]);
        let mean = |x: f32, e: f32| {
            let x0 = fused::clip(ax * x + bx * e, lo, hi);
            let e2 = ex * x + ex0 * x0;
            sab_prev * x0 + c_dir * e2
        };
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
