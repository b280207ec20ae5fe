//! A Gaussian mixture on PCA coordinates: the corpus's top-k principal subspace carries a
//! K-component full-covariance mixture fitted by EM (Dempster, Laird & Rubin 1977); every
//! direction orthogonal to it keeps the isotropic residual of probabilistic PCA.
//!
//! Model (D = H·W, normalised units), with μ, U (k × D, orthonormal rows) and σ² from
//! [`GaussianPrior::fit`]: a = U (x − μ), r⊥ = (x − μ) − Uᵀ a,
//! p(x) = Σⱼ πⱼ N(a; mⱼ, Cⱼ) · N(r⊥; 0, σ² I_{D−k}).
//!
//! Checkpoint tensors (f32): `gmm.mean` (D), `gmm.components` (k, D),
//! `gmm.residual_variance` (1), `gmm.weights` (K), `gmm.means` (K, k),
//! `gmm.covariances` (K, k, k).

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
    mean: Vec<f32>,
    /// Row-major (k, D), orthonormal rows.
    basis: Vec<f32>,
    residual_variance: f64,
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
        let mut mixture = GaussianMixture {
            mean: pca.mean().to_vec(),
            basis: pca.components().to_vec(),
            residual_variance: pca.residual_variance(),
            components: Vec::new(),
        };
        let coords: Vec<DVector<f64>> = models
            .chunks_exact(dim)
            .map(|x| mixture.coordinates(x).0)
            .collect();
        mixture.components = expectation_maximisation(&coords, settings)?;
        Ok(mixture)
    }

    /// Number k of principal components.
    pub fn rank(&self) -> usize {
        self.basis.len() / self.mean.len()
    }

    /// Mixture weights π (K).
    pub fn weights(&self) -> Vec<f64> {
        self.components.iter().map(|c| c.weight).collect()
    }

    /// Residual variance σ² off the subspace.
    pub fn residual_variance(&self) -> f64 {
        self.residual_variance
    }

    /// Rebuilds a mixture from checkpoint tensors (names in the module docs).
    pub fn from_tensors(tensors: &HashMap<String, Tensor>) -> Result<GaussianMixture> {
        let get = |name: &str| -> Result<Vec<f32>> {
            let t = tensors.get(name).ok_or_else(|| {
                DensityError::Shape(format!("Gaussian mixture: tensor '{name}' is missing"))
            })?;
            Ok(t.flatten_all()?.to_vec1::<f32>()?)
        };
        let mean = get("gmm.mean")?;
        let basis = get("gmm.components")?;
        let residual = get("gmm.residual_variance")?;
        let weights = get("gmm.weights")?;
        let means = get("gmm.means")?;
        let covariances = get("gmm.covariances")?;
        let (d, kk) = (mean.len(), weights.len());
        let k = basis.len().checked_div(d).unwrap_or(0);
        if d == 0
            || k == 0
            || basis.len() != k * d
            || residual.len() != 1
            || residual[0] <= 0.0
            || kk == 0
            || means.len() != kk * k
            || covariances.len() != kk * k * k
        {
            return Err(DensityError::Shape(format!(
                "Gaussian mixture: inconsistent tensors (mean {d}, components {}, weights {kk}, \
                 means {}, covariances {})",
                basis.len(),
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
            mean,
            basis,
            residual_variance: residual[0] as f64,
            components,
        })
    }

    /// a = U (x − μ) and |r⊥|² = |x − μ|² − |a|².
    fn coordinates(&self, x: &[f32]) -> (DVector<f64>, f64) {
        let d = self.mean.len();
        assert_eq!(x.len(), d, "Gaussian mixture: x has the wrong dimension");
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
        (a, off)
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
        self.mean.len()
    }

    /// log p(x), normalised (includes every 2π and determinant term).
    fn log_density(&self, x: &[f32]) -> Result<f64> {
        let (a, off) = self.coordinates(x);
        let free = (self.mean.len() - self.rank()) as f64;
        let s2 = self.residual_variance;
        Ok(self.mixture_log_density(&a).0 - 0.5 * (off / s2 + free * (s2.ln() + LN_2PI)))
    }

    /// ∇ log p(x) = Uᵀ ∇ₐ log p_mix(a) − r⊥ / σ².
    fn grad_log_density(&self, x: &[f32]) -> Result<Vec<f32>> {
        let d = self.mean.len();
        let (a, _) = self.coordinates(x);
        let (_, grad_a) = self.mixture_log_density(&a);
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
        Ok(g.into_iter().map(|v| v as f32).collect())
    }
}

impl DensityModel for GaussianMixture {
    /// Picks a component by weight, draws a ~ N(mⱼ, Cⱼ) and an isotropic residual:
    /// x = μ + Uᵀ a + σ (ε − Uᵀ U ε).
    fn sample(&self, n: usize, seed: u64) -> Result<Vec<f32>> {
        let (d, k) = (self.mean.len(), self.rank());
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let sigma = self.residual_variance.sqrt();
        let mut out = Vec::with_capacity(n * d);
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
            let eps: Vec<f64> = (0..d).map(|_| StandardNormal.sample(&mut rng)).collect();
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
            out.extend(x.into_iter().map(|v| v as f32));
        }
        Ok(out)
    }

    fn to_tensors(&self, device: &Device) -> Result<Vec<(String, Tensor)>> {
        let (d, k, kk) = (self.mean.len(), self.rank(), self.components.len());
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
        Ok(vec![
            (
                "gmm.mean".into(),
                Tensor::from_slice(&self.mean, d, device)?,
            ),
            (
                "gmm.components".into(),
                Tensor::from_slice(&self.basis, (k, d), device)?,
            ),
            (
                "gmm.residual_variance".into(),
                Tensor::from_vec(vec![self.residual_variance as f32], 1, device)?,
            ),
            ("gmm.weights".into(), Tensor::from_vec(weights, kk, device)?),
            (
                "gmm.means".into(),
                Tensor::from_vec(means, (kk, k), device)?,
            ),
            (
                "gmm.covariances".into(),
                Tensor::from_vec(covariances, (kk, k, k), device)?,
            ),
        ])
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
