//! Small conversions between the flat f32 models of the operators and the (N, 1, H, W)
//! tensors of the denoisers, and the noise level of a schedule step.

use candle_core::{Device, Tensor};
use velprior_diffusion::NoiseLevel;
use velprior_kernels::Schedule;

use crate::Result;

/// `n` models of `shape` = (H, W), concatenated, as an (N, 1, H, W) tensor on `device`.
pub fn to_batch(values: &[f32], n: usize, shape: [usize; 2], device: &Device) -> Result<Tensor> {
    Ok(Tensor::from_slice(
        values,
        (n, 1, shape[0], shape[1]),
        device,
    )?)
}

/// The models of an (N, ...) tensor as one flat vector per model.
pub fn to_models(x: &Tensor) -> Result<Vec<Vec<f32>>> {
    let n = x.dim(0)?;
    let flat = x.flatten_all()?.to_vec1::<f32>()?;
    let d = flat.len() / n.max(1);
    Ok(flat.chunks(d.max(1)).map(<[f32]>::to_vec).collect())
}

/// The noise level of step `k` of a (possibly respaced) discrete schedule.
pub fn level(schedule: &Schedule, k: usize) -> Result<NoiseLevel> {
    Ok(NoiseLevel::discrete(
        schedule.model_timestep(k)?,
        schedule.num_train_timesteps(),
        schedule.tables_f64().alphas_cumprod[k],
    ))
}
