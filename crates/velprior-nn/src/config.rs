//! `UNetConfig`: the architecture of the UNet denoiser as a TOML-friendly, validated struct.

use serde::{Deserialize, Serialize};

use crate::error::{Result, config_err};

/// How inputs whose H or W is not a multiple of the total downsampling factor are padded.
///
/// Padding is added at the bottom (end of H, the deepest samples) and the right (end of W) only,
/// and the output is cropped back to the input size, so `forward` maps (N, C, H, W) to
/// (N, C_out, H, W) for every H, W ≥ 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum PadMode {
    /// Repeat the last row/column (`edge` mode). Default: velocity models are smooth at the
    /// bottom/right border and OpenFWI itself replicate-pads its models; works for any size.
    #[default]
    Replicate,
    /// Mirror without repeating the edge sample (`reflect` in PyTorch/NumPy). Needs the pad
    /// amount to be smaller than the size along that axis (falls back to an error otherwise).
    Reflect,
}

/// Architecture of [`crate::UNet`]. Every key is optional in TOML; missing keys take the
/// value of [`UNetConfig::unet_bench`] (the `bench/reference/unet_bench.py` network).
///
/// Layout: level `l` (0-based, `l < channel_mult.len()`) works at resolution H/2^l with
/// `base_channels * channel_mult[l]` channels. Each level has `res_blocks_per_level` residual
/// blocks on the way down and the same number on the way up; the first up block of a level
/// takes `cat([h, skip_l])` along channels, where `skip_l` is the output of that level's last
/// down block (one skip per level, as in the bench script). Attention blocks (if any) follow
/// each residual block of the levels listed in `attention_levels`, and sit between the two
/// middle residual blocks if `mid_attention`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UNetConfig {
    /// Channels of the input image (1 for a velocity model).
    pub in_channels: usize,
    /// Channels of the output (1 for an ε- or x0-prediction of a velocity model).
    pub out_channels: usize,
    /// Channels of level 0; level `l` has `base_channels * channel_mult[l]`.
    pub base_channels: usize,
    /// Channel multiplier per level; its length is the number of levels (L). The input is
    /// downsampled L−1 times, so H and W are padded to a multiple of 2^(L−1).
    pub channel_mult: Vec<usize>,
    /// Residual blocks per level, on the way down and on the way up.
    pub res_blocks_per_level: usize,
    /// Levels (indices into `channel_mult`) that get self-attention after each residual block.
    pub attention_levels: Vec<usize>,
    /// Self-attention between the two middle residual blocks.
    pub mid_attention: bool,
    /// Attention heads; must divide the channel count of every attention level.
    pub attention_heads: usize,
    /// GroupNorm groups; must divide every channel count.
    pub groups: usize,
    /// Dimension of the sinusoidal timestep embedding (even); input of the time MLP.
    pub time_sinusoid_dim: usize,
    /// Width of the time MLP (its hidden and output size), projected into every residual block.
    pub time_embed_dim: usize,
    /// Dropout probability inside residual blocks (before their second conv), training only.
    pub dropout: f32,
    /// Padding for sizes that are not a multiple of 2^(L−1).
    pub pad_mode: PadMode,
}

impl Default for UNetConfig {
    fn default() -> Self {
        Self::unet_bench()
    }
}

impl UNetConfig {
    /// The network of `bench/reference/unet_bench.py` (without `--attn`): channels (32, 64, 128)
    /// at resolutions (64, 32, 16), 2 residual blocks per level, GroupNorm(8), sinusoidal dim 32,
    /// time MLP 128, no dropout, no attention. 2,752,417 parameters.
    pub fn unet_bench() -> Self {
        Self {
            in_channels: 1,
            out_channels: 1,
            base_channels: 32,
            channel_mult: vec![1, 2, 4],
            res_blocks_per_level: 2,
            attention_levels: vec![],
            mid_attention: false,
            attention_heads: 1,
            groups: 8,
            time_sinusoid_dim: 32,
            time_embed_dim: 128,
            dropout: 0.0,
            pad_mode: PadMode::Replicate,
        }
    }

