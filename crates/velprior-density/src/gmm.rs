//! A Gaussian mixture on PCA coordinates: the corpus's top-k principal subspace carries a
//! K-component full-covariance mixture fitted by EM (Dempster, Laird & Rubin 1977); every
//! direction orthogonal to it keeps the isotropic residual of probabilistic PCA.
//!
//! Model (D = H·W, normalised units), with μ, U (k × D, orthonormal rows) and σ² from
//! [`GaussianPrior::fit`]: a = U (x − μ), r⊥ = (x − μ) − Uᵀ a,
//! p(x) = Σⱼ πⱼ N(a; mⱼ, Cⱼ) · N(r⊥; 0, σ² I_{D−k}).
//!
//! Checkpoint tensors (f32): the [`Subspace`]'s under `gmm`, `gmm.weights` (K),
//! `gmm.means` (K, k), `gmm.covariances` (K, k, k).

use std::collections::HashMap;

use candle_core::{Device, Tensor};
use nalgebra::{Cholesky, DMatrix, DVector, Dyn};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

use crate::density::{DensityModel, LogDensity};
use crate::error::{DensityError, Result};
use crate::gaussian::GaussianPrior;
use crate::subspace::{Subspace, read};

const LN_2PI: f64 = 1.837_877_066_409_345_5;

/// EM settings of [`GaussianMixture::fit`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GmmFit {
    /// Principal components k (the mixture's dimension).
    pub rank: usize,
    /// Mixture components K.
    pub components: usize,
    /// Most EM iterations.
    #[serde(default = "default_iterations")]
    pub iterations: usize,
    /// EM stops when the mean log-likelihood per model improves by less than this.
    #[serde(default = "default_tolerance")]
    pub tolerance: f64,
    /// Added to each covariance's diagonal, as a fraction of the mean coordinate variance
    /// (keeps a component from collapsing onto a few models).
    #[serde(default = "default_regularisation")]
    pub regularisation: f64,
    /// Seed of the initial means (K distinct models drawn at random).
    #[serde(default)]
    pub seed: u64,
}

fn default_iterations() -> usize {
    200
}
fn default_tolerance() -> f64 {
    1e-6
}
fn default_regularisation() -> f64 {
    1e-3
}

/// One mixture component in PCA coordinates, with its factorised covariance.
#[derive(Debug, Clone)]
struct Component {
    weight: f64,
    mean: DVector<f64>,
    covariance: DMatrix<f64>,
    chol: Cholesky<f64, Dyn>,
    /// log πⱼ − ½ log det Cⱼ − k/2 log 2π.
    log_norm: f64,
}

impl Component {
    fn new(weight: f64, mean: DVector<f64>, covariance: DMatrix<f64>) -> Result<Component> {
        let chol = Cholesky::new(covariance.clone()).ok_or_else(|| {
            DensityError::Shape(
                "Gaussian mixture: a component covariance is not positive definite; raise \
                 `regularisation` or lower `components`"
                    .into(),
            )
        })?;
        let log_det = 2.0 * chol.l().diagonal().iter().map(|v| v.ln()).sum::<f64>();
        let k = mean.len() as f64;
        Ok(Component {
            log_norm: weight.ln() - 0.5 * (log_det + k * LN_2PI),
            weight,
            mean,
            covariance,
            chol,
        })
    }

    /// log πⱼ N(a; mⱼ, Cⱼ) and Cⱼ⁻¹ (a − mⱼ).
    fn log_weighted_density(&self, a: &DVector<f64>) -> (f64, DVector<f64>) {
        let solved = self.chol.solve(&(a - &self.mean));
        let quad = (a - &self.mean).dot(&solved);
        (self.log_norm - 0.5 * quad, solved)
    }
}

/// A fitted Gaussian mixture on the corpus's principal subspace (model in the module docs).
#[derive(Debug, Clone)]
pub struct GaussianMixture {
    subspace: Subspace,
    components: Vec<Component>,
}

