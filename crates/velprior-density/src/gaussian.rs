//! The Gaussian/PCA baseline prior: probabilistic PCA (Tipping & Bishop 1999), a closed-form
//! density for posterior baselines (Langevin, MALA) and the simplest prior to compare against.
//!
//! Model (D = H·W, flattened row-major, normalised units):
//! x ~ N(μ, Σ), Σ = Uᵀ diag(λ) U + σ² (I − UᵀU), with U (k × D) the top-k orthonormal
//! principal directions of the corpus, λ₁ ≥ … ≥ λ_k their variances and σ² the mean of the
//! discarded eigenvalues of the sample covariance (the isotropic residual; floored at
//! [`MIN_RESIDUAL_VARIANCE`]).
//!
//! Checkpoint tensors (f32): `gaussian.mean` (D), `gaussian.components` (k, D),
//! `gaussian.eigenvalues` (k), `gaussian.residual_variance` (1).

use std::collections::HashMap;

use candle_core::{Device, Tensor};
use nalgebra::{DMatrix, SymmetricEigen};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

use crate::density::{DensityModel, LogDensity};
use crate::error::{DensityError, Result};

/// Floor of the residual variance σ² (normalised units²): keeps Σ invertible when the corpus
/// spans (almost) all of the retained dimensions.
pub const MIN_RESIDUAL_VARIANCE: f64 = 1e-6;

/// A fitted probabilistic-PCA Gaussian over flattened models of dimension D.
#[derive(Debug, Clone, PartialEq)]
pub struct GaussianPrior {
    mean: Vec<f32>,
    /// Row-major (k, D), orthonormal rows.
    components: Vec<f32>,
    eigenvalues: Vec<f64>,
    residual_variance: f64,
}

impl GaussianPrior {
    /// Fits μ, the top-`rank` components and σ² to `models` (N × `dim`, row-major, normalised
    /// units) with the unbiased sample covariance (1/(N−1)). Uses the N × N Gram matrix when
    /// N < D (thin SVD route), else the D × D covariance.
    pub fn fit(models: &[f32], dim: usize, rank: usize) -> Result<GaussianPrior> {
        if dim == 0 || models.is_empty() || !models.len().is_multiple_of(dim) {
            return Err(DensityError::Shape(format!(
                "Gaussian prior: {} values are not N models of dimension {dim}",
                models.len()
            )));
        }
        let n = models.len() / dim;
        if n < 2 {
            return Err(DensityError::Shape(
                "Gaussian prior: need at least 2 models to estimate a covariance".into(),
            ));
        }
        if rank > dim || rank >= n {
            return Err(DensityError::Shape(format!(
                "Gaussian prior: rank {rank} must be at most the dimension {dim} and below the \
                 number of models {n}; lower the rank"
            )));
        }
        let mut mean = vec![0f64; dim];
        for row in models.chunks_exact(dim) {
            for (m, &v) in mean.iter_mut().zip(row) {
                *m += v as f64;
            }
        }
        mean.iter_mut().for_each(|m| *m /= n as f64);
        let xc = DMatrix::from_fn(n, dim, |i, j| models[i * dim + j] as f64 - mean[j]);
        let scale = 1.0 / (n - 1) as f64;
        let trace = xc.iter().map(|v| v * v).sum::<f64>() * scale;
        let (eigenvalues, components) = if n < dim {
            top_from_gram(&xc, rank, scale)?
        } else {
            top_from_covariance(&xc, rank, scale)
        };
        let kept: f64 = eigenvalues.iter().sum();
        let residual = if rank < dim {
            (trace - kept) / (dim - rank) as f64
        } else {
            0.0
        };
        let residual_variance = residual.max(MIN_RESIDUAL_VARIANCE);
        let eigenvalues = eigenvalues
            .into_iter()
            .map(|l| l.max(residual_variance))
            .collect();
        Ok(GaussianPrior {
            mean: mean.into_iter().map(|m| m as f32).collect(),
            components: components.into_iter().map(|c| c as f32).collect(),
            eigenvalues,
            residual_variance,
        })
    }

    /// Dimension D of a flattened model.
    pub fn dim(&self) -> usize {
        self.mean.len()
    }

    /// Number k of principal components.
    pub fn rank(&self) -> usize {
        self.eigenvalues.len()
    }

    /// Mean μ (D).
    pub fn mean(&self) -> &[f32] {
        &self.mean
    }

    /// Principal directions U, row-major (k, D), orthonormal rows.
    pub fn components(&self) -> &[f32] {
        &self.components
    }

    /// Variances λ₁ ≥ … ≥ λ_k along the components.
    pub fn eigenvalues(&self) -> &[f64] {
        &self.eigenvalues
    }

