//! MAP inversion with a closed-form density prior (Gaussian/PCA, Gaussian mixture, Gaussian
//! process): Adam on
//!
//!   J(x) = f(F(v(x)), d)/s − λ log p(x) / D,
//!
//! D the cells of the model. With s the noise variance (L2) and λ = D, J is the negative log
//! posterior and its minimiser the Bayesian MAP estimate; the 1/D keeps λ on the scale of
//! RED-diff's weight when s is the number of data (the benchmark's mean misfit).

use serde::{Deserialize, Serialize};
use velprior_physics::fwi::adam::Adam;

use crate::observer::{IterationRecord, PosteriorObserver};
use crate::problem::Problem;
use crate::target::LogDensity;
use crate::{PosteriorError, Result};

/// MAP settings (`[method] kind = "map"`).
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MapConfig {
    /// Adam iterations.
    pub iterations: usize,
    /// Adam learning rate in normalised units.
    pub lr: f32,
    /// Weight λ of the prior term −λ log p(x)/D.
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
    let valid = cfg.iterations > 0 && cfg.lr > 0.0 && cfg.lambda >= 0.0 && cfg.lambda.is_finite();
    if !valid {
        return Err(PosteriorError::invalid(format!(
            "map: need iterations ≥ 1 (got {}), lr > 0 (got {}) and a finite lambda ≥ 0 (got {})",
            cfg.iterations, cfg.lr, cfg.lambda
        )));
    }
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
