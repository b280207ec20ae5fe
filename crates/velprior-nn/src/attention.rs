//! Spatial self-attention block: every pixel attends to every pixel of the same feature map.

use candle_core::{D, Tensor};
use candle_nn::VarBuilder;

use crate::error::Result;
use crate::layers::{Conv, Norm};

/// `Attention(c)` of `unet_bench.py`, generalised to `heads` heads:
/// ```text
/// q, k, v = qkv(norm(x)).reshape(N, 3, heads, c/heads, H·W)
/// w = softmax(qᵀk / √(c/heads))  over the H·W keys
/// return x + proj((v wᵀ).reshape(N, c, H, W))
/// ```
/// With `heads = 1` this is the script's block exactly. Tensor names: `norm.*` (c),
/// `qkv.{weight,bias}` (3c, c, 1, 1) with output channels ordered [q; k; v],
/// `proj.{weight,bias}` (c, c, 1, 1).
///
/// Memory is O(N · heads · (H·W)²): use it at coarse resolutions (16×16 → 256 tokens).
#[derive(Debug, Clone)]
pub struct Attention {
    norm: Norm,
    qkv: Conv,
    proj: Conv,
    channels: usize,
    heads: usize,
}

impl Attention {
    /// Attention over `c` channels with `heads` heads (must divide `c`; checked by the config).
    pub fn new(c: usize, heads: usize, groups: usize, vb: VarBuilder) -> Result<Self> {
        Ok(Self {
            norm: Norm::new(groups, c, vb.pp("norm"))?,
            qkv: Conv::new(c, 3 * c, 1, 1, vb.pp("qkv"))?,
            proj: Conv::new(c, c, 1, 1, vb.pp("proj"))?,
            channels: c,
            heads,
        })
    }

    /// `x`: (N, c, H, W) → (N, c, H, W).
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (n, c, h, w) = x.dims4()?;
        let (heads, ch, hw) = (self.heads, self.channels / self.heads, h * w);
        let qkv =
            self.qkv
                .forward(&self.norm.forward(x, false)?)?
                .reshape((n, 3, heads * ch * hw))?;
        let part =
            |i: usize| -> Result<Tensor> { Ok(qkv.narrow(1, i, 1)?.reshape((n * heads, ch, hw))?) };
        let (q, k, v) = (part(0)?, part(1)?, part(2)?);
        let scale = 1.0 / (ch as f64).sqrt();
        // (N·heads, HW_q, HW_k)
        let att = (q.transpose(1, 2)?.contiguous()?.matmul(&k)? * scale)?;
        let att = candle_nn::ops::softmax(&att, D::Minus1)?;
        // out[c, i] = Σ_j v[c, j] att[i, j]
        let out = v.matmul(&att.transpose(1, 2)?.contiguous()?)?;
        let out = out.reshape((n, c, h, w))?;
        Ok((x + self.proj.forward(&out)?)?)
    }
}