    /// Residual variance σ² of every direction orthogonal to the components.
    pub fn residual_variance(&self) -> f64 {
        self.residual_variance
    }

    /// The dense covariance Σ (D × D, row-major); for tests and small D only.
    pub fn covariance(&self) -> Vec<f64> {
        let d = self.dim();
        let mut cov = vec![0f64; d * d];
        for i in 0..d {
            cov[i * d + i] = self.residual_variance;
        }
        for (k, l) in self.eigenvalues.iter().enumerate() {
            let u = &self.components[k * d..(k + 1) * d];
            for i in 0..d {
                for j in 0..d {
                    cov[i * d + j] += (l - self.residual_variance) * u[i] as f64 * u[j] as f64;
                }
            }
        }
        cov
    }

    /// Rebuilds a prior from checkpoint tensors (names in the module docs).
    pub fn from_tensors(tensors: &HashMap<String, Tensor>) -> Result<GaussianPrior> {
        let get = |name: &str| -> Result<Vec<f32>> {
            let t = tensors.get(name).ok_or_else(|| {
                DensityError::Shape(format!("Gaussian prior: tensor '{name}' is missing"))
            })?;
            Ok(t.flatten_all()?.to_vec1::<f32>()?)
        };
        let mean = get("gaussian.mean")?;
        let components = get("gaussian.components")?;
        let eigenvalues: Vec<f64> = get("gaussian.eigenvalues")?
            .into_iter()
            .map(f64::from)
            .collect();
        let residual = get("gaussian.residual_variance")?;
        let (d, k) = (mean.len(), eigenvalues.len());
        if d == 0 || components.len() != k * d || residual.len() != 1 || residual[0] <= 0.0 {
            return Err(DensityError::Shape(format!(
                "Gaussian prior: inconsistent tensors (mean {d}, components {}, eigenvalues {k}, \
                 residual {residual:?})",
                components.len()
            )));
        }
        Ok(GaussianPrior {
            mean,
            components,
            eigenvalues,
            residual_variance: residual[0] as f64,
        })
    }

    /// r = x − μ and its projection a = U r.
    fn residual_and_projection(&self, x: &[f32]) -> (Vec<f64>, Vec<f64>) {
        let d = self.dim();
        assert_eq!(x.len(), d, "Gaussian prior: x has the wrong dimension");
        let r: Vec<f64> = x
            .iter()
            .zip(&self.mean)
            .map(|(&xi, &m)| xi as f64 - m as f64)
            .collect();
        let a = (0..self.rank())
            .map(|i| {
                let u = &self.components[i * d..(i + 1) * d];
                u.iter().zip(&r).map(|(&uj, rj)| uj as f64 * rj).sum()
            })
            .collect();
        (r, a)
    }
}

impl LogDensity for GaussianPrior {
    fn dim(&self) -> usize {
        self.mean.len()
    }

    /// log N(x; μ, Σ) of one flattened model `x` (D), including −D/2 log 2π.
    ///
    /// Panics when `x.len() != dim()` (a programming error, not user input).
    fn log_density(&self, x: &[f32]) -> Result<f64> {
        let (r, a) = self.residual_and_projection(x);
        let r2: f64 = r.iter().map(|v| v * v).sum();
        let a2: f64 = a.iter().map(|v| v * v).sum();
        let s2 = self.residual_variance;
        let quad = a
            .iter()
            .zip(&self.eigenvalues)
            .map(|(ai, l)| ai * ai / l)
            .sum::<f64>()
            + (r2 - a2).max(0.0) / s2;
        let log_det = self.eigenvalues.iter().map(|l| l.ln()).sum::<f64>()
            + (self.dim() - self.rank()) as f64 * s2.ln();
        Ok(-0.5 * (self.dim() as f64 * (2.0 * std::f64::consts::PI).ln() + log_det + quad))
    }

    /// ∇ₓ log N(x; μ, Σ) = −Σ⁻¹ (x − μ) (D), with
    /// Σ⁻¹ r = Uᵀ (a / λ) + (r − Uᵀ a) / σ², a = U r.
    ///
    /// Panics when `x.len() != dim()` (a programming error, not user input).
    fn grad_log_density(&self, x: &[f32]) -> Result<Vec<f32>> {
        let d = self.dim();
        let (r, a) = self.residual_and_projection(x);
        let s2 = self.residual_variance;
        let mut g: Vec<f64> = r.iter().map(|v| -v / s2).collect();
        for (i, (ai, l)) in a.iter().zip(&self.eigenvalues).enumerate() {
            let c = ai / s2 - ai / l;
            let u = &self.components[i * d..(i + 1) * d];
            g.iter_mut()
                .zip(u)
                .for_each(|(gj, &uj)| *gj += c * uj as f64);
        }
        Ok(g.into_iter().map(|v| v as f32).collect())
    }

