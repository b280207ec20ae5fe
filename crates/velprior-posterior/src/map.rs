//! MAP inversion with Adam, in model space with a density prior (Gaussian/PCA, Gaussian
//! mixture, Gaussian process, flow):
//!
//!   J(x) = f(F(v(x)), d)/s − λ log p(x) / D,
//!
//! D the cells of the model; or in the latent space of an autoencoder or VAE (latent FWI:
//! the code z is the inversion variable, the model is D(z), the prior N(0, s²I)):
//!
//!   J(z) = f(F(v(D(z))), d)/s + λ ‖z‖² / (2 s² k),
//!
//! k the latent dimension. With s the noise variance (L2) and λ = D (or k), J is the negative
//! log posterior and its minimiser the Bayesian MAP estimate; the 1/D keeps λ on the scale of
//! RED-diff's weight when s is the number of data (the benchmark's mean misfit).

use serde::{Deserialize, Serialize};
use velprior_physics::fwi::adam::Adam;

use crate::metropolis::LatentTarget;
use crate::observer::{IterationRecord, PosteriorObserver};
use crate::problem::Problem;
use crate::target::{ChainSpace, LogDensity, Target};
use crate::{PosteriorError, Result};

/// MAP settings (`[method] kind = "map"`).
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MapConfig {
    /// Where the search moves (default: the model; `"latent"`: an autoencoder's code).
    #[serde(default)]
    pub space: ChainSpace,
    /// Adam iterations.
    pub iterations: usize,
    /// Adam learning rate in normalised units.
    pub lr: f32,
    /// Weight λ of the prior term (module docs).
    pub lambda: f64,
}

/// The MAP objective's value (misfit/s, −λ log p/D) and gradient at `x` (normalised).
pub fn map_objective(
    prior: &dyn LogDensity,
    problem: &Problem,
    x: &[f32],
    lambda: f64,
) -> Result<(f64, f64, Vec<f32>)> {
    let (f, mut g) = problem.neg_log_likelihood(x)?;
    let w = lambda / x.len() as f64;
    let grad_prior = prior.grad_log_density(x)?;
    for (gi, gp) in g.iter_mut().zip(&grad_prior) {
        *gi -= (w * f64::from(*gp)) as f32;
    }
    Ok((f, -w * prior.log_density(x)?, g))
}

/// Minimises [`map_objective`] from `start` (normalised) with Adam, x clipped to [−1, 1];
/// returns the estimate.
pub fn map_estimate(
    prior: &dyn LogDensity,
    problem: &Problem,
    start: &[f32],
    cfg: &MapConfig,
    observer: &mut dyn PosteriorObserver,
) -> Result<Vec<f32>> {
    check_settings(cfg)?;
    let mut x = start.to_vec();
    let mut adam = Adam::new(x.len(), cfg.lr, 0.9, 0.999, 1e-8);
    for it in 0..cfg.iterations {
        let (f, reg, g) = map_objective(prior, problem, &x, cfg.lambda)?;
        adam.step(&mut x, &g);
        x.iter_mut().for_each(|v| *v = v.clamp(-1.0, 1.0));
        observer.on_iteration(&IterationRecord {
            iteration: it,
            total: cfg.iterations,
            misfit: Some(f * problem.likelihood_scale),
            regulariser: Some(reg),
            estimate: &x,
            ..Default::default()
        })?;
    }
    Ok(x)
}

/// Minimises J(z) (module docs) from `z0` with Adam through `target`'s decoder; returns the
/// decoded estimate D(z) (normalised).
pub fn latent_map_estimate(
    target: &LatentTarget,
    z0: &[f32],
    cfg: &MapConfig,
    observer: &mut dyn PosteriorObserver,
) -> Result<Vec<f32>> {
    check_settings(cfg)?;
    let (k, s2) = (z0.len(), target.latent_std * target.latent_std);
    let w = cfg.lambda / k as f64;
    let mut z = z0.to_vec();
    let mut adam = Adam::new(k, cfg.lr, 0.9, 0.999, 1e-8);
    for it in 0..cfg.iterations {
        // The target's log π(z) = −‖z‖²/(2s²) − f/s: split off the prior to weight it by λ/k.
        let (log_post, grad) = target.value_and_grad(&z)?;
        if !log_post.is_finite() {
            return Err(PosteriorError::invalid(
                "latent map: the decoded model left the solver's support; lower lr",
            ));
        }
        let norm2: f64 = z.iter().map(|&v| f64::from(v).powi(2)).sum();
        let nll = -log_post - norm2 / (2.0 * s2);
        let g: Vec<f32> = grad
            .iter()
            .zip(&z)
            .map(|(&g, &zi)| {
                let zi = f64::from(zi);
                // ∇(f/s) = −(g + z/s²); ∇ of the prior term = w z/s².
                (-(f64::from(g) + zi / s2) + w * zi / s2) as f32
            })
            .collect();
        adam.step(&mut z, &g);
        observer.on_iteration(&IterationRecord {
            iteration: it,
            total: cfg.iterations,
            misfit: Some(nll * target.problem.likelihood_scale),
            regulariser: Some(w * norm2 / (2.0 * s2)),
            estimate: &target.decode(&z)?,
            ..Default::default()
        })?;
    }
    target.decode(&z)
}

/// An error unless the iterations, step and weight are usable.
fn check_settings(cfg: &MapConfig) -> Result<()> {
    let valid = cfg.iterations > 0 && cfg.lr > 0.0 && cfg.lambda >= 0.0 && cfg.lambda.is_finite();
    if !valid {
        return Err(PosteriorError::invalid(format!(
            "map: need iterations ≥ 1 (got {}), lr > 0 (got {}) and a finite lambda ≥ 0 (got {})",
            cfg.iterations, cfg.lr, cfg.lambda
        )));
    }
    Ok(())
}
