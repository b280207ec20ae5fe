//! One reverse-time Euler–Maruyama step of the VP-SDE (Song et al. 2021, "Score-Based Generative
//! Modeling through SDEs", eq. 6 and the `EulerMaruyamaPredictor`): from t to t − Δt,
//! x ← x + [½ β(t) x + β(t) s(x, t)] Δt + √(β(t) Δt) z, with the score s = −ε_θ / σ(t),
//! σ(t) = √(1 − ᾱ(t)). Fused: x ← (1 + ½ β Δt) x − (β Δt / σ(t)) ε + √(β Δt) z.

use candle_core::Tensor;

use super::fused;
use super::row_op::{self, Affine3};
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
    row_op::apply(
        Affine3 {
            kernel: &KERNEL,
            coef,
        },
        x,
        eps,
        z,
    )
}
