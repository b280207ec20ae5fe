//! Variational inference with a normalizing flow (Rezende & Mohamed 2015; for FWI, Rizzuti et
//! al. 2020, Zhang & Curtis 2021): q(x) is x = x₀ + s₀ T(z), z ~ N(0, I), T a [`RealNvp`] on
//! the whole model, fitted by minimising
//!
//!   KL(q ‖ π) = E_z[ log q(x) − log p(x) + f(F(v(x)), d)/s ] + const
//!
//! with reparameterised gradients: the data and prior terms enter through their gradient g at
//! each draw (held fixed, so the adjoint solver stays outside the autodiff graph: the surrogate
//! is Σ g · x), the entropy through log q = log N(z) − log|det ∂T/∂z| − D log s₀. Adam with a
//! cosine-decayed learning rate, `batch` draws per step; then `samples` independent draws of
//! the fitted q.

use candle_core::{DType, Device, Tensor};
use candle_nn::{Optimizer, ParamsAdamW, VarMap};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};
use velprior_density::RealNvp;

use crate::observer::{IterationRecord, PosteriorObserver};
use crate::problem::Problem;
use crate::target::{LogDensity, outside_support};
use crate::{PosteriorError, Result};

/// Settings of variational inference (`[method] kind = "vi"`).
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ViConfig {
    /// Adam steps.
    pub iterations: usize,
    /// Draws of q per step.
    #[serde(default = "default_batch")]
    pub batch: usize,
    /// Adam's initial learning rate, decayed to zero along a cosine.
    #[serde(default = "default_lr")]
    pub lr: f64,
    /// s₀: q starts as N(x₀, s₀² I) around the start model (normalised units).
    pub init_std: f64,
    /// RealNVP blocks.
    #[serde(default = "default_blocks")]
    pub blocks: usize,
    /// Width of the coupling networks.
    #[serde(default = "default_hidden")]
    pub hidden: usize,
    /// Draws of the fitted q returned.
    pub samples: usize,
}

fn default_batch() -> usize {
    8
}
fn default_lr() -> f64 {
    1e-3
}
fn default_blocks() -> usize {
    4
}
fn default_hidden() -> usize {
    32
}

/// Fits q from `start` (normalised) under `prior` and `problem`, then returns `cfg.samples`
/// draws of it (normalised, concatenated).
pub fn variational(
    prior: &dyn LogDensity,
    problem: &Problem,
    start: &[f32],
    cfg: &ViConfig,
    seed: u64,
    observer: &mut dyn PosteriorObserver,
) -> Result<Vec<f32>> {
    let d = problem.dim();
    let valid = cfg.iterations > 0
        && cfg.batch > 0
        && cfg.samples > 0
        && cfg.lr > 0.0
        && cfg.init_std > 0.0
        && cfg.init_std.is_finite();
    if !valid || start.len() != d {
        return Err(PosteriorError::invalid(format!(
            "vi: need iterations, batch, samples ≥ 1, lr > 0, init_std > 0 and a start of \
             length {d} (got {})",
            start.len()
        )));
    }
    let device = Device::Cpu; // host: the flow is small and the solver runs on the CPU
    let nvp = RealNvp::new(
        d,
        cfg.blocks,
        cfg.hidden,
        VarMap::new(),
        "vi",
        seed,
        &device,
    )?;
    let mut opt = candle_nn::AdamW::new(
        nvp.varmap().all_vars(),
        ParamsAdamW {
            lr: cfg.lr,
            weight_decay: 0.0,
            ..Default::default()
        },
    )?;
    let x0 = Tensor::from_slice(start, (1, d), &device)?;
    let draw = |rng: &mut ChaCha8Rng, n: usize| -> Result<(Tensor, Tensor)> {
        let z: Vec<f32> = (0..n * d).map(|_| StandardNormal.sample(rng)).collect();
        let (u, log_q) = nvp.sample(&Tensor::from_vec(z, (n, d), &device)?)?;
        Ok(((u * cfg.init_std)?.broadcast_add(&x0)?, log_q))
    };
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    for it in 0..cfg.iterations {
        let progress = it as f64 / cfg.iterations as f64;
        opt.set_learning_rate(cfg.lr * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos()));
        let (x, log_q) = draw(&mut rng, cfg.batch)?;
        let rows = x.to_dtype(DType::F32)?.to_vec2::<f32>()?;
        let mut grads = Vec::with_capacity(cfg.batch * d);
        let mut misfit = 0.0;
        for row in &rows {
            // g = ∇ₓ (f/s − log p); a draw outside the solver's support contributes nothing.
            let (nll, g_nll) = match problem.neg_log_likelihood(row) {
                Ok(v) => v,
                Err(e) => outside_support(e, d)?,
            };
            if !nll.is_finite() {
                grads.extend(std::iter::repeat_n(0.0, d));
                continue;
            }
            misfit += nll * problem.likelihood_scale / cfg.batch as f64;
            let g_prior = prior.grad_log_density(row)?;
            grads.extend(g_nll.iter().zip(&g_prior).map(|(a, b)| a - b));
        }
        let g = Tensor::from_vec(grads, (cfg.batch, d), &device)?;
        let surrogate = ((x * g)?.sum_all()? + log_q.sum_all()?)? / cfg.batch as f64;
        opt.backward_step(&surrogate?)?;
        observer.on_iteration(&IterationRecord {
            iteration: it,
            total: cfg.iterations,
            misfit: Some(misfit),
            estimate: &rows[0],
            ..Default::default()
        })?;
    }
    let (x, _) = draw(&mut ChaCha8Rng::seed_from_u64(seed ^ 0x5eed), cfg.samples)?;
    Ok(x.flatten_all()?.to_vec1::<f32>()?)
}
