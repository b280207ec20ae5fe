//! A DCGAN-style generative adversarial network (Goodfellow et al. 2014; Radford et al. 2016)
//! with a spectrally normalised discriminator (Miyato et al. 2018), for 2-D velocity models.
//! The generator is a [`ConvDecoder`] (the latent z ~ N(0, I) is the inversion variable of
//! GAN-prior FWI, Mosser et al. 2020); the discriminator mirrors the conv encoder with every
//! weight spectrally normalised and LeakyReLU(0.2) activations. Training minimises the
//! non-saturating losses [`discriminator_loss`] and [`generator_loss`].

use candle_core::{D, Tensor};
use candle_nn::VarBuilder;
use candle_nn::ops::leaky_relu;
use serde::{Deserialize, Serialize};

use crate::config::PadMode;
use crate::conv_decoder::{ConvDecoder, bottleneck};
use crate::error::{NnError, Result, config_err};
use crate::init::{conv2d, linear};
use crate::layers::convolve;
use crate::pad::pad_to_multiple;
use crate::spectral_norm::SpectralNorm;

/// Architecture of a [`Gan`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GanConfig {
    /// Depth samples H of the models.
    pub height: usize,
    /// Lateral samples W.
    pub width: usize,
    /// Channels after each stride-2 stage of the discriminator (the generator mirrors them),
    /// e.g. [16, 32, 64].
    pub channels: Vec<usize>,
    /// Latent dimension k.
    pub latent_dim: usize,
    /// Padding of the discriminator's input up to a multiple of 2^stages.
    #[serde(default)]
    pub pad_mode: PadMode,
}

impl GanConfig {
    /// Check every key.
    pub fn validate(&self) -> Result<()> {
        if self.height == 0 || self.width == 0 {
            return Err(config_err("height", "height and width must be at least 1"));
        }
        if self.channels.is_empty() || self.channels.contains(&0) || self.channels.len() > 10 {
            return Err(config_err(
                "channels",
                "list 1 to 10 stages, each with at least 1 channel, e.g. [16, 32, 64]",
            ));
        }
        if self.latent_dim == 0 {
            return Err(config_err("latent_dim", "must be at least 1"));
        }
        Ok(())
    }
}

/// A 3×3 (or `k`×`k`) convolution with a spectrally normalised weight.
#[derive(Debug, Clone)]
struct SnConv2d {
    weight: SpectralNorm,
    bias: Tensor,
    stride: usize,
    padding: usize,
}

impl SnConv2d {
    fn new(cin: usize, cout: usize, stride: usize, seed: u64, vb: VarBuilder) -> Result<Self> {
        let conv = conv2d(cin, cout, 3, stride, vb)?;
        let bias = conv
            .bias()
            .cloned()
            .ok_or_else(|| config_err("channels", "no bias"))?;
        Ok(SnConv2d {
            weight: SpectralNorm::new(conv.weight().clone(), seed)?,
            bias,
            stride,
            padding: 1,
        })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let w = self.weight.normalised()?;
        convolve(x, &w, Some(&self.bias), self.stride, self.padding)
    }
}

/// The discriminator: pad → conv_in 3×3 (1 → c0) → per stage LeakyReLU + 3×3 stride-2 conv →
/// LeakyReLU → flatten → Linear → one logit per model; every weight spectrally normalised.
///
/// Tensor names: `conv_in.*`, `down.{s}.*`, `fc.*` (1, c_last·h·w), as the conv encoder's.
#[derive(Debug, Clone)]
pub struct Discriminator {
    size: [usize; 2],
    stages: usize,
    pad_mode: PadMode,
    conv_in: SnConv2d,
    down: Vec<SnConv2d>,
    fc_weight: SpectralNorm,
    fc_bias: Tensor,
}

impl Discriminator {
    /// Builds from a validated config; `seed` starts the power iterations.
    pub fn new(cfg: &GanConfig, seed: u64, vb: VarBuilder) -> Result<Self> {
        let ch = &cfg.channels;
        let mut down = Vec::with_capacity(ch.len());
        for s in 0..ch.len() {
            let cin = if s == 0 { ch[0] } else { ch[s - 1] };
            let seed = seed.wrapping_add(1 + s as u64);
            down.push(SnConv2d::new(
                cin,
                ch[s],
                2,
                seed,
                vb.pp(format!("down.{s}")),
            )?);
        }
        let (bh, bw) = bottleneck([cfg.height, cfg.width], ch.len());
        let fc = linear(ch[ch.len() - 1] * bh * bw, 1, vb.pp("fc"))?;
        Ok(Discriminator {
            size: [cfg.height, cfg.width],
            stages: ch.len(),
            pad_mode: cfg.pad_mode,
            conv_in: SnConv2d::new(1, ch[0], 1, seed, vb.pp("conv_in"))?,
            down,
            fc_weight: SpectralNorm::new(fc.weight().clone(), seed.wrapping_add(99))?,
            fc_bias: fc
                .bias()
                .cloned()
                .ok_or_else(|| config_err("channels", "no bias"))?,
        })
    }

