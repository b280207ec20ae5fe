//! Stochastic-gradient Langevin dynamics with shot subsampling (Welling & Teh 2011; for FWI,
//! Rizzuti et al. 2020): each step models a random subset of the shots and scales its misfit
//! gradient by S / |B|, an unbiased estimate of the full gradient at a fraction of the cost.
//!
//! x_{k+1} = x_k + h_k (∇log p(x_k) − (S/|B|) ∇f_B(x_k)/s) + √(2 h_k) ξ_k,
//! h_k = h₀ (1 + k)^(−γ), ξ_k ~ N(0, I), B a fresh subset of `shots_per_step` shots.
//!
//! No accept/reject step: the chain is biased by O(h) (as ULA) plus the subsampling noise,
//! which a decaying step (γ ∈ (0, 1)) removes in the limit; a proposal the solver cannot
//! propagate through is refused.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

use crate::observer::{IterationRecord, PosteriorObserver};
use crate::problem::Problem;
use crate::target::{ChainConfig, LogDensity, outside_support};
use crate::{PosteriorError, Result};

/// Settings of an SGLD chain (`[method] kind = "sgld"`).
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SgldConfig {
    /// Initial step h₀ (normalised units²).
    pub step: f64,
    /// Decay exponent γ of h_k = h₀ (1 + k)^(−γ) (0 = constant step).
    #[serde(default)]
    pub decay: f64,
    /// Shots modelled per step (0 = all: plain ULA).
    #[serde(default)]
    pub shots_per_step: usize,
    /// States kept per chain.
    pub samples: usize,
    /// Steps discarded first.
    #[serde(default)]
    pub burn_in: usize,
    /// Steps between kept states.
    #[serde(default = "one")]
    pub thin: usize,
    /// Independent chains (chain j seeded seed + j).
    #[serde(default = "one")]
    pub chains: usize,
}

fn one() -> usize {
    1
}

impl SgldConfig {
    /// The chain length settings.
    pub fn chain(&self) -> ChainConfig {
        ChainConfig {
            step: self.step,
            samples: self.samples,
            burn_in: self.burn_in,
            thin: self.thin,
        }
    }
}

/// Runs one SGLD chain of `cfg` from `x0` (normalised) under `prior` and `problem`; returns
/// the kept states, concatenated.
pub fn sgld(
    prior: &dyn LogDensity,
    problem: &Problem,
    x0: &[f32],
    cfg: &SgldConfig,
    seed: u64,
    observer: &mut dyn PosteriorObserver,
) -> Result<Vec<f32>> {
    let shots = problem.shots();
    let batch = if cfg.shots_per_step == 0 {
        shots
    } else {
        cfg.shots_per_step
    };
    let valid_step = cfg.step.is_finite() && cfg.step > 0.0 && (0.0..1.0).contains(&cfg.decay);
    if !valid_step || batch > shots || x0.len() != problem.dim() {
        return Err(PosteriorError::invalid(format!(
            "sgld: need step > 0 (got {}), 0 ≤ decay < 1 (got {}), shots_per_step ≤ {shots} \
             (got {}) and a start of length {} (got {})",
            cfg.step,
            cfg.decay,
            cfg.shots_per_step,
            problem.dim(),
            x0.len()
        )));
    }
    let chain = cfg.chain();
    let total = chain.total();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut x = x0.to_vec();
    // The last state the solver could propagate through; a step outside the support returns
    // there (and draws a fresh move).
    let mut inside: Option<Vec<f32>> = None;
    let mut samples = Vec::with_capacity(cfg.samples * x.len());
    for k in 0..total {
        let h = cfg.step * (1.0 + k as f64).powf(-cfg.decay);
        let subset: Vec<usize> = if batch == shots {
            (0..shots).collect()
        } else {
            rand::seq::index::sample(&mut rng, shots, batch).into_vec()
        };
        let (mut nll, mut grad_nll) = match problem.neg_log_likelihood_of_shots(&x, &subset) {
            Ok(v) => v,
            Err(e) => outside_support(e, x.len())?,
        };
        if !nll.is_finite() {
            x = inside.clone().ok_or_else(|| {
                PosteriorError::invalid(
                    "sgld: the solver cannot propagate through the start model; start inside \
                     the prior's velocity range",
                )
            })?;
            (nll, grad_nll) = problem.neg_log_likelihood_of_shots(&x, &subset)?;
        }
        inside = Some(x.clone());
        if chain.keeps(k) {
            samples.extend_from_slice(&x);
        }
        observer.on_iteration(&IterationRecord {
            iteration: k,
            total,
            // The subset's misfit scaled to all shots: an unbiased estimate of f.
            misfit: Some(nll * problem.likelihood_scale),
            estimate: &x,
            ..Default::default()
        })?;
        let grad_prior = prior.grad_log_density(&x)?;
        for (xi, (&gp, &gl)) in x.iter_mut().zip(grad_prior.iter().zip(&grad_nll)) {
            let noise: f64 = StandardNormal.sample(&mut rng);
            *xi = (f64::from(*xi) + h * (f64::from(gp) - f64::from(gl)) + (2.0 * h).sqrt() * noise)
                as f32;
        }
    }
    Ok(samples)
}