    /// `unet_bench.py --attn`: [`Self::unet_bench`] plus single-head attention in the middle.
    pub fn unet_bench_attn() -> Self {
        Self {
            mid_attention: true,
            ..Self::unet_bench()
        }
    }

    /// Parse a TOML document (all keys optional, unknown keys rejected).
    pub fn from_toml_str(s: &str) -> Result<Self> {
        let cfg: Self = toml::from_str(s).map_err(|e| config_err("<toml>", e.message()))?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Number of levels L (= `channel_mult.len()`).
    pub fn levels(&self) -> usize {
        self.channel_mult.len()
    }

    /// Channels of level `l`.
    pub fn level_channels(&self, l: usize) -> usize {
        self.base_channels * self.channel_mult[l]
    }

    /// Total downsampling factor 2^(L−1): H and W are padded up to a multiple of it.
    pub fn downsample_factor(&self) -> usize {
        1usize << self.levels().saturating_sub(1)
    }

    /// Check every key; the error names the key and says how to fix it.
    pub fn validate(&self) -> Result<()> {
        if self.in_channels == 0 {
            return Err(config_err("in_channels", "must be at least 1"));
        }
        if self.out_channels == 0 {
            return Err(config_err("out_channels", "must be at least 1"));
        }
        if self.base_channels == 0 {
            return Err(config_err("base_channels", "must be at least 1"));
        }
        if self.channel_mult.is_empty() {
            return Err(config_err(
                "channel_mult",
                "must list at least one level, e.g. [1, 2, 4]",
            ));
        }
        if self.channel_mult.len() > 12 {
            return Err(config_err("channel_mult", "more than 12 levels"));
        }
        if let Some(i) = self.channel_mult.iter().position(|&m| m == 0) {
            return Err(config_err(
                "channel_mult",
                format!("entry {i} is 0; multipliers must be at least 1"),
            ));
        }
        if self.res_blocks_per_level == 0 {
            return Err(config_err("res_blocks_per_level", "must be at least 1"));
        }
        if self.groups == 0 {
            return Err(config_err("groups", "must be at least 1"));
        }
        for l in 0..self.levels() {
            let c = self.level_channels(l);
            if !c.is_multiple_of(self.groups) {
                return Err(config_err(
                    "groups",
                    format!(
                        "{} does not divide the {c} channels of level {l} (base_channels {} x \
                         channel_mult[{l}] {}); use a divisor of every level's channel count",
                        self.groups, self.base_channels, self.channel_mult[l]
                    ),
                ));
            }
        }
        if self.time_sinusoid_dim < 2 || !self.time_sinusoid_dim.is_multiple_of(2) {
            return Err(config_err(
                "time_sinusoid_dim",
                format!(
                    "{} must be even and at least 2 (half sines, half cosines)",
                    self.time_sinusoid_dim
                ),
            ));
        }
        if self.time_embed_dim == 0 {
            return Err(config_err("time_embed_dim", "must be at least 1"));
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(config_err(
                "dropout",
                format!("{} must be in [0, 1)", self.dropout),
            ));
        }
        if let Some(&l) = self.attention_levels.iter().find(|&&l| l >= self.levels()) {
            return Err(config_err(
                "attention_levels",
                format!(
                    "level {l} does not exist (channel_mult has {} levels, 0-based)",
                    self.levels()
                ),
            ));
        }
        if self.attention_heads == 0 {
            return Err(config_err("attention_heads", "must be at least 1"));
        }
        let mut attn_levels = self.attention_levels.clone();
        if self.mid_attention {
            attn_levels.push(self.levels() - 1);
        }
        for l in attn_levels {
            let c = self.level_channels(l);
            if !c.is_multiple_of(self.attention_heads) {
                return Err(config_err(
                    "attention_heads",
                    format!(
                        "{} does not divide the {c} channels of attention level {l}",
                        self.attention_heads
                    ),
                ));
            }
        }
        Ok(())
    }
}
