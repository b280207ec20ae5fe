//! The guided (DPS) update of posterior sampling (Chung et al. 2023, "Diffusion Posterior
//! Sampling", Algorithm 1 with the step normalised by the residual norm):
//! x ← x − ζ g / ‖r‖, where g = ∇_{x_t} ‖d − F(x̂_0(x_t))‖² (or its 1/√ᾱ_t approximation) and
//! r = d − F(x̂_0) the data residual of that sample.

use candle_core::Tensor;

use super::fused;
use super::row_op::{self, Affine2};
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
    row_op::apply(
        Affine2 {
            kernel: &KERNEL,
            coef,
        },
        x,
        grad,
        None,
    )
}
