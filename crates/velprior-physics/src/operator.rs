//! The `ForwardOperator` seam: d = F(m) and the misfit gradient, for posterior methods.

use crate::adjoint::{GradientOptions, misfit_and_gradient};
use crate::error::Result;
use crate::geometry::{Acquisition, ModelShape};
use crate::linearised::{Linearised, StoredLinearisation};
use crate::propagate::{SolverConfig, forward};

/// A forward operator from a model m (shape (nz, nx), row-major) to data d (flat).
/// Object-safe: posterior methods hold a `&dyn ForwardOperator`.
pub trait ForwardOperator: Send + Sync {
    /// Shape of the model the operator accepts.
    fn model_shape(&self) -> ModelShape;
    /// Number of data values F returns.
    fn data_len(&self) -> usize;
    /// d = F(m).
    fn forward(&self, m: &[f32]) -> Result<Vec<f32>>;
    /// Misfit f(F(m), d_obs) and ∂f/∂m (shape (nz, nx)).
    fn misfit_and_gradient(&self, m: &[f32], d_obs: &[f32]) -> Result<(f64, Vec<f32>)>;
    /// Misfit f(F(m), d_obs) alone; operators whose gradient costs more than their forward
    /// (an adjoint solve) override it.
    fn misfit(&self, m: &[f32], d_obs: &[f32]) -> Result<f64> {
        Ok(self.misfit_and_gradient(m, d_obs)?.0)
    }
    /// Independent shots whose misfits add up to the total (1 for an operator without shots).
    fn shots(&self) -> usize {
        1
    }
    /// Whether the misfit is L2, f = ½‖F(m) − d_obs‖², so that the gradient at d_obs = F(m) − w
    /// is Jᵀw, the adjoint of the linearised operator (what Gauss–Newton steps need).
    fn l2_misfit(&self) -> bool {
        false
    }
    /// F linearised at m with products Jᵀw cheaper than the misfit gradient's, where the
    /// operator has them (`None` otherwise; [`crate::linearise`] then falls back to the
    /// gradient).
    fn linearise(&self, m: &[f32]) -> Result<Option<Box<dyn Linearised + '_>>> {
        let _ = m;
        Ok(None)
    }
    /// The misfit of the shots `shots` (indices below [`ForwardOperator::shots`]) and its
    /// gradient; `d_obs` is the whole data vector. An operator with one shot returns the full
    /// misfit.
    fn shot_misfit_and_gradient(
        &self,
        m: &[f32],
        d_obs: &[f32],
        shots: &[usize],
    ) -> Result<(f64, Vec<f32>)> {
        let _ = shots;
        self.misfit_and_gradient(m, d_obs)
    }
}

/// The acoustic finite-difference solver as a forward operator: m is velocity in m/s, d is the
/// concatenated shot gathers, each (nt, n_receivers).
#[derive(Debug, Clone)]
pub struct AcousticOperator {
    pub shape: ModelShape,
    pub config: SolverConfig,
    pub acquisition: Acquisition,
    pub gradient: GradientOptions,
}

impl AcousticOperator {
    /// The operator of a survey as the configs write it (`[solver]`, `[acquisition]`, the
    /// misfit and the wavefield storage) on models of `shape`.
    pub fn from_survey(
        shape: ModelShape,
        solver: &SolverConfig,
        acquisition: &crate::fwi::AcquisitionConfig,
        misfit: crate::Misfit,
        storage: crate::Storage,
    ) -> AcousticOperator {
        AcousticOperator {
            shape,
            config: solver.clone(),
            acquisition: acquisition.build(shape.nx, solver.dt),
            gradient: GradientOptions { misfit, storage },
        }
    }
}

impl ForwardOperator for AcousticOperator {
    fn model_shape(&self) -> ModelShape {
        self.shape
    }

    fn data_len(&self) -> usize {
        self.acquisition.data_len()
    }

    fn forward(&self, m: &[f32]) -> Result<Vec<f32>> {
        forward(m, self.shape, &self.config, &self.acquisition)
    }

    fn misfit_and_gradient(&self, m: &[f32], d_obs: &[f32]) -> Result<(f64, Vec<f32>)> {
        let (f, g, _) = misfit_and_gradient(
            m,
            self.shape,
            &self.config,
            &self.acquisition,
            d_obs,
            self.gradient,
        )?;
        Ok((f, g))
    }

    /// One forward solve, no adjoint.
    fn misfit(&self, m: &[f32], d_obs: &[f32]) -> Result<f64> {
        let d = self.forward(m)?;
        Ok(self.gradient.misfit.value_and_residual(&d, d_obs).0)
    }

    fn shots(&self) -> usize {
        self.acquisition.shots.len()
    }

    fn l2_misfit(&self) -> bool {
        self.gradient.misfit == crate::Misfit::L2
    }

    /// The forward wavefields kept (where the wavefield storage allows all shots at once):
    /// one adjoint solve per product.
    fn linearise(&self, m: &[f32]) -> Result<Option<Box<dyn Linearised + '_>>> {
        let stored = StoredLinearisation::new(
            m,
            self.shape,
            &self.config,
            &self.acquisition,
            self.gradient.storage,
        )?;
        Ok(stored.map(|s| Box::new(s) as Box<dyn Linearised>))
    }

    /// Models only the chosen shots: their gathers are cut out of `d_obs`.
    fn shot_misfit_and_gradient(
        &self,
        m: &[f32],
        d_obs: &[f32],
        shots: &[usize],
    ) -> Result<(f64, Vec<f32>)> {
        let all = &self.acquisition;
        if d_obs.len() != all.data_len() || shots.iter().any(|&s| s >= all.shots.len()) {
            return Err(crate::error::param(
                "shots",
                format!(
                    "shots {shots:?} of {} with {} data values (expected {})",
                    all.shots.len(),
                    d_obs.len(),
                    all.data_len()
                ),
            ));
        }
        let offsets = all.data_offsets();
        let nt = all.nt();
        let subset = Acquisition {
            shots: shots.iter().map(|&s| all.shots[s].clone()).collect(),
            wavelet: all.wavelet.clone(),
        };
        let observed: Vec<f32> = shots
            .iter()
            .flat_map(|&s| {
                let len = all.shots[s].receivers.len() * nt;
                d_obs[offsets[s]..offsets[s] + len].iter().copied()
            })
            .collect();
        let (f, g, _) = misfit_and_gradient(
            m,
            self.shape,
            &self.config,
            &subset,
            &observed,
            self.gradient,
        )?;
        Ok((f, g))
    }
}
