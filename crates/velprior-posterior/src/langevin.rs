//! Langevin baselines: the unadjusted Langevin algorithm (ULA) and its Metropolis-adjusted
//! version (MALA; Roberts & Tweedie 1996, "Exponential convergence of Langevin distributions
//! and their discrete approximations").

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

use crate::observer::{IterationRecord, PosteriorObserver};
use crate::target::{Chain, ChainConfig, Target, check_start};
use crate::{PosteriorError, Result};

/// The Langevin proposal mean x + h ∇log π(x).
fn drift(x: &[f32], grad: &[f32], h: f64) -> Vec<f64> {
    x.iter()
        .zip(grad)
        .map(|(&x, &g)| f64::from(x) + h * f64::from(g))
        .collect()
}

/// log q(to | from) up to a constant for q = N(mean_from, 2h I).
fn log_q(to: &[f32], mean_from: &[f64], h: f64) -> f64 {
    -to.iter()
        .zip(mean_from)
        .map(|(&t, m)| (f64::from(t) - m).powi(2))
        .sum::<f64>()
        / (4.0 * h)
}

/// Langevin chain from `x0`: proposal x' = x + h ∇log π(x) + √(2h) ξ, ξ ~ N(0, I). With
/// `adjust` (MALA) x' is accepted with probability
/// min(1, π(x') q(x | x') / (π(x) q(x' | x))), which makes π exactly invariant; without
/// (ULA) every proposal of non-zero density is taken and the chain is biased by O(h).
pub fn langevin(
    target: &dyn Target,
    x0: &[f32],
    cfg: &ChainConfig,
    adjust: bool,
    seed: u64,
    observer: &mut dyn PosteriorObserver,
) -> Result<Chain> {
    if !cfg.step.is_finite() || cfg.step <= 0.0 || x0.len() != target.dim() {
        return Err(PosteriorError::invalid(format!(
            "langevin: need step > 0 (got {}) and a start of length {} (got {})",
            cfg.step,
            target.dim(),
            x0.len()
        )));
    }
    let h = cfg.step;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut x = x0.to_vec();
    let (mut lp, mut g) = target.value_and_grad(&x)?;
    check_start(lp)?;
    let (mut accepted, total) = (0usize, cfg.total());
    let mut samples = Vec::with_capacity(cfg.samples * x.len());
    for i in 0..total {
        let mean = drift(&x, &g, h);
        let prop: Vec<f32> = mean
            .iter()
            .map(|m| {
                let xi: f64 = StandardNormal.sample(&mut rng);
                (m + (2.0 * h).sqrt() * xi) as f32
            })
            .collect();
        let (lp_new, g_new) = target.value_and_grad(&prop)?;
        // A zero-density proposal (outside the solver's support) is refused even by ULA.
        let accept = lp_new > f64::NEG_INFINITY
            && (!adjust || {
                let log_ratio =
                    lp_new + log_q(&x, &drift(&prop, &g_new, h), h) - lp - log_q(&prop, &mean, h);
                rng.random::<f64>().ln() < log_ratio
            });
        if accept {
            (x, lp, g) = (prop, lp_new, g_new);
            accepted += 1;
        }
        if cfg.keeps(i) {
            samples.extend_from_slice(&x);
        }
        observer.on_iteration(&IterationRecord {
            iteration: i,
            total,
            acceptance: Some(accepted as f64 / (i + 1) as f64),
            estimate: &x,
            ..Default::default()
        })?;
    }
    Ok(Chain {
        samples,
        acceptance_rate: accepted as f64 / total.max(1) as f64,
    })
}
