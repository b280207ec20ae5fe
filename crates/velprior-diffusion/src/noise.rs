//! Seeded Gaussian noise and per-sample coefficient tensors.
//!
//! candle's own `randn` is not seeded on the CPU, so every stochastic path draws from a
//! `ChaCha8Rng`: the same seed gives the same bits.

use candle_core::{Device, Tensor};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

use crate::Result;

/// A tensor of `shape` filled with independent N(0, 1) draws from `rng`.
pub fn standard_normal(rng: &mut ChaCha8Rng, shape: &[usize], device: &Device) -> Result<Tensor> {
    let n: usize = shape.iter().product();
    let values: Vec<f32> = (0..n).map(|_| StandardNormal.sample(rng)).collect();
    Ok(Tensor::from_vec(values, shape, device)?)
}

/// Per-sample scalars as an (N, 1, 1, 1) f32 tensor for broadcasting over (N, C, H, W).
pub fn per_sample(values: &[f64], device: &Device) -> Result<Tensor> {
    let v: Vec<f32> = values.iter().map(|&x| x as f32).collect();
    Ok(Tensor::from_vec(v, (values.len(), 1, 1, 1), device)?)
}
