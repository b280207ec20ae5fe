//! A normalizing flow on PCA coordinates (RealNVP, Dinh et al. 2017, with Glow's actnorm,
//! Kingma & Dhariwal 2018): the corpus's top-k principal coordinates a, whitened to
//! u = a / √λ, are mapped to z ~ N(0, I_k) by B invertible blocks, each
//!
//!   actnorm   y = (u + b) ⊙ exp(s),                              log|det| = Σ s
//!   coupling  y_T = y_T ⊙ exp(tanh(σ(y_C))) + τ(y_C), y_C kept,  log|det| = Σ tanh(σ(y_C))
//!
//! with C and T the two halves of the coordinates (swapped every block) and (σ, τ) one MLP of
//! y_C (two hidden ReLU layers; its last layer starts at zero, so an untrained flow is the
//! identity). The exact density is
//!
//!   log p(x) = log N(z; 0, I) + Σ log|det| − Σ log √λ + log N(r⊥; 0, σ² I)
//!
//! (the [`Subspace`] carries the residual off the coordinates). ∇ log p comes from candle's
//! autodiff; sampling inverts the blocks. Fitted by maximum likelihood with Adam.
//!
//! Checkpoint tensors (f32): the [`Subspace`]'s under `flow`, `flow.scales` (k: √λ),
//! `flow.shape` (2: blocks, hidden width), and each block's `flow.{b}.actnorm.{log_scale,
//! shift}` (k) and `flow.{b}.net.{0,1,2}.{weight, bias}`.

use std::collections::HashMap;

use candle_core::{D, DType, Device, Tensor, Var};
use candle_nn::{Init, Linear, Module, Optimizer, ParamsAdamW, VarBuilder, VarMap};
use nalgebra::DVector;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};
use velprior_nn::seeded_var_builder;

use crate::density::{DensityModel, LogDensity};
use crate::error::{DensityError, Result};
use crate::gaussian::GaussianPrior;
use crate::subspace::{Subspace, read};

const LN_2PI: f64 = 1.837_877_066_409_345_5;

/// Settings of [`NormalizingFlow::fit`] (`[model]` of `kind = "flow"`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlowFit {
    /// Principal coordinates k the flow models (≥ 2).
    pub rank: usize,
    /// Actnorm + coupling blocks.
    #[serde(default = "default_blocks")]
    pub blocks: usize,
    /// Width of the coupling networks' hidden layers.
    #[serde(default = "default_hidden")]
    pub hidden: usize,
    /// Passes over the models.
    #[serde(default = "default_epochs")]
    pub epochs: usize,
    /// Models per Adam step.
    #[serde(default = "default_batch")]
    pub batch_size: usize,
    /// Adam's learning rate.
    #[serde(default = "default_lr")]
    pub lr: f64,
    /// Seed of the initial weights and the batch order.
    #[serde(default)]
    pub seed: u64,
}

