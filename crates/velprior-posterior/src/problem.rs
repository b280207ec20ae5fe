//! The inverse problem a posterior method sees: a forward operator in m/s, observed data, the
//! prior's normalisation, and the one place where the chain rule between them lives.
//!
//! Priors work in normalised units x = 2 (v − vmin)/(vmax − vmin) − 1; operators in m/s. With
//! v(x) = vmin + (x + 1)(vmax − vmin)/2, ∂f/∂x = ∂f/∂v · (vmax − vmin)/2.

use velprior_data::Normalisation;
use velprior_physics::{ForwardOperator, Linearised, linearise};

use crate::{PosteriorError, Result};

/// Data d_obs of a model through `operator`, with the likelihood
/// p(d | x) ∝ exp(−f(F(v(x)), d_obs) / `likelihood_scale`).
///
/// For the L2 misfit f = ½‖r‖², `likelihood_scale` = σ² is Gaussian noise of std σ; for L1
/// f = Σ|r| it is the Laplace scale b. Optimisation methods (RED-diff, diffusion-regularised
/// FWI) minimise f / `likelihood_scale`: `likelihood_scale` = N_data gives the mean misfit of
/// the FWI baseline.
pub struct Problem<'a> {
    /// The forward operator, acting on velocities (m/s) of shape (nz, nx).
    pub operator: &'a dyn ForwardOperator,
    /// Observed data, `operator.data_len()` values.
    pub observed: &'a [f32],
    /// The prior's map between m/s and normalised units.
    pub normalisation: Normalisation,
    /// Divisor of the misfit in the negative log-likelihood (see above); > 0.
    pub likelihood_scale: f64,
}

impl<'a> Problem<'a> {
    /// Checks the data length and the scale.
    pub fn new(
        operator: &'a dyn ForwardOperator,
        observed: &'a [f32],
        normalisation: Normalisation,
        likelihood_scale: f64,
    ) -> Result<Self> {
        if observed.len() != operator.data_len() {
            return Err(PosteriorError::invalid(format!(
                "observed data: got {} values, the operator makes {}",
                observed.len(),
                operator.data_len()
            )));
        }
        if !(likelihood_scale > 0.0 && likelihood_scale.is_finite()) {
            return Err(PosteriorError::invalid(format!(
                "likelihood_scale = {likelihood_scale}: must be finite and > 0"
            )));
        }
        Ok(Problem {
            operator,
            observed,
            normalisation,
            likelihood_scale,
        })
    }

    /// Values per model, nz · nx.
    pub fn dim(&self) -> usize {
        self.operator.model_shape().len()
    }

    /// (nz, nx) of the model.
    pub fn shape(&self) -> [usize; 2] {
        let s = self.operator.model_shape();
        [s.nz, s.nx]
    }

    fn check_len(&self, x: &[f32]) -> Result<()> {
        if x.len() != self.dim() {
            return Err(PosteriorError::invalid(format!(
                "model: got {} values, the operator takes {}",
                x.len(),
                self.dim()
            )));
        }
        Ok(())
    }

    /// Normalised x → velocity (m/s).
    pub fn to_velocity(&self, x: &[f32]) -> Vec<f32> {
        x.iter()
            .map(|&x| self.normalisation.to_velocity(x))
            .collect()
    }

    /// Velocity (m/s) → normalised x.
    pub fn to_unit(&self, v: &[f32]) -> Vec<f32> {
        v.iter().map(|&v| self.normalisation.to_unit(v)).collect()
    }

    /// The raw misfit f(F(v(x)), d_obs) and ∂f/∂x (normalised units, chain rule applied).
    pub fn misfit(&self, x: &[f32]) -> Result<(f64, Vec<f32>)> {
        self.check_len(x)?;
        let (f, gv) = self
            .operator
            .misfit_and_gradient(&self.to_velocity(x), self.observed)?;
        let dv_dx = 0.5 * (self.normalisation.vmax - self.normalisation.vmin);
        Ok((f, gv.into_iter().map(|g| g * dv_dx).collect()))
    }

    /// F(v(x)), the modelled data.
    pub fn forward(&self, x: &[f32]) -> Result<Vec<f32>> {
        self.check_len(x)?;
        Ok(self.operator.forward(&self.to_velocity(x))?)
    }

    /// The operator linearised at x (normalised units), for products with Jᵀ; needs an L2
    /// misfit ([`ForwardOperator::l2_misfit`]).
    pub fn linearise(&self, x: &[f32]) -> Result<LinearisedProblem<'a>> {
        self.check_len(x)?;
        if !self.operator.l2_misfit() {
            return Err(PosteriorError::invalid(
                "Gauss-Newton steps need the L2 misfit: set misfit = \"l2\"",
            ));
        }
        Ok(LinearisedProblem {
            inner: linearise(self.operator, &self.to_velocity(x))?,
            dv_dx: 0.5 * (self.normalisation.vmax - self.normalisation.vmin),
        })
    }

    /// −log p(d | x) = f / `likelihood_scale` (up to a constant), without the gradient (one
    /// forward solve).
    pub fn neg_log_likelihood_value(&self, x: &[f32]) -> Result<f64> {
        self.check_len(x)?;
        let f = self.operator.misfit(&self.to_velocity(x), self.observed)?;
        Ok(f / self.likelihood_scale)
    }

    /// −log p(d | x) = f / `likelihood_scale` (up to a constant) and its gradient in x.
    pub fn neg_log_likelihood(&self, x: &[f32]) -> Result<(f64, Vec<f32>)> {
        let (f, g) = self.misfit(x)?;
        let s = self.likelihood_scale;
        Ok((
            f / s,
            g.into_iter().map(|g| (f64::from(g) / s) as f32).collect(),
        ))
    }

    /// Independent shots of the operator.
    pub fn shots(&self) -> usize {
        self.operator.shots()
    }

    /// An unbiased estimate of −log p(d | x) and its gradient from the shots `shots` alone:
    /// their misfit scaled by S / |shots| (S the operator's shots), over `likelihood_scale`.
    pub fn neg_log_likelihood_of_shots(
        &self,
        x: &[f32],
        shots: &[usize],
    ) -> Result<(f64, Vec<f32>)> {
        self.check_len(x)?;
        if shots.is_empty() {
            return Err(PosteriorError::invalid(
                "a shot subset needs at least one shot",
            ));
        }
        let (f, gv) =
            self.operator
                .shot_misfit_and_gradient(&self.to_velocity(x), self.observed, shots)?;
        let scale = self.shots() as f64 / shots.len() as f64 / self.likelihood_scale;
        let dv_dx = f64::from(0.5 * (self.normalisation.vmax - self.normalisation.vmin));
        Ok((
            f * scale,
            gv.into_iter()
                .map(|g| (f64::from(g) * dv_dx * scale) as f32)
                .collect(),
        ))
    }
}

/// The forward operator linearised at a model x in normalised units ([`Problem::linearise`]).
pub struct LinearisedProblem<'a> {
    inner: Box<dyn Linearised + 'a>,
    /// ∂v/∂x.
    dv_dx: f32,
}

impl LinearisedProblem<'_> {
    /// F(v(x)).
    pub fn data(&self) -> &[f32] {
        self.inner.data()
    }

    /// Jᵀw in normalised units.
    pub fn adjoint(&self, w: &[f32]) -> Result<Vec<f32>> {
        let g = self.inner.adjoint(w)?;
        Ok(g.into_iter().map(|g| g * self.dv_dx).collect())
    }
}
