//! Densities the MCMC baselines sample: a prior with a closed-form log-density
//! ([`LogDensity`]), and the posterior it makes with a [`Problem`]'s likelihood ([`Target`]).

pub use velprior_density::LogDensity;
use velprior_physics::PhysicsError;

use crate::problem::Problem;
use crate::{PosteriorError, Result};

/// An unnormalised log-density an MCMC chain targets; evaluating it may fail (an operator).
pub trait Target {
    /// Dimension of the chain's state.
    fn dim(&self) -> usize;
    /// log π(x) + const.
    fn log_density(&self, x: &[f32]) -> Result<f64>;
    /// (log π(x) + const, ∇ log π(x)).
    fn value_and_grad(&self, x: &[f32]) -> Result<(f64, Vec<f32>)>;
}

impl<T: LogDensity + ?Sized> Target for T {
    fn dim(&self) -> usize {
        LogDensity::dim(self)
    }
    fn log_density(&self, x: &[f32]) -> Result<f64> {
        Ok(LogDensity::log_density(self, x)?)
    }
    fn value_and_grad(&self, x: &[f32]) -> Result<(f64, Vec<f32>)> {
        Ok((
            LogDensity::log_density(self, x)?,
            LogDensity::grad_log_density(self, x)?,
        ))
    }
}

/// The posterior log π(x) = log p(x) − f(F(v(x)), d)/s of a prior and a [`Problem`].
pub struct PosteriorTarget<'a> {
    pub prior: &'a dyn LogDensity,
    pub problem: &'a Problem<'a>,
}

impl Target for PosteriorTarget<'_> {
    fn dim(&self) -> usize {
        self.problem.dim()
    }
    fn log_density(&self, x: &[f32]) -> Result<f64> {
        match self.problem.neg_log_likelihood_value(x) {
            Ok(nll) => Ok(self.prior.log_density(x)? - nll),
            Err(e) => outside_support(e, 0).map(|(lp, _)| lp),
        }
    }
    fn value_and_grad(&self, x: &[f32]) -> Result<(f64, Vec<f32>)> {
        let (nll, g) = match self.problem.neg_log_likelihood(x) {
            Ok(v) => v,
            Err(e) => return outside_support(e, x.len()),
        };
        let mut grad = self.prior.grad_log_density(x)?;
        grad.iter_mut().zip(&g).for_each(|(a, b)| *a -= b);
        Ok((self.prior.log_density(x)? - nll, grad))
    }
}

/// A model the solver cannot propagate through (a velocity ≤ 0 or NaN, one so fast that the
/// time step is unstable, or so slow that the grid would disperse its waves) has zero
/// likelihood: (−∞, zero gradient of length `dim`), so a chain rejects it; any other error is
/// passed on.
pub(crate) fn outside_support(e: PosteriorError, dim: usize) -> Result<(f64, Vec<f32>)> {
    match e {
        PosteriorError::Physics(
            PhysicsError::BadVelocity { .. }
            | PhysicsError::Unstable { .. }
            | PhysicsError::Dispersive { .. },
        ) => Ok((f64::NEG_INFINITY, vec![0.0; dim])),
        e => Err(e),
    }
}

/// A chain's output: the kept states, concatenated, and the fraction of accepted proposals.
#[derive(Debug, Clone)]
pub struct Chain {
    /// Kept states (after burn-in, every `thin`-th), `len / dim` of them.
    pub samples: Vec<f32>,
    /// Accepted proposals / proposals (1 for ULA, which accepts everything).
    pub acceptance_rate: f64,
}

/// Chain length settings shared by the MCMC baselines.
#[derive(Debug, Clone, Copy, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChainConfig {
    /// Step size: h of Langevin, the proposal std of random-walk Metropolis.
    pub step: f64,
    /// States kept.
    pub samples: usize,
    /// Steps discarded first.
    pub burn_in: usize,
    /// Steps between kept states (≥ 1).
    pub thin: usize,
}

impl ChainConfig {
    /// Total steps: burn_in + samples · thin.
    pub fn total(&self) -> usize {
        self.burn_in + self.samples * self.thin.max(1)
    }

    /// Whether step `i` (0-based) is kept.
    pub fn keeps(&self, i: usize) -> bool {
        i >= self.burn_in && (i - self.burn_in + 1).is_multiple_of(self.thin.max(1))
    }
}

/// An error unless a chain's start has non-zero density.
pub(crate) fn check_start(log_density: f64) -> Result<()> {
    if log_density > f64::NEG_INFINITY {
        return Ok(());
    }
    Err(PosteriorError::invalid(
        "the chain starts at a model the solver cannot propagate through (a velocity <= 0 or \
         too fast for dt); start from another model (files.initial_model, smooth_sigma) or, in \
         latent space, check that the autoencoder decodes the start into the velocity range",
    ))
}

/// Where an MCMC chain (or a MAP search) moves.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChainSpace {
    /// The model itself (needs a density checkpoint: gaussian, gmm, gp or flow).
    #[default]
    Model,
    /// The code z of a regularised autoencoder or VAE, prior N(0, s²I), model D(z) (needs an
    /// autoencoder or VAE checkpoint); the chain starts at E(start).
    Latent,
}
