//! Noise schedules and fused elementwise diffusion operations for velprior.
//!
//! Two halves:
//!
//! - **Schedules** ([`Schedule`], [`VpSde`], [`respacing`]): the discrete T-step β / ᾱ tables
//!   (linear, cosine, sigmoid) and the continuous VP-SDE β(t), computed in f64 and exposed as f32
//!   tables; every sampler draws its coefficients from them.
//! - **Fused ops** ([`ops`]): one pass over memory for each diffusion update (forward noising
//!   [`q_sample`], Tweedie [`tweedie_x0`], v-parameterisation, the DDPM / DDIM / Euler–Maruyama /
//!   Langevin steps and the DPS guided update). Each acts on candle tensors of shape
//!   (N, ...) — batch first, e.g. (N, 1, H, W) or (N, H, W) — with one timestep (or coefficient)
//!   per sample. They are candle `CustomOp`s with a CPU implementation (rayon, vectorisable inner
//!   loops) and, with the `cuda` feature, a CUDA one (`kernels/*.cu`, compiled at run time with
//!   NVRTC), so callers never branch on the device. Noise tensors are inputs, produced by the
//!   caller from a seeded RNG: the ops themselves are deterministic.
//!
//! All ops take and return `f32` tensors.

pub mod cpu;
pub mod cuda;
mod device;
pub mod device_check;
mod error;
pub mod ops;
pub mod respacing;
mod schedule;
pub mod schedule_name;
mod timesteps;
mod vp_sde;

pub use device::DeviceSpec;
pub use error::{Error, Result};
pub use ops::adamw::adamw_step_fused;
pub use ops::ddim_step::{DdimStep, ddim_step};
pub use ops::ddpm_step::{DdpmStep, DdpmVariance, ddpm_step};
pub use ops::euler_maruyama::euler_maruyama_step;
pub use ops::guided_update::guided_update;
pub use ops::im2col::{col2im, conv2d_im2col, im2col};
pub use ops::langevin::{langevin_snr_step_size, langevin_step};
pub use ops::q_sample::q_sample;
pub use ops::tweedie::tweedie_x0;
pub use ops::v_param::{eps_from_v, v_target, x0_from_v};
pub use schedule::{BetaSchedule, Schedule, ScheduleTables};
pub use timesteps::AsTimesteps;
pub use vp_sde::VpSde;