impl GaussianMixture {
    /// Fits the subspace and residual by probabilistic PCA, then the mixture by EM on the
    /// models' coordinates; `models` is N × `dim`, row-major, normalised units.
    pub fn fit(models: &[f32], dim: usize, settings: &GmmFit) -> Result<GaussianMixture> {
        let pca = GaussianPrior::fit(models, dim, settings.rank)?;
        let n = models.len() / dim;
        if settings.components == 0 || settings.components > n {
            return Err(DensityError::Shape(format!(
                "Gaussian mixture: {} components for {n} models; use between 1 and {n}",
                settings.components
            )));
        }
        let subspace = Subspace::of(&pca);
        let coords = models
            .chunks_exact(dim)
            .map(|x| Ok(subspace.coordinates(x)?.0))
            .collect::<Result<Vec<DVector<f64>>>>()?;
        let components = expectation_maximisation(&coords, settings)?;
        Ok(GaussianMixture {
            subspace,
            components,
        })
    }

    /// Number k of principal components.
    pub fn rank(&self) -> usize {
        self.subspace.rank()
    }

    /// Mixture weights π (K).
    pub fn weights(&self) -> Vec<f64> {
        self.components.iter().map(|c| c.weight).collect()
    }

    /// Residual variance σ² off the subspace.
    pub fn residual_variance(&self) -> f64 {
        self.subspace.residual_variance()
    }

