//! The UNet denoiser ε_θ(x_t, t) of the DDPM prior, built on candle-nn.
//!
//! # Architecture
//! See [`UNetConfig`]: `conv_in` (3×3), then per level `l = 0..L` `res_blocks_per_level`
//! residual blocks (each followed by attention if `l ∈ attention_levels`), the level output is
//! kept as `skip_l`, then a stride-2 downsample (not after the last level); the middle is
//! `ResBlock, [Attention], ResBlock`; the way up visits `l = L−1..=0`: `h = cat([h, skip_l])`
//! along channels, `res_blocks_per_level` residual blocks (+ attention), then nearest ×2 + 3×3
//! conv (not after level 0); finally `GroupNorm → SiLU → conv_out` (3×3).
//! [`UNetConfig::unet_bench`] reproduces `bench/reference/unet_bench.py` layer by layer.
//!
//! # Tensor names (checkpoint keys, stable)
//! ```text
//! time_mlp.0.{weight,bias}              Linear(time_sinusoid_dim → time_embed_dim)
//! time_mlp.2.{weight,bias}              Linear(time_embed_dim → time_embed_dim)
//! conv_in.{weight,bias}                 (C0, in_channels, 3, 3)
//! down.{l}.res.{i}.{norm1,conv1,time_proj,norm2,conv2,skip}.{weight,bias}
//! down.{l}.attn.{i}.{norm,qkv,proj}.{weight,bias}     (only for l in attention_levels)
//! down.{l}.downsample.conv.{weight,bias}              (l < L−1)
//! mid.res.0.*, mid.attn.* (if mid_attention), mid.res.1.*
//! up.{l}.res.{i}.*, up.{l}.attn.{i}.*   l = level index (same resolution as down.{l}),
//!                                       i = 0 is the block that takes cat([h, skip_l])
//! up.{l}.upsample.conv.{weight,bias}                  (l > 0; applied after up.{l}.res)
//! norm_out.{weight,bias}, conv_out.{weight,bias}
//! ```
//! Conv weights are (out, in, kh, kw), linear weights (out, in), as in PyTorch. `skip` exists
//! only when a residual block changes the channel count. Block-internal names are documented
//! on [`ResBlock`], [`Attention`], [`Downsample`], [`Upsample`].
//!
//! # Sizes
//! H and W need not be multiples of 2^(L−1): the input is padded at the bottom/right
//! ([`crate::PadMode`], replicate by default) and the output cropped back, so a 70×70 OpenFWI
//! model gives a 70×70 output.

use candle_core::{DType, Device, Tensor};
use candle_nn::{VarBuilder, VarMap};

use crate::attention::Attention;
use crate::config::UNetConfig;
use crate::dropout::Dropout;
use crate::error::{NnError, Result};
use crate::init::seeded_var_builder;
use crate::layers::{Conv, ConvAdd, Norm, norm_silu_conv};
use crate::pad::{crop, pad_to_multiple};
use crate::res_block::ResBlock;
use crate::resample::{Downsample, Upsample};
use crate::time_embedding::TimeEmbedding;

#[derive(Debug, Clone)]
struct Level {
    res: Vec<ResBlock>,
    attn: Vec<Attention>,
}

impl Level {
    fn forward(&self, mut h: Tensor, temb: &Tensor, drop: &Dropout, train: bool) -> Result<Tensor> {
        for (i, r) in self.res.iter().enumerate() {
            h = r.forward(&h, temb, drop, train)?;
            if let Some(a) = self.attn.get(i) {
                h = a.forward(&h)?;
            }
        }
        Ok(h)
    }
}

