//! RealNVP (Dinh et al. 2017) with Glow's actnorm (Kingma & Dhariwal 2018): an invertible
//! map u ↦ z of R^k (k ≥ 2) made of B blocks, each
//!
//!   actnorm   y = (u + b) ⊙ exp(s),                              log|det| = Σ s
//!   coupling  y_T = y_T ⊙ exp(tanh(σ(y_C))) + τ(y_C), y_C kept,  log|det| = Σ tanh(σ(y_C))
//!
//! with C and T the two halves of the coordinates (swapped every block) and (σ, τ) one MLP of
//! y_C (two hidden ReLU layers; its last layer and the actnorm start at zero, so an untrained
//! map is the identity). With z ~ N(0, I) it defines the density
//! log q(u) = log N(z(u); 0, I) + Σ log|det| ([`RealNvp::log_prob`]), sampled by inverting
//! the blocks ([`RealNvp::sample`]). Used by the flow prior (on PCA coordinates) and by
//! variational inference (on models).
//!
//! Variables, under the builder's prefix: `{b}.actnorm.{log_scale, shift}` (k) and
//! `{b}.net.{0,1,2}.{weight, bias}` for each block b.

use candle_core::{D, DType, Device, Tensor};
use candle_nn::{Init, Linear, Module, VarBuilder, VarMap};
use velprior_nn::seeded_var_builder;

use crate::error::{DensityError, Result};

const LN_2PI: f64 = 1.837_877_066_409_345_5;

/// One actnorm + affine coupling block.
struct Block {
    log_scale: Tensor,
    shift: Tensor,
    net: [Linear; 3],
    /// Whether the first half of the coordinates conditions (else the second).
    first_conditions: bool,
}

impl Block {
    fn new(k: usize, hidden: usize, first_conditions: bool, vb: VarBuilder) -> Result<Block> {
        let (cond, trans) = halves(k, first_conditions);
        let act = vb.pp("actnorm");
        let linear = |i: usize, fan_in: usize, out: usize, zero: bool| -> Result<Linear> {
            let vb = vb.pp(format!("net.{i}"));
            let bound = 1.0 / (fan_in as f64).sqrt();
            let init = if zero {
                Init::Const(0.0)
            } else {
                Init::Uniform {
                    lo: -bound,
                    up: bound,
                }
            };
            let w = vb.get_with_hints((out, fan_in), "weight", init)?;
            let b = vb.get_with_hints(out, "bias", if zero { Init::Const(0.0) } else { init })?;
            Ok(Linear::new(w, Some(b)))
        };
        Ok(Block {
            log_scale: act.get_with_hints(k, "log_scale", Init::Const(0.0))?,
            shift: act.get_with_hints(k, "shift", Init::Const(0.0))?,
            net: [
                linear(0, cond.1, hidden, false)?,
                linear(1, hidden, hidden, false)?,
                linear(2, hidden, 2 * trans.1, true)?,
            ],
            first_conditions,
        })
    }

    /// (log-scale, shift) of the coupling from the conditioning half.
    fn coupling(&self, cond: &Tensor) -> Result<(Tensor, Tensor)> {
        let h = self.net[0].forward(cond)?.relu()?;
        let h = self.net[1].forward(&h)?.relu()?;
        let out = self.net[2].forward(&h)?;
        let m = out.dim(1)? / 2;
        Ok((out.narrow(1, 0, m)?.tanh()?, out.narrow(1, m, m)?))
    }

    /// y and log|det ∂y/∂u| (per row) of u (n, k).
    fn forward(&self, u: &Tensor) -> Result<(Tensor, Tensor)> {
        let k = u.dim(1)?;
        let y = u
            .broadcast_add(&self.shift)?
            .broadcast_mul(&self.log_scale.exp()?)?;
        let (c, t) = halves(k, self.first_conditions);
        let (yc, yt) = (y.narrow(1, c.0, c.1)?, y.narrow(1, t.0, t.1)?);
        let (s, shift) = self.coupling(&yc)?;
        let yt = (yt * s.exp()?)?.add(&shift)?;
        let logdet = s.sum(1)?.broadcast_add(&self.log_scale.sum_all()?)?;
        Ok((join(&yc, &yt, self.first_conditions)?, logdet))
    }