    /// Logits (N,) of models x (N, 1, H, W); each call advances the power iterations.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let [h, w] = self.size;
        if x.dims().len() != 4 || x.dims()[1..] != [1, h, w] {
            return Err(NnError::Shape(format!(
                "the discriminator expects (N, 1, {h}, {w}), got {:?}",
                x.dims()
            )));
        }
        let x = pad_to_multiple(x, 1 << self.stages, self.pad_mode)?;
        let mut y = self.conv_in.forward(&x)?;
        for conv in &self.down {
            y = conv.forward(&leaky_relu(&y, 0.2)?)?;
        }
        let y = leaky_relu(&y, 0.2)?.flatten_from(1)?;
        let logit = y.matmul(&self.fc_weight.normalised()?.t()?)?;
        Ok(logit.broadcast_add(&self.fc_bias)?.squeeze(D::Minus1)?)
    }

    /// The power-iteration vectors by layer name, to checkpoint.
    pub fn power_vectors(&self) -> Vec<(String, Tensor)> {
        let mut out = vec![("conv_in".to_string(), self.conv_in.weight.u())];
        for (s, conv) in self.down.iter().enumerate() {
            out.push((format!("down.{s}"), conv.weight.u()));
        }
        out.push(("fc".to_string(), self.fc_weight.u()));
        out
    }

    /// Restores the vectors of [`Discriminator::power_vectors`]; `get` looks one up by name.
    pub fn set_power_vectors(&self, get: impl Fn(&str) -> Option<Tensor>) -> Result<()> {
        let layers = std::iter::once(("conv_in".to_string(), &self.conv_in.weight))
            .chain(
                self.down
                    .iter()
                    .enumerate()
                    .map(|(s, c)| (format!("down.{s}"), &c.weight)),
            )
            .chain(std::iter::once(("fc".to_string(), &self.fc_weight)));
        for (name, sn) in layers {
            let u = get(&name).ok_or_else(|| {
                NnError::Shape(format!("no spectral-norm vector for layer `{name}`"))
            })?;
            sn.set_u(&u)?;
        }
        Ok(())
    }
}

/// A generator and a discriminator. Tensor names: `generator.*` ([`ConvDecoder`]),
/// `discriminator.*` ([`Discriminator`]).
#[derive(Debug, Clone)]
pub struct Gan {
    /// z (N, k) → models (N, 1, H, W).
    pub generator: ConvDecoder,
    /// models → logits.
    pub discriminator: Discriminator,
}

impl Gan {
    /// Builds both networks; `seed` starts the discriminator's power iterations.
    pub fn new(cfg: &GanConfig, seed: u64, vb: VarBuilder) -> Result<Self> {
        cfg.validate()?;
        Ok(Gan {
            generator: generator(cfg, vb.pp("generator"))?,
            discriminator: Discriminator::new(cfg, seed, vb.pp("discriminator"))?,
        })
    }
}

/// The generator alone (what a trained GAN prior loads), tensors under `vb`.
pub fn generator(cfg: &GanConfig, vb: VarBuilder) -> Result<ConvDecoder> {
    cfg.validate()?;
    ConvDecoder::new(
        1,
        [cfg.height, cfg.width],
        &cfg.channels,
        cfg.latent_dim,
        vb,
    )
}

/// softplus(x) = log(1 + eˣ), computed as max(x, 0) + log(1 + e^(−|x|)).
fn softplus(x: &Tensor) -> Result<Tensor> {
    Ok((x.relu()? + x.abs()?.neg()?.exp()?.affine(1.0, 1.0)?.log()?)?)
}

/// The discriminator's loss, −mean log σ(D(x)) − mean log(1 − σ(D(G(z)))) =
/// mean softplus(−real) + mean softplus(fake), from the logits of real and generated models.
/// Its minimiser over all functions is the log density ratio log p_data/p_G.
pub fn discriminator_loss(real_logits: &Tensor, fake_logits: &Tensor) -> Result<Tensor> {
    Ok((softplus(&real_logits.neg()?)?.mean_all()? + softplus(fake_logits)?.mean_all()?)?)
}

/// The generator's non-saturating loss −mean log σ(D(G(z))) = mean softplus(−fake).
pub fn generator_loss(fake_logits: &Tensor) -> Result<Tensor> {
    softplus(&fake_logits.neg()?)?
        .mean_all()
        .map_err(Into::into)
}
