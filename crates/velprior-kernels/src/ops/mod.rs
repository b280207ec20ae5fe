//! Fused elementwise diffusion ops on (N, ...) f32 tensors, one family per file, each a candle
//! `CustomOp` with `cpu_fwd` and (with the `cuda` feature) `cuda_fwd` side by side, and its CUDA
//! source in `kernels/<same name>.cu`.
//!
//! Per-sample coefficients are computed in f64 from the [`Schedule`](crate::Schedule) by each
//! op's public function, rounded once to f32, and captured in the op.

pub mod adamw;
pub mod ddim_step;
pub mod ddpm_step;
pub mod euler_maruyama;
pub(crate) mod fused;
pub mod guided_update;
pub mod im2col;
pub mod langevin;
pub mod q_sample;
pub(crate) mod row_op;
pub mod tweedie;
pub mod v_param;

use crate::cuda::KernelSource;

/// Every kernel of the crate, one per op family (`kernels/<name>.cu`).
pub const KERNELS: &[KernelSource] = &[
    adamw::KERNEL,
    im2col::IM2COL,
    im2col::COL2IM,
    q_sample::KERNEL,
    tweedie::KERNEL,
    v_param::KERNEL,
    ddpm_step::KERNEL,
    ddim_step::KERNEL,
    euler_maruyama::KERNEL,
    langevin::KERNEL,
    guided_update::KERNEL,
];