/// The UNet. Build with [`UNet::new`] (any `VarBuilder`, e.g. from a checkpoint) or
/// [`UNet::new_seeded`] (fresh, reproducible weights).
#[derive(Debug)]
pub struct UNet {
    cfg: UNetConfig,
    time: TimeEmbedding,
    conv_in: Conv,
    down: Vec<Level>,
    downsample: Vec<Downsample>,
    mid_res: [ResBlock; 2],
    mid_attn: Option<Attention>,
    /// Indexed by level `l` (same as `down`); applied from `L−1` to `0`.
    up: Vec<Level>,
    /// `upsample[l - 1]` follows `up[l]`, for `l ≥ 1`.
    upsample: Vec<Upsample>,
    norm_out: Norm,
    conv_out: Conv,
    dropout: Dropout,
}

impl UNet {
    /// Build the network described by `cfg` (validated first) with weights from `vb`
    /// (names in the module doc).
    pub fn new(cfg: &UNetConfig, vb: VarBuilder) -> Result<Self> {
        cfg.validate()?;
        let (g, td, nl) = (cfg.groups, cfg.time_embed_dim, cfg.levels());
        let level = |vb: &VarBuilder, l: usize, cin: usize| -> Result<Level> {
            let c = cfg.level_channels(l);
            let mut res = Vec::new();
            let mut attn = Vec::new();
            for i in 0..cfg.res_blocks_per_level {
                let ci = if i == 0 { cin } else { c };
                res.push(ResBlock::new(ci, c, td, g, vb.pp(format!("res.{i}")))?);
                if cfg.attention_levels.contains(&l) {
                    let a = Attention::new(c, cfg.attention_heads, g, vb.pp(format!("attn.{i}")))?;
                    attn.push(a);
                }
            }
            Ok(Level { res, attn })
        };

        let c0 = cfg.level_channels(0);
        let time = TimeEmbedding::new(cfg.time_sinusoid_dim, td, vb.pp("time_mlp"))?;
        let conv_in = Conv::new(cfg.in_channels, c0, 3, 1, vb.pp("conv_in"))?;
        let mut down = Vec::with_capacity(nl);
        let mut downsample = Vec::with_capacity(nl - 1);
        let mut cprev = c0;
        for l in 0..nl {
            let vbl = vb.pp(format!("down.{l}"));
            down.push(level(&vbl, l, cprev)?);
            cprev = cfg.level_channels(l);
            if l + 1 < nl {
                downsample.push(Downsample::new(cprev, vbl.pp("downsample"))?);
            }
        }
        let cm = cfg.level_channels(nl - 1);
        let mid_res = [
            ResBlock::new(cm, cm, td, g, vb.pp("mid.res.0"))?,
            ResBlock::new(cm, cm, td, g, vb.pp("mid.res.1"))?,
        ];
        let mid_attn = if cfg.mid_attention {
            Some(Attention::new(
                cm,
                cfg.attention_heads,
                g,
                vb.pp("mid.attn"),
            )?)
        } else {
            None
        };
        // Build the up path in application order (deepest first) so that `cprev` is right,
        // then store it by level index.
        let mut up_rev = Vec::with_capacity(nl);
        let mut upsample_rev = Vec::with_capacity(nl - 1);
        for l in (0..nl).rev() {
            let c = cfg.level_channels(l);
            let vbl = vb.pp(format!("up.{l}"));
            up_rev.push(level(&vbl, l, cprev + c)?);
            cprev = c;
            if l > 0 {
                upsample_rev.push(Upsample::new(c, vbl.pp("upsample"))?);
            }
        }
        up_rev.reverse();
        upsample_rev.reverse();
        Ok(Self {
            cfg: cfg.clone(),
            time,
            conv_in,
            down,
            downsample,
            mid_res,
            mid_attn,
            up: up_rev,
            upsample: upsample_rev,
            norm_out: Norm::new(g, c0, vb.pp("norm_out"))?,
            conv_out: Conv::new(c0, cfg.out_channels, 3, 1, vb.pp("conv_out"))?,
            dropout: Dropout::new(cfg.dropout, 0),
        })
    }