    /// u of y (the inverse of [`Block::forward`]) and log|det ∂u/∂y| per row.
    fn inverse(&self, y: &Tensor) -> Result<(Tensor, Tensor)> {
        let k = y.dim(1)?;
        let (c, t) = halves(k, self.first_conditions);
        let (yc, yt) = (y.narrow(1, c.0, c.1)?, y.narrow(1, t.0, t.1)?);
        let (s, shift) = self.coupling(&yc)?;
        let yt = (yt - shift)?.mul(&s.neg()?.exp()?)?;
        let logdet = s.sum(1)?.broadcast_add(&self.log_scale.sum_all()?)?.neg()?;
        let y = join(&yc, &yt, self.first_conditions)?;
        let u = y
            .broadcast_mul(&self.log_scale.neg()?.exp()?)?
            .broadcast_sub(&self.shift)?;
        Ok((u, logdet))
    }
}

/// (start, length) of the conditioning and the transformed half of k coordinates.
fn halves(k: usize, first_conditions: bool) -> ((usize, usize), (usize, usize)) {
    let h = k / 2;
    if first_conditions {
        ((0, h), (h, k - h))
    } else {
        ((h, k - h), (0, h))
    }
}

/// The halves back in coordinate order.
fn join(cond: &Tensor, trans: &Tensor, first_conditions: bool) -> Result<Tensor> {
    Ok(if first_conditions {
        Tensor::cat(&[cond, trans], 1)?
    } else {
        Tensor::cat(&[trans, cond], 1)?
    })
}

/// The block stack, its variables and the device it computes on.
pub struct RealNvp {
    blocks: Vec<Block>,
    varmap: VarMap,
    hidden: usize,
    device: Device,
}

impl RealNvp {
    /// `blocks` blocks on R^k with hidden width `hidden`, variables named under `prefix` in
    /// `varmap` (existing ones are reused, new ones initialised from `seed`).
    pub fn new(
        k: usize,
        blocks: usize,
        hidden: usize,
        varmap: VarMap,
        prefix: &str,
        seed: u64,
        device: &Device,
    ) -> Result<RealNvp> {
        if k < 2 || blocks == 0 || hidden == 0 {
            return Err(DensityError::Shape(format!(
                "flow: need dimension ≥ 2 (got {k}), blocks ≥ 1 (got {blocks}) and hidden ≥ 1 \
                 (got {hidden})"
            )));
        }
        let vb = seeded_var_builder(&varmap, seed, DType::F32, device);
        let blocks = (0..blocks)
            .map(|b| Block::new(k, hidden, b % 2 == 0, vb.pp(format!("{prefix}.{b}"))))
            .collect::<Result<Vec<_>>>()?;
        Ok(RealNvp {
            blocks,
            varmap,
            hidden,
            device: device.clone(),
        })
    }

    /// Blocks B.
    pub fn blocks(&self) -> usize {
        self.blocks.len()
    }

    /// Hidden width of the coupling networks.
    pub fn hidden(&self) -> usize {
        self.hidden
    }

    /// The trainable variables.
    pub fn varmap(&self) -> &VarMap {
        &self.varmap
    }

    /// The device it computes on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// z(u) and log|det ∂z/∂u| per row of u (n, k).
    fn forward(&self, u: &Tensor) -> Result<(Tensor, Tensor)> {
        let mut y = u.clone();
        let mut logdet = Tensor::zeros(u.dim(0)?, DType::F32, &self.device)?;
        for block in &self.blocks {
            let (next, ld) = block.forward(&y)?;
            y = next;
            logdet = (logdet + ld)?;
        }
        Ok((y, logdet))
    }

    /// The base point z(u) of each row of u (n, k): the inverse of [`RealNvp::sample`].
    pub fn latent(&self, u: &Tensor) -> Result<Tensor> {
        Ok(self.forward(u)?.0)
    }

    /// log q(u) per row of u (n, k).
    pub fn log_prob(&self, u: &Tensor) -> Result<Tensor> {
        let k = u.dim(1)? as f64;
        let (y, logdet) = self.forward(u)?;
        let base = ((y.sqr()?.sum(D::Minus1)? * -0.5)? - 0.5 * k * LN_2PI)?;
        Ok((base + logdet)?)
    }

    /// u of base draws z (n, k), and log q(u) per row (differentiable in the variables).
    pub fn sample(&self, z: &Tensor) -> Result<(Tensor, Tensor)> {
        let k = z.dim(1)? as f64;
        let base = ((z.sqr()?.sum(D::Minus1)? * -0.5)? - 0.5 * k * LN_2PI)?;
        let mut y = z.clone();
        let mut log_q = base;
        for block in self.blocks.iter().rev() {
            let (u, ld) = block.inverse(&y)?;
            y = u;
            // log q(u) = log q(y) − log|det ∂u/∂y|.
            log_q = (log_q - ld)?;
        }
        Ok((y, log_q))
    }
}
