//! A forward operator linearised at a model m, for repeated products with Jᵀ (the adjoint of
//! the Jacobian of F at m), as Gauss–Newton steps and illumination estimates make them.
//!
//! Through [`ForwardOperator::misfit_and_gradient`] each Jᵀw costs a forward solve (to rebuild
//! the wavefield the adjoint correlates with) and an adjoint solve. The acoustic operator's
//! [`StoredLinearisation`] runs the forward solve once, keeps W(uⁿ) of every step of every shot,
//! and then costs one adjoint solve per product; its products are those of
//! `misfit_and_gradient` with the residual w (the same discrete adjoint).

use rayon::prelude::*;

use crate::adjoint::{StoredShot, adjoint_stored, fold_gradient, forward_stored};
use crate::checkpointing::{Storage, plan};
use crate::error::{PhysicsError, Result};
use crate::geometry::{Acquisition, ModelShape, Shot};
use crate::operator::ForwardOperator;
use crate::propagate::{Medium, SolverConfig, State, within_shot_threads};

/// F linearised at a model m.
pub trait Linearised: Send + Sync {
    /// F(m).
    fn data(&self) -> &[f32];
    /// Jᵀw (shape (nz, nx)) for a data vector w.
    fn adjoint(&self, w: &[f32]) -> Result<Vec<f32>>;
}

/// F linearised at `m`: the operator's own linearisation ([`ForwardOperator::linearise`]) where
/// it has one, otherwise products through its L2 misfit gradient at d_obs = F(m) − w.
pub fn linearise<'a>(op: &'a dyn ForwardOperator, m: &[f32]) -> Result<Box<dyn Linearised + 'a>> {
    if !op.l2_misfit() {
        return Err(crate::error::param(
            "misfit",
            "products with the Jacobian's adjoint need the L2 misfit: set misfit = \"l2\"",
        ));
    }
    if let Some(own) = op.linearise(m)? {
        return Ok(own);
    }
    Ok(Box::new(ThroughGradient {
        op,
        m: m.to_vec(),
        data: op.forward(m)?,
    }))
}

/// Jᵀw as the L2 misfit's gradient at d_obs = F(m) − w (a forward and an adjoint solve).
struct ThroughGradient<'a> {
    op: &'a dyn ForwardOperator,
    m: Vec<f32>,
    data: Vec<f32>,
}

impl Linearised for ThroughGradient<'_> {
    fn data(&self) -> &[f32] {
        &self.data
    }

    fn adjoint(&self, w: &[f32]) -> Result<Vec<f32>> {
        check_len(w, self.data.len())?;
        let shifted: Vec<f32> = self.data.iter().zip(w).map(|(f, w)| f - w).collect();
        Ok(self.op.misfit_and_gradient(&self.m, &shifted)?.1)
    }
}

/// The acoustic solver linearised at a velocity model, its forward wavefields kept: each Jᵀw
/// costs one adjoint solve. Holds nt·(padded rows × storage width) floats per shot (about
/// 50 MB per shot of a 70×70 model with a 20-cell border and 1,000 steps).
pub struct StoredLinearisation {
    medium: Medium,
    acquisition: Acquisition,
    velocity: Vec<f32>,
    shots: Vec<StoredShot>,
    data: Vec<f32>,
    threads: bool,
}

impl StoredLinearisation {
    /// One forward solve of every shot of `acq` in `v` (m/s, shape (nz, nx)); `None` where
    /// `storage` does not let every shot's wavefields be kept at once.
    pub fn new(
        v: &[f32],
        shape: ModelShape,
        cfg: &SolverConfig,
        acq: &Acquisition,
        storage: Storage,
    ) -> Result<Option<Self>> {
        let medium = Medium::new(v, shape, cfg, Some(acq))?;
        let snapshot = State::new(&medium).len();
        let all_shots = acq.shots.len();
        if plan(storage, acq.nt(), medium.step_len(), snapshot, all_shots) != Storage::All {
            return Ok(None);
        }
        let threads = within_shot_threads(acq.shots.len());
        let run = |shot| forward_stored(&medium, shot, &acq.wavelet, Vec::new(), threads);
        let shots: Vec<StoredShot> = if threads {
            acq.shots.iter().map(run).collect()
        } else {
            acq.shots.par_iter().map(run).collect()
        };
        let data = shots.iter().flat_map(|s| s.data.iter().copied()).collect();
        Ok(Some(Self {
            medium,
            acquisition: acq.clone(),
            velocity: v.to_vec(),
            shots,
            data,
            threads,
        }))
    }
}

impl Linearised for StoredLinearisation {
    fn data(&self) -> &[f32] {
        &self.data
    }

    fn adjoint(&self, w: &[f32]) -> Result<Vec<f32>> {
        check_len(w, self.data.len())?;
        let acq = &self.acquisition;
        let offsets = acq.data_offsets();
        let one = |(i, (shot, stored)): (usize, (&Shot, &StoredShot))| {
            let adj = &w[offsets[i]..offsets[i] + stored.data.len()];
            adjoint_stored(&self.medium, shot, &acq.wavelet, stored, adj, self.threads)
        };
        let parts: Vec<Vec<f32>> = if self.threads {
            acq.shots
                .iter()
                .zip(&self.shots)
                .enumerate()
                .map(one)
                .collect()
        } else {
            acq.shots
                .par_iter()
                .zip(&self.shots)
                .enumerate()
                .map(one)
                .collect()
        };
        let mut g = vec![0.0f32; self.medium.field_len()];
        for part in parts {
            g.iter_mut().zip(&part).for_each(|(x, y)| *x += y);
        }
        Ok(fold_gradient(&self.medium, &g, &self.velocity))
    }
}

fn check_len(w: &[f32], expected: usize) -> Result<()> {
    if w.len() != expected {
        return Err(PhysicsError::Shape {
            what: "data vector of J^T w",
            expected,
            got: w.len(),
        });
    }
    Ok(())
}