    fn as_gaussian(&self) -> Option<&GaussianPrior> {
        Some(self)
    }
}

impl DensityModel for GaussianPrior {
    /// `n` independent draws, row-major (n, D): x = μ + Uᵀ diag(√(λ − σ²)) ε₁ + σ ε₂.
    fn sample(&self, n: usize, seed: u64) -> Result<Vec<f32>> {
        let (d, k) = (self.dim(), self.rank());
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let sigma = self.residual_variance.sqrt();
        let mut out = Vec::with_capacity(n * d);
        for _ in 0..n {
            let a: Vec<f64> = (0..k)
                .map(|i| {
                    let e: f64 = StandardNormal.sample(&mut rng);
                    (self.eigenvalues[i] - self.residual_variance)
                        .max(0.0)
                        .sqrt()
                        * e
                })
                .collect();
            let mut x: Vec<f64> = self
                .mean
                .iter()
                .map(|&m| {
                    let e: f64 = StandardNormal.sample(&mut rng);
                    m as f64 + sigma * e
                })
                .collect();
            for (i, ai) in a.iter().enumerate() {
                let u = &self.components[i * d..(i + 1) * d];
                x.iter_mut()
                    .zip(u)
                    .for_each(|(xj, &uj)| *xj += ai * uj as f64);
            }
            out.extend(x.into_iter().map(|v| v as f32));
        }
        Ok(out)
    }

    /// The checkpoint tensors (names in the module docs).
    fn to_tensors(&self, device: &Device) -> Result<Vec<(String, Tensor)>> {
        let (d, k) = (self.dim(), self.rank());
        let eig: Vec<f32> = self.eigenvalues.iter().map(|&l| l as f32).collect();
        Ok(vec![
            (
                "gaussian.mean".into(),
                Tensor::from_slice(&self.mean, d, device)?,
            ),
            (
                "gaussian.components".into(),
                Tensor::from_slice(&self.components, (k, d), device)?,
            ),
            (
                "gaussian.eigenvalues".into(),
                Tensor::from_vec(eig, k, device)?,
            ),
            (
                "gaussian.residual_variance".into(),
                Tensor::from_vec(vec![self.residual_variance as f32], 1, device)?,
            ),
        ])
    }
}

/// Indices of the `k` largest eigenvalues of a symmetric eigen-decomposition.
fn top_indices(eig: &SymmetricEigen<f64, nalgebra::Dyn>, k: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..eig.eigenvalues.len()).collect();
    order.sort_by(|&a, &b| eig.eigenvalues[b].total_cmp(&eig.eigenvalues[a]));
    order.truncate(k);
    order
}

/// Top-k eigenpairs of C = scale · XcᵀXc from the D × D matrix; components row-major (k, D).
fn top_from_covariance(xc: &DMatrix<f64>, k: usize, scale: f64) -> (Vec<f64>, Vec<f64>) {
    let cov = xc.tr_mul(xc) * scale;
    let eig = SymmetricEigen::new(cov);
    let d = xc.ncols();
    let mut values = Vec::with_capacity(k);
    let mut comps = Vec::with_capacity(k * d);
    for i in top_indices(&eig, k) {
        values.push(eig.eigenvalues[i].max(0.0));
        comps.extend(eig.eigenvectors.column(i).iter());
    }
    (values, comps)
}

/// Top-k eigenpairs of C from the N × N Gram matrix G = Xc Xcᵀ (N < D): if G v = μ v then
/// u = Xcᵀ v / √μ is a unit eigenvector of C with eigenvalue scale · μ. Fails when the corpus
/// spans fewer than k directions (u would be zero).
fn top_from_gram(xc: &DMatrix<f64>, k: usize, scale: f64) -> Result<(Vec<f64>, Vec<f64>)> {
    let gram = xc * xc.transpose();
    let eig = SymmetricEigen::new(gram);
    let tiny = 1e-12
        * eig
            .eigenvalues
            .iter()
            .fold(0f64, |m, &v| m.max(v))
            .max(1e-300);
    let mut values = Vec::with_capacity(k);
    let mut comps = Vec::with_capacity(k * xc.ncols());
    for i in top_indices(&eig, k) {
        let mu = eig.eigenvalues[i];
        if mu <= tiny {
            return Err(DensityError::Shape(format!(
                "Gaussian prior: the corpus spans only {} directions; lower the rank to at most that",
                values.len()
            )));
        }
        let u = xc.tr_mul(&eig.eigenvectors.column(i).into_owned());
        let norm = u.norm();
        values.push(mu * scale);
        comps.extend(u.iter().map(|v| v / norm));
    }
    Ok((values, comps))
}
