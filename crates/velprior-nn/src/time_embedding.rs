//! Timestep embedding: sinusoidal features of t followed by a two-layer MLP (as DDPM).

use candle_core::{DType, Tensor};
use candle_nn::{Linear, Module, VarBuilder};

use crate::error::{NnError, Result};
use crate::init::linear;

/// Sinusoidal embedding of timesteps, exactly as `unet_bench.py`:
/// `cat([sin(t·f), cos(t·f)], dim = 1)` with `f_i = exp(−ln(10000)·i/half)`, `i = 0..half`,
/// `half = dim/2`.
///
/// `t`: (N,) timesteps (any float or integer dtype; converted to f32). Returns (N, dim) f32.
pub fn sinusoidal_embedding(t: &Tensor, dim: usize) -> Result<Tensor> {
    if t.rank() != 1 {
        return Err(NnError::Shape(format!(
            "timesteps must be a 1-D tensor (N,), got shape {:?}",
            t.dims()
        )));
    }
    if dim < 2 || !dim.is_multiple_of(2) {
        return Err(NnError::Shape(format!(
            "sinusoidal embedding dim {dim} must be even and at least 2"
        )));
    }
    let half = dim / 2;
    // f32 arithmetic in the same order as PyTorch: (−ln(10000) · i) / half, then exp.
    let neg_ln = -(10000f64.ln()) as f32;
    let freqs: Vec<f32> = (0..half)
        .map(|i| (neg_ln * i as f32 / half as f32).exp())
        .collect();
    let freqs = Tensor::from_vec(freqs, (1, half), t.device())?;
    let args = t
        .to_dtype(DType::F32)?
        .unsqueeze(1)?
        .broadcast_mul(&freqs)?;
    Ok(Tensor::cat(&[args.sin()?, args.cos()?], 1)?)
}

/// `sinusoidal(t, sin_dim) → Linear(sin_dim, d) → SiLU → Linear(d, d)`.
///
/// Tensor names (relative to its prefix, `time_mlp` in the UNet): `0.weight` (d, sin_dim),
/// `0.bias` (d,), `2.weight` (d, d), `2.bias` (d,) — the indices of PyTorch's
/// `nn.Sequential(Linear, SiLU, Linear)`.
#[derive(Debug, Clone)]
pub struct TimeEmbedding {
    sin_dim: usize,
    lin1: Linear,
    lin2: Linear,
}

impl TimeEmbedding {
    /// Build with sinusoidal dim `sin_dim` and MLP width `dim`.
    pub fn new(sin_dim: usize, dim: usize, vb: VarBuilder) -> Result<Self> {
        Ok(Self {
            sin_dim,
            lin1: linear(sin_dim, dim, vb.pp("0"))?,
            lin2: linear(dim, dim, vb.pp("2"))?,
        })
    }

    /// `t`: (N,) timesteps → (N, dim).
    pub fn forward(&self, t: &Tensor) -> Result<Tensor> {
        let e = sinusoidal_embedding(t, self.sin_dim)?;
        let h = self.lin1.forward(&e)?.silu()?;
        Ok(self.lin2.forward(&h)?)
    }
}
