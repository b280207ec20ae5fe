//! What a posterior method reports at each iteration: the hook for logs, progress bars and
//! pictures, kept out of the maths (k-diffusion's `callback`).

use crate::Result;

/// One iteration of a posterior method; each method fills the fields it has (`..Default`).
#[derive(Debug, Default)]
pub struct IterationRecord<'a> {
    /// 0-based iteration (reverse step, optimiser step or chain step).
    pub iteration: usize,
    /// Total iterations of the run.
    pub total: usize,
    /// Raw data misfit f of the current estimate (x̂_0 for diffusion methods, the first chain
    /// state for MCMC), when the method computed it this iteration.
    pub misfit: Option<f64>,
    /// The regulariser's value (RED-diff).
    pub regulariser: Option<f64>,
    /// The acceptance rate so far (MCMC).
    pub acceptance: Option<f64>,
    /// ᾱ of the step (DPS, alternating, Boomerang).
    pub alpha_bar: Option<f64>,
    /// The current estimate of the first sample, normalised units, (nz · nx) row-major.
    pub estimate: &'a [f32],
}

/// A hook called once per iteration; an error aborts the run and is returned.
pub trait PosteriorObserver {
    /// Called after each iteration.
    fn on_iteration(&mut self, record: &IterationRecord<'_>) -> Result<()>;
}

/// Observes nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoObserver;

impl PosteriorObserver for NoObserver {
    fn on_iteration(&mut self, _record: &IterationRecord<'_>) -> Result<()> {
        Ok(())
    }
}

impl<F: FnMut(&IterationRecord<'_>) -> Result<()>> PosteriorObserver for F {
    fn on_iteration(&mut self, record: &IterationRecord<'_>) -> Result<()> {
        self(record)
    }
}