fn default_blocks() -> usize {
    6
}
fn default_hidden() -> usize {
    64
}
fn default_epochs() -> usize {
    100
}
fn default_batch() -> usize {
    256
}
fn default_lr() -> f64 {
    1e-3
}

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

    /// u of y (the inverse of [`Block::forward`]).
    fn inverse(&self, y: &Tensor) -> Result<Tensor> {
        let k = y.dim(1)?;
        let (c, t) = halves(k, self.first_conditions);
        let (yc, yt) = (y.narrow(1, c.0, c.1)?, y.narrow(1, t.0, t.1)?);
        let (s, shift) = self.coupling(&yc)?;
        let yt = (yt - shift)?.mul(&s.neg()?.exp()?)?;
        let y = join(&yc, &yt, self.first_conditions)?;
        Ok(y.broadcast_mul(&self.log_scale.neg()?.exp()?)?
            .broadcast_sub(&self.shift)?)
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

/// A fitted flow on the corpus's principal coordinates (model in the module docs).
pub struct NormalizingFlow {
    subspace: Subspace,
    /// √λ of each coordinate.
    scales: Vec<f32>,
    hidden: usize,
    varmap: VarMap,
    blocks: Vec<Block>,
    device: Device,
}

impl NormalizingFlow {
    /// An untrained flow (the identity on whitened coordinates) over `subspace`.
    fn build(
        subspace: Subspace,
        scales: Vec<f32>,
        blocks: usize,
        hidden: usize,
        varmap: VarMap,
        seed: u64,
    ) -> Result<NormalizingFlow> {
        let k = subspace.rank();
        if k < 2 || blocks == 0 || hidden == 0 {
            return Err(DensityError::Shape(format!(
                "flow: need rank ≥ 2 (got {k}), blocks ≥ 1 (got {blocks}) and hidden ≥ 1 \
                 (got {hidden})"
            )));
        }
        let device = Device::Cpu; // host: a small flow on k coordinates
        let vb = seeded_var_builder(&varmap, seed, DType::F32, &device);
        let blocks = (0..blocks)
            .map(|b| Block::new(k, hidden, b % 2 == 0, vb.pp(format!("flow.{b}"))))
            .collect::<Result<Vec<_>>>()?;
        Ok(NormalizingFlow {
            subspace,
            scales,
            hidden,
            varmap,
            blocks,
            device,
        })
    }

    /// Fits the subspace by probabilistic PCA, then the flow by maximum likelihood (Adam on
    /// mini-batches) on the whitened coordinates of `models` (N × `dim`, normalised units).
    /// Returns it and the final epoch's mean negative log-likelihood per model (nats, whitened
    /// coordinates).
    pub fn fit(models: &[f32], dim: usize, settings: &FlowFit) -> Result<(NormalizingFlow, f64)> {
        let pca = GaussianPrior::fit(models, dim, settings.rank)?;
        let positive = settings.batch_size > 0 && settings.epochs > 0 && settings.lr > 0.0;
        if !positive {
            return Err(DensityError::Shape(
                "flow: epochs, batch_size and lr must be positive".into(),
            ));
        }
        let scales: Vec<f32> = pca.eigenvalues().iter().map(|l| l.sqrt() as f32).collect();
        let flow = NormalizingFlow::build(
            Subspace::of(&pca),
            scales,
            settings.blocks,
            settings.hidden,
            VarMap::new(),
            settings.seed,
        )?;
        let k = flow.subspace.rank();
        let mut whitened = Vec::with_capacity(models.len() / dim * k);
        for x in models.chunks_exact(dim) {
            let (a, _) = flow.subspace.coordinates(x)?;
            whitened.extend(a.iter().zip(&flow.scales).map(|(a, s)| (*a as f32) / s));
        }
        let n = whitened.len() / k;
        let data = Tensor::from_vec(whitened, (n, k), &flow.device)?;
        let mut opt = candle_nn::AdamW::new(
            flow.varmap.all_vars(),
            ParamsAdamW {
                lr: settings.lr,
                weight_decay: 0.0,
                ..Default::default()
            },
        )?;
        let mut rng = ChaCha8Rng::seed_from_u64(settings.seed);
        let mut order: Vec<u32> = (0..n as u32).collect();
        let mut epoch_nll = f64::NAN;
        for _ in 0..settings.epochs {
            order.shuffle(&mut rng);
            let (mut total, mut seen) = (0.0, 0usize);
            for batch in order.chunks(settings.batch_size) {
                let idx = Tensor::from_slice(batch, batch.len(), &flow.device)?;
                let u = data.index_select(&idx, 0)?;
                let nll = flow.whitened_log_prob(&u)?.mean_all()?.neg()?;
                opt.backward_step(&nll)?;
                total += nll.to_scalar::<f32>()? as f64 * batch.len() as f64;
                seen += batch.len();
            }
            epoch_nll = total / seen as f64;
        }
        Ok((flow, epoch_nll))
    }

    /// Rebuilds a flow from checkpoint tensors (names in the module docs).
    pub fn from_tensors(tensors: &HashMap<String, Tensor>) -> Result<NormalizingFlow> {
        let subspace = Subspace::from_tensors(tensors, "flow")?;
        let scales = read(tensors, "flow.scales")?;
        let shape = read(tensors, "flow.shape")?;
        let (blocks, hidden) = match shape.as_slice() {
            [b, h] if *b >= 1.0 && *h >= 1.0 => (*b as usize, *h as usize),
            _ => {
                return Err(DensityError::Shape(format!(
                    "flow: bad `flow.shape` {shape:?}"
                )));
            }
        };
        if scales.len() != subspace.rank() {
            return Err(DensityError::Shape(format!(
                "flow: {} scales for rank {}",
                scales.len(),
                subspace.rank()
            )));
        }
        let varmap = VarMap::new();
        {
            let mut data = varmap
                .data()
                .lock()
                .map_err(|_| DensityError::Shape("flow: variable map poisoned".into()))?;
            for (name, t) in tensors {
                let is_block = name
                    .strip_prefix("flow.")
                    .and_then(|rest| rest.split('.').next())
                    .is_some_and(|b| b.parse::<usize>().is_ok());
                if is_block {
                    let host = t.to_device(&Device::Cpu)?; // host: the flow runs on the CPU
                    data.insert(name.clone(), Var::from_tensor(&host)?);
                }
            }
        }
        NormalizingFlow::build(subspace, scales, blocks, hidden, varmap, 0)
    }

    /// The mean negative log-likelihood's building block: log p(u) per row of whitened
    /// coordinates u (n, k).
    fn whitened_log_prob(&self, u: &Tensor) -> Result<Tensor> {
        let k = u.dim(1)? as f64;
        let mut y = u.clone();
        let mut logdet = Tensor::zeros(u.dim(0)?, DType::F32, &self.device)?;
        for block in &self.blocks {
            let (next, ld) = block.forward(&y)?;
            y = next;
            logdet = (logdet + ld)?;
        }
        let base = ((y.sqr()?.sum(D::Minus1)? * -0.5)? - 0.5 * k * LN_2PI)?;
        Ok((base + logdet)?)
    }

    /// log p_k(a) and ∇ₐ log p_k(a) of one coordinate vector.
    fn coordinate_log_prob(&self, a: &DVector<f64>) -> Result<(f64, DVector<f64>)> {
        let k = a.len();
        let u: Vec<f32> = a
            .iter()
            .zip(&self.scales)
            .map(|(a, s)| *a as f32 / s)
            .collect();
        let u = Var::from_tensor(&Tensor::from_vec(u, (1, k), &self.device)?)?;
        let log_p = self.whitened_log_prob(u.as_tensor())?.sum_all()?;
        let grads = log_p.backward()?;
        let grad_u = grads
            .get(u.as_tensor())
            .ok_or_else(|| DensityError::Shape("flow: no gradient for the input".into()))?
            .flatten_all()?
            .to_vec1::<f32>()?;
        let log_jacobian: f64 = self.scales.iter().map(|s| (*s as f64).ln()).sum();
        let value = log_p.to_scalar::<f32>()? as f64 - log_jacobian;
        let grad = DVector::from_iterator(
            k,
            grad_u
                .iter()
                .zip(&self.scales)
                .map(|(g, s)| *g as f64 / *s as f64),
        );
        Ok((value, grad))
    }
}

impl LogDensity for NormalizingFlow {
    fn dim(&self) -> usize {
        self.subspace.dim()
    }

    fn log_density(&self, x: &[f32]) -> Result<f64> {
        let (a, off) = self.subspace.coordinates(x)?;
        Ok(self.coordinate_log_prob(&a)?.0 + self.subspace.residual_log_density(off))
    }

    fn grad_log_density(&self, x: &[f32]) -> Result<Vec<f32>> {
        let (a, _) = self.subspace.coordinates(x)?;
        let (_, grad_a) = self.coordinate_log_prob(&a)?;
        Ok(self.subspace.gradient(x, &a, &grad_a))
    }
}

impl DensityModel for NormalizingFlow {
    /// z ~ N(0, I) through the inverse blocks, unwhitened, embedded with a residual.
    fn sample(&self, n: usize, seed: u64) -> Result<Vec<f32>> {
        let k = self.subspace.rank();
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let z: Vec<f32> = (0..n * k)
            .map(|_| StandardNormal.sample(&mut rng))
            .collect();
        let mut y = Tensor::from_vec(z, (n, k), &self.device)?;
        for block in self.blocks.iter().rev() {
            y = block.inverse(&y)?;
        }
        let u = y.flatten_all()?.to_vec1::<f32>()?;
        let mut out = Vec::with_capacity(n * self.subspace.dim());
        for row in u.chunks_exact(k) {
            let a = DVector::from_iterator(
                k,
                row.iter().zip(&self.scales).map(|(u, s)| (*u * *s) as f64),
            );
            out.extend(self.subspace.embed(&a, &mut rng));
        }
        Ok(out)
    }

    fn to_tensors(&self, device: &Device) -> Result<Vec<(String, Tensor)>> {
        let mut tensors = self.subspace.to_tensors("flow", device)?;
        tensors.push((
            "flow.scales".into(),
            Tensor::from_slice(&self.scales, self.scales.len(), device)?,
        ));
        tensors.push((
            "flow.shape".into(),
            Tensor::from_vec(
                vec![self.blocks.len() as f32, self.hidden as f32],
                2,
                device,
            )?,
        ));
        let data = self
            .varmap
            .data()
            .lock()
            .map_err(|_| DensityError::Shape("flow: variable map poisoned".into()))?;
        for (name, var) in data.iter() {
            tensors.push((name.clone(), var.as_tensor().to_device(device)?));
        }
        Ok(tensors)
    }
}