    /// Rebuilds a mixture from checkpoint tensors (names in the module docs).
    pub fn from_tensors(tensors: &HashMap<String, Tensor>) -> Result<GaussianMixture> {
        let subspace = Subspace::from_tensors(tensors, "gmm")?;
        let weights = read(tensors, "gmm.weights")?;
        let means = read(tensors, "gmm.means")?;
        let covariances = read(tensors, "gmm.covariances")?;
        let (k, kk) = (subspace.rank(), weights.len());
        if kk == 0 || means.len() != kk * k || covariances.len() != kk * k * k {
            return Err(DensityError::Shape(format!(
                "Gaussian mixture: inconsistent tensors (rank {k}, weights {kk}, means {}, \
                 covariances {})",
                means.len(),
                covariances.len()
            )));
        }
        let components = (0..kk)
            .map(|j| {
                Component::new(
                    weights[j] as f64,
                    DVector::from_iterator(k, means[j * k..(j + 1) * k].iter().map(|&v| v as f64)),
                    DMatrix::from_row_iterator(
                        k,
                        k,
                        covariances[j * k * k..(j + 1) * k * k]
                            .iter()
                            .map(|&v| v as f64),
                    ),
                )
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(GaussianMixture {
            subspace,
            components,
        })
    }

    /// log Σⱼ πⱼ N(a; mⱼ, Cⱼ) and its gradient in a.
    fn mixture_log_density(&self, a: &DVector<f64>) -> (f64, DVector<f64>) {
        let terms: Vec<(f64, DVector<f64>)> = self
            .components
            .iter()
            .map(|c| c.log_weighted_density(a))
            .collect();
        let top = terms.iter().map(|t| t.0).fold(f64::NEG_INFINITY, f64::max);
        let total: f64 = terms.iter().map(|t| (t.0 - top).exp()).sum();
        let log_p = top + total.ln();
        let mut grad = DVector::zeros(a.len());
        for (log_q, solved) in &terms {
            grad -= solved * ((log_q - log_p).exp());
        }
        (log_p, grad)
    }
}

impl LogDensity for GaussianMixture {
    fn dim(&self) -> usize {
        self.subspace.dim()
    }

    /// log p(x), normalised (includes every 2π and determinant term).
    fn log_density(&self, x: &[f32]) -> Result<f64> {
        let (a, off) = self.subspace.coordinates(x)?;
        Ok(self.mixture_log_density(&a).0 + self.subspace.residual_log_density(off))
    }

    fn grad_log_density(&self, x: &[f32]) -> Result<Vec<f32>> {
        let (a, _) = self.subspace.coordinates(x)?;
        let (_, grad_a) = self.mixture_log_density(&a);
        Ok(self.subspace.gradient(x, &a, &grad_a))
    }
}

impl DensityModel for GaussianMixture {
    /// Picks a component by weight, draws a ~ N(mⱼ, Cⱼ) and an isotropic residual:
    /// x = μ + Uᵀ a + σ (ε − Uᵀ U ε).
    fn sample(&self, n: usize, seed: u64) -> Result<Vec<f32>> {
        let k = self.rank();
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut out = Vec::with_capacity(n * self.subspace.dim());
        for _ in 0..n {
            let mut pick: f64 = rng.random();
            let component = self
                .components
                .iter()
                .find(|c| {
                    pick -= c.weight;
                    pick < 0.0
                })
                .unwrap_or(&self.components[self.components.len() - 1]);
            let e = DVector::from_iterator(k, (0..k).map(|_| StandardNormal.sample(&mut rng)));
            let a = &component.mean + component.chol.l() * e;
            out.extend(self.subspace.embed(&a, &mut rng));
        }
        Ok(out)
    }

    fn to_tensors(&self, device: &Device) -> Result<Vec<(String, Tensor)>> {
        let (k, kk) = (self.rank(), self.components.len());
        let f = |v: &f64| *v as f32;
        let weights: Vec<f32> = self.components.iter().map(|c| c.weight as f32).collect();
        let means: Vec<f32> = self
            .components
            .iter()
            .flat_map(|c| c.mean.iter().map(f).collect::<Vec<_>>())
            .collect();
        let covariances: Vec<f32> = self
            .components
            .iter()
            .flat_map(|c| c.covariance.transpose().iter().map(f).collect::<Vec<_>>())
            .collect();
        let mut tensors = self.subspace.to_tensors("gmm", device)?;
        tensors.extend([
            ("gmm.weights".into(), Tensor::from_vec(weights, kk, device)?),
            (
                "gmm.means".into(),
                Tensor::from_vec(means, (kk, k), device)?,
            ),
            (
                "gmm.covariances".into(),
                Tensor::from_vec(covariances, (kk, k, k), device)?,
            ),
        ]);
        Ok(tensors)
    }
}

/// EM for a K-component full-covariance mixture on `coords`: means start at K distinct
/// points drawn with `settings.seed`, covariances at the pooled covariance, weights equal.
fn expectation_maximisation(coords: &[DVector<f64>], settings: &GmmFit) -> Result<Vec<Component>> {
    let (n, k, kk) = (coords.len(), coords[0].len(), settings.components);
    let pooled_mean = coords.iter().fold(DVector::zeros(k), |s, a| s + a) / n as f64;
    let pooled = coords.iter().fold(DMatrix::zeros(k, k), |s, a| {
        let c = a - &pooled_mean;
        s + &c * c.transpose()
    }) / n as f64;
    let ridge = settings.regularisation * pooled.trace() / k as f64;
    let regularised = |c: DMatrix<f64>| c + DMatrix::identity(k, k) * ridge.max(1e-12);
    let mut rng = ChaCha8Rng::seed_from_u64(settings.seed);
    let starts = rand::seq::index::sample(&mut rng, n, kk);
    let mut components = starts
        .iter()
        .map(|i| {
            Component::new(
                1.0 / kk as f64,
                coords[i].clone(),
                regularised(pooled.clone()),
            )
        })
        .collect::<Result<Vec<_>>>()?;
    let mut previous = f64::NEG_INFINITY;
    for _ in 0..settings.iterations {
        // E step: responsibilities γᵢⱼ ∝ πⱼ N(aᵢ; mⱼ, Cⱼ), and the mean log-likelihood.
        let mut resp = vec![0f64; n * kk];
        let mut log_likelihood = 0.0;
        for (i, a) in coords.iter().enumerate() {
            let logs: Vec<f64> = components
                .iter()
                .map(|c| c.log_weighted_density(a).0)
                .collect();
            let top = logs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let total: f64 = logs.iter().map(|l| (l - top).exp()).sum();
            log_likelihood += top + total.ln();
            for (j, l) in logs.iter().enumerate() {
                resp[i * kk + j] = (l - top).exp() / total;
            }
        }
        log_likelihood /= n as f64;
        // M step: weights, means and covariances from the responsibilities.
        components = (0..kk)
            .map(|j| {
                let nj: f64 = (0..n).map(|i| resp[i * kk + j]).sum::<f64>().max(1e-300);
                let mean = coords
                    .iter()
                    .enumerate()
                    .fold(DVector::zeros(k), |s, (i, a)| s + a * resp[i * kk + j])
                    / nj;
                let cov = coords
                    .iter()
                    .enumerate()
                    .fold(DMatrix::zeros(k, k), |s, (i, a)| {
                        let c = a - &mean;
                        s + &c * c.transpose() * resp[i * kk + j]
                    })
                    / nj;
                Component::new(nj / n as f64, mean, regularised(cov))
            })
            .collect::<Result<Vec<_>>>()?;
        if (log_likelihood - previous).abs() < settings.tolerance {
            break;
        }
        previous = log_likelihood;
    }
    Ok(components)
}