    /// Fresh f32 network with PyTorch-default init drawn reproducibly from `seed` (see
    /// [`crate::seeded_var_builder`]). Returns the network and the `VarMap` holding its
    /// trainable variables (for the optimiser and for saving).
    pub fn new_seeded(cfg: &UNetConfig, seed: u64, device: &Device) -> Result<(Self, VarMap)> {
        let varmap = VarMap::new();
        let vb = seeded_var_builder(&varmap, seed, DType::F32, device);
        let net = Self::new(cfg, vb)?;
        net.dropout.reseed(seed ^ 0xd5a6_1266_f0c9_392c);
        Ok((net, varmap))
    }

    /// The configuration this network was built from.
    pub fn config(&self) -> &UNetConfig {
        &self.cfg
    }

    /// The device the weights live on.
    pub fn device(&self) -> &Device {
        self.conv_in.device()
    }

    /// Re-seed the dropout mask stream (no effect when `dropout = 0`).
    pub fn set_dropout_seed(&self, seed: u64) {
        self.dropout.reseed(seed);
    }

    /// ε-prediction. `x`: (N, in_channels, H, W) f32, any H, W ≥ 1; `t`: (N,) timesteps
    /// (f32; integer dtypes are converted). `train` enables dropout.
    /// Returns (N, out_channels, H, W).
    pub fn forward(&self, x: &Tensor, t: &Tensor, train: bool) -> Result<Tensor> {
        let (_, _, h, w) = self.check_inputs(x, t)?;
        let xp = pad_to_multiple(x, self.cfg.downsample_factor(), self.cfg.pad_mode)?;
        let temb = self.time.forward(t)?.silu()?;
        let drop = &self.dropout;

        let mut hcur = self.conv_in.forward(&xp)?;
        let mut skips = Vec::with_capacity(self.down.len());
        for (l, lev) in self.down.iter().enumerate() {
            hcur = lev.forward(hcur, &temb, drop, train)?;
            skips.push(hcur.clone());
            if let Some(ds) = self.downsample.get(l) {
                hcur = ds.forward(&hcur)?;
            }
        }
        hcur = self.mid_res[0].forward(&hcur, &temb, drop, train)?;
        if let Some(a) = &self.mid_attn {
            hcur = a.forward(&hcur)?;
        }
        hcur = self.mid_res[1].forward(&hcur, &temb, drop, train)?;
        for l in (0..self.up.len()).rev() {
            let skip = &skips[l];
            hcur = Tensor::cat(&[&hcur, skip], 1)?;
            hcur = self.up[l].forward(hcur, &temb, drop, train)?;
            if l > 0 {
                hcur = self.upsample[l - 1].forward(&hcur)?;
            }
        }
        let out = norm_silu_conv(&self.norm_out, &self.conv_out, &hcur, ConvAdd::Nothing)?;
        crop(&out, h, w)
    }

    fn check_inputs(&self, x: &Tensor, t: &Tensor) -> Result<(usize, usize, usize, usize)> {
        let dims = x.dims();
        if dims.len() != 4 {
            return Err(NnError::Shape(format!(
                "UNet input must be (N, C, H, W), got shape {dims:?}"
            )));
        }
        let (n, c, h, w) = (dims[0], dims[1], dims[2], dims[3]);
        if c != self.cfg.in_channels {
            return Err(NnError::Shape(format!(
                "UNet input has {c} channels, the config says in_channels = {}",
                self.cfg.in_channels
            )));
        }
        if n == 0 || h == 0 || w == 0 {
            return Err(NnError::Shape(format!(
                "UNet input has an empty dimension: {dims:?}"
            )));
        }
        if x.dtype() != DType::F32 {
            return Err(NnError::Shape(format!(
                "UNet input must be f32, got {:?}",
                x.dtype()
            )));
        }
        if t.dims() != [n] {
            return Err(NnError::Shape(format!(
                "timesteps must be (N,) = ({n},), got shape {:?}",
                t.dims()
            )));
        }
        Ok((n, c, h, w))
    }
}

/// Total number of scalar parameters in `varmap`.
pub fn parameter_count(varmap: &VarMap) -> usize {
    varmap.all_vars().iter().map(|v| v.elem_count()).sum()
}
