//! A normalizing-flow prior on PCA coordinates: the corpus's top-k principal coordinates a,
//! whitened to u = a / √λ, are mapped to z ~ N(0, I_k) by a [`RealNvp`] of B blocks (an
//! untrained flow is the identity, i.e. the probabilistic-PCA Gaussian). The exact density is
//!
//!   log p(x) = log q(u) − Σ log √λ + log N(r⊥; 0, σ² I)
//!
//! (the [`Subspace`] carries the residual off the coordinates). ∇ log p comes from candle's
//! autodiff; sampling inverts the blocks. Fitted by maximum likelihood with Adam.
//!
//! Checkpoint tensors (f32): the [`Subspace`]'s under `flow`, `flow.scales` (k: √λ),
//! `flow.shape` (2: blocks, hidden width), and the [`RealNvp`]'s variables under `flow`.

use std::collections::HashMap;

use candle_core::{Device, Tensor, Var};
use candle_nn::{Optimizer, ParamsAdamW, VarMap};
use nalgebra::DVector;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};
use velprior_nn::{Autoencoder, Decoder};

use crate::density::{DensityModel, LogDensity};
use crate::error::{DensityError, Result};
use crate::gaussian::GaussianPrior;
use crate::realnvp::RealNvp;
use crate::subspace::{Subspace, read};

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

/// A fitted flow on the corpus's principal coordinates (model in the module docs).
pub struct NormalizingFlow {
    subspace: Subspace,
    /// √λ of each coordinate.
    scales: Vec<f32>,
    nvp: RealNvp,
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
        let device = Device::Cpu; // host: a small flow on k coordinates
        let k = subspace.rank();
        let nvp = RealNvp::new(k, blocks, hidden, varmap, "flow", seed, &device)?;
        Ok(NormalizingFlow {
            subspace,
            scales,
            nvp,
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
        let data = Tensor::from_vec(whitened, (n, k), flow.nvp.device())?;
        let mut opt = candle_nn::AdamW::new(
            flow.nvp.varmap().all_vars(),
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
                let idx = Tensor::from_slice(batch, batch.len(), flow.nvp.device())?;
                let u = data.index_select(&idx, 0)?;
                let nll = flow.nvp.log_prob(&u)?.mean_all()?.neg()?;
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

    /// log p_k(a) and ∇ₐ log p_k(a) of one coordinate vector.
    fn coordinate_log_prob(&self, a: &DVector<f64>) -> Result<(f64, DVector<f64>)> {
        let k = a.len();
        let u: Vec<f32> = a
            .iter()
            .zip(&self.scales)
            .map(|(a, s)| *a as f32 / s)
            .collect();
        let u = Var::from_tensor(&Tensor::from_vec(u, (1, k), self.nvp.device())?)?;
        let log_p = self.nvp.log_prob(u.as_tensor())?.sum_all()?;
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
        let z = Tensor::from_vec(z, (n, k), self.nvp.device())?;
        let u = self.nvp.sample(&z)?.0.flatten_all()?.to_vec1::<f32>()?;
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

    fn as_decoder(&self) -> Option<&dyn Decoder> {
        Some(self)
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
                vec![self.nvp.blocks() as f32, self.nvp.hidden() as f32],
                2,
                device,
            )?,
        ));
        let data = self
            .nvp
            .varmap()
            .data()
            .lock()
            .map_err(|_| DensityError::Shape("flow: variable map poisoned".into()))?;
        for (name, var) in data.iter() {
            tensors.push((name.clone(), var.as_tensor().to_device(device)?));
        }
        Ok(tensors)
    }
}

/// The flow as a decoder of its base variable: z (N, k) ↦ μ + Uᵀ(√λ ⊙ u(z)), the model of
/// those coordinates without a residual (what the latent playground draws), flat (N, D).
impl Decoder for NormalizingFlow {
    fn latent_dim(&self) -> usize {
        self.subspace.rank()
    }

    fn device(&self) -> &Device {
        self.nvp.device()
    }

    fn model_dims(&self) -> Vec<usize> {
        vec![self.subspace.dim()]
    }

    fn decode(&self, z: &Tensor) -> velprior_nn::Result<Tensor> {
        let (n, k) = z.dims2()?;
        let u = self
            .nvp
            .sample(z)
            .map_err(to_nn)?
            .0
            .flatten_all()?
            .to_vec1::<f32>()?;
        let mut out = Vec::with_capacity(n * self.subspace.dim());
        for row in u.chunks_exact(k) {
            let a: Vec<f32> = row.iter().zip(&self.scales).map(|(u, s)| u * s).collect();
            out.extend(self.subspace.point(&a));
        }
        Ok(Tensor::from_vec(out, (n, self.subspace.dim()), z.device())?)
    }

    fn as_autoencoder(&self) -> Option<&dyn Autoencoder> {
        Some(self)
    }
}

/// Its inverse: a model's base point z(a/√λ) of its PCA coordinates a.
impl Autoencoder for NormalizingFlow {
    fn encode(&self, x: &Tensor) -> velprior_nn::Result<Tensor> {
        let rows = x.flatten_from(1)?.to_vec2::<f32>()?;
        let k = self.subspace.rank();
        let mut u = Vec::with_capacity(rows.len() * k);
        for row in &rows {
            let (a, _) = self.subspace.coordinates(row).map_err(to_nn)?;
            u.extend(a.iter().zip(&self.scales).map(|(a, s)| *a as f32 / s));
        }
        let u = Tensor::from_vec(u, (rows.len(), k), self.nvp.device())?;
        self.nvp.latent(&u).map_err(to_nn)
    }
}

fn to_nn(e: DensityError) -> velprior_nn::NnError {
    match e {
        DensityError::Candle(e) => velprior_nn::NnError::Candle(e),
        e => velprior_nn::NnError::Shape(e.to_string()),
    }
}
