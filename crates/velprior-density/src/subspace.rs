//! The principal subspace a low-dimensional density lives on (the Gaussian mixture, the
//! flow): mean μ, k orthonormal directions U (k × D) and the isotropic residual σ² of
//! probabilistic PCA off the subspace. A model x has coordinates a = U (x − μ) and residual
//! r⊥ = (x − μ) − Uᵀa, and
//!
//!   p(x) = p_k(a) · N(r⊥; 0, σ² I_{D−k}),
//!
//! so a density p_k on the k coordinates is a density on models.
//!
//! Checkpoint tensors (f32), under a prefix P: `P.mean` (D), `P.components` (k, D),
//! `P.residual_variance` (1).

use std::collections::HashMap;

use candle_core::{Device, Tensor};
use nalgebra::DVector;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

use crate::error::{DensityError, Result};
use crate::gaussian::GaussianPrior;

const LN_2PI: f64 = 1.837_877_066_409_345_5;

/// μ, U and σ² (module docs).
#[derive(Debug, Clone)]
pub struct Subspace {
    mean: Vec<f32>,
    /// Row-major (k, D), orthonormal rows.
    basis: Vec<f32>,
    residual_variance: f64,
}

impl Subspace {
    /// The subspace and residual of a fitted probabilistic PCA.
    pub fn of(pca: &GaussianPrior) -> Subspace {
        Subspace {
            mean: pca.mean().to_vec(),
            basis: pca.components().to_vec(),
            residual_variance: pca.residual_variance(),
        }
    }

    /// D, the values per model.
    pub fn dim(&self) -> usize {
        self.mean.len()
    }

    /// k, the coordinates.
    pub fn rank(&self) -> usize {
        self.basis.len() / self.mean.len()
    }

    /// σ².
    pub fn residual_variance(&self) -> f64 {
        self.residual_variance
    }

    /// a = U (x − μ) and |r⊥|² = |x − μ|² − |a|².
    pub fn coordinates(&self, x: &[f32]) -> Result<(DVector<f64>, f64)> {
        let d = self.dim();
        if x.len() != d {
            return Err(DensityError::Shape(format!(
                "a model of {} values for a density of dimension {d}",
                x.len()
            )));
        }
        let r: Vec<f64> = x
            .iter()
            .zip(&self.mean)
            .map(|(&v, &m)| v as f64 - m as f64)
            .collect();
        let a: DVector<f64> = DVector::from_iterator(
            self.rank(),
            self.basis
                .chunks_exact(d)
                .map(|u| u.iter().zip(&r).map(|(&uj, rj)| uj as f64 * rj).sum()),
        );
        let r2: f64 = r.iter().map(|v| v * v).sum();
        let off = (r2 - a.norm_squared()).max(0.0);
        Ok((a, off))
    }

    /// log N(r⊥; 0, σ² I_{D−k}) from |r⊥|².
    pub fn residual_log_density(&self, off: f64) -> f64 {
        let free = (self.dim() - self.rank()) as f64;
        let s2 = self.residual_variance;
        -0.5 * (off / s2 + free * (s2.ln() + LN_2PI))
    }

    /// ∇ₓ log p(x) = Uᵀ ∇ₐ log p_k(a) − r⊥/σ², from the coordinates `a` of `x` and
    /// `grad_a` = ∇ₐ log p_k(a).
    pub fn gradient(&self, x: &[f32], a: &DVector<f64>, grad_a: &DVector<f64>) -> Vec<f32> {
        let d = self.dim();
        let s2 = self.residual_variance;
        // −r⊥/σ² = −(r − Uᵀa)/σ², then + Uᵀ ∇ₐ.
        let mut g: Vec<f64> = x
            .iter()
            .zip(&self.mean)
            .map(|(&v, &m)| -(v as f64 - m as f64) / s2)
            .collect();
        for (i, u) in self.basis.chunks_exact(d).enumerate() {
            let c = a[i] / s2 + grad_a[i];
            g.iter_mut()
                .zip(u)
                .for_each(|(gj, &uj)| *gj += c * uj as f64);
        }
        g.into_iter().map(|v| v as f32).collect()
    }

    /// The model with coordinates `a` and no residual: x = μ + Uᵀ a.
    pub fn point(&self, a: &[f32]) -> Vec<f32> {
        let d = self.dim();
        let mut x = self.mean.clone();
        for (u, &ai) in self.basis.chunks_exact(d).zip(a) {
            x.iter_mut().zip(u).for_each(|(xj, &uj)| *xj += ai * uj);
        }
        x
    }

    /// The model with coordinates `a` and an isotropic residual drawn from `rng`:
    /// x = μ + Uᵀ a + σ (ε − Uᵀ U ε).
    pub fn embed(&self, a: &DVector<f64>, rng: &mut ChaCha8Rng) -> Vec<f32> {
        let d = self.dim();
        let sigma = self.residual_variance.sqrt();
        let eps: Vec<f64> = (0..d).map(|_| StandardNormal.sample(rng)).collect();
        let mut x: Vec<f64> = self
            .mean
            .iter()
            .zip(&eps)
            .map(|(&m, e)| m as f64 + sigma * e)
            .collect();
        for (i, u) in self.basis.chunks_exact(d).enumerate() {
            let ue: f64 = u.iter().zip(&eps).map(|(&uj, e)| uj as f64 * e).sum();
            let c = a[i] - sigma * ue;
            x.iter_mut()
                .zip(u)
                .for_each(|(xj, &uj)| *xj += c * uj as f64);
        }
        x.into_iter().map(|v| v as f32).collect()
    }

    /// The checkpoint tensors under `prefix` (module docs).
    pub fn to_tensors(&self, prefix: &str, device: &Device) -> Result<Vec<(String, Tensor)>> {
        let (d, k) = (self.dim(), self.rank());
        Ok(vec![
            (
                format!("{prefix}.mean"),
                Tensor::from_slice(&self.mean, d, device)?,
            ),
            (
                format!("{prefix}.components"),
                Tensor::from_slice(&self.basis, (k, d), device)?,
            ),
            (
                format!("{prefix}.residual_variance"),
                Tensor::from_vec(vec![self.residual_variance as f32], 1, device)?,
            ),
        ])
    }

    /// Rebuilds it from the tensors under `prefix`.
    pub fn from_tensors(tensors: &HashMap<String, Tensor>, prefix: &str) -> Result<Subspace> {
        let mean = read(tensors, &format!("{prefix}.mean"))?;
        let basis = read(tensors, &format!("{prefix}.components"))?;
        let residual = read(tensors, &format!("{prefix}.residual_variance"))?;
        let d = mean.len();
        if d == 0
            || basis.is_empty()
            || basis.len() % d != 0
            || residual.len() != 1
            || residual[0] <= 0.0
        {
            return Err(DensityError::Shape(format!(
                "{prefix}: inconsistent subspace tensors (mean {d}, components {}, residual {residual:?})",
                basis.len()
            )));
        }
        Ok(Subspace {
            mean,
            basis,
            residual_variance: residual[0] as f64,
        })
    }
}

/// A checkpoint tensor's values, or an error naming it.
pub(crate) fn read(tensors: &HashMap<String, Tensor>, name: &str) -> Result<Vec<f32>> {
    let t = tensors
        .get(name)
        .ok_or_else(|| DensityError::Shape(format!("tensor '{name}' is missing")))?;
    Ok(t.flatten_all()?.to_vec1::<f32>()?)
}
