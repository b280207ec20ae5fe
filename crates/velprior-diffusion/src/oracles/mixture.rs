//! The Gaussian-mixture oracle: the exact denoiser of x_0 ~ Σ_k w_k N(μ_k, Σ_k).

use candle_core::{Device, Tensor};
use nalgebra::DMatrix;

use super::{GaussianParts, batch_columns, to_tensor};
use crate::denoiser::{Denoiser, NoiseLevel};
use crate::{DiffusionError, Result};

/// Exact ε̂ for a Gaussian mixture over the D = C·H·W flattened values of a sample.
///
/// Each component noises to N(√ᾱ μ_k, C_k), C_k = ᾱΣ_k + (1 − ᾱ)I. With responsibilities
/// γ_k(x_t) = w_k N(x_t; √ᾱ μ_k, C_k) / Σ_j w_j N(x_t; √ᾱ μ_j, C_j) (log-sum-exp in f64), the
/// score is −Σ_k γ_k C_k⁻¹ (x_t − √ᾱ μ_k) and ε̂ = −√(1 − ᾱ) · score.
#[derive(Debug, Clone)]
pub struct GaussianMixtureOracle {
    /// The host: oracles compute in f64 with nalgebra.
    device: Device,
    log_weights: Vec<f64>,
    components: Vec<GaussianParts>,
}

impl GaussianMixtureOracle {
    /// A mixture of K components: `weights` (K, positive, normalised here to sum to 1),
    /// `means` (K vectors of length D), `covariances` (K matrices D × D row-major, symmetric
    /// positive semi-definite).
    pub fn new(weights: &[f64], means: &[Vec<f64>], covariances: &[Vec<f64>]) -> Result<Self> {
        let k = weights.len();
        if k == 0 || means.len() != k || covariances.len() != k {
            return Err(DiffusionError::invalid(format!(
                "GaussianMixtureOracle: need K > 0 weights, means and covariances, got {k}, {} and {}",
                means.len(),
                covariances.len()
            )));
        }
        if weights.iter().any(|w| !(*w > 0.0 && w.is_finite())) {
            return Err(DiffusionError::invalid(format!(
                "GaussianMixtureOracle: weights must be positive and finite, got {weights:?}"
            )));
        }
        let total: f64 = weights.iter().sum();
        let components = means
            .iter()
            .zip(covariances)
            .enumerate()
            .map(|(i, (m, c))| {
                GaussianParts::new(&format!("GaussianMixtureOracle component {i}"), m, c)
            })
            .collect::<Result<Vec<_>>>()?;
        let d = components[0].dim();
        if let Some(i) = components.iter().position(|c| c.dim() != d) {
            return Err(DiffusionError::invalid(format!(
                "GaussianMixtureOracle: component {i} has dimension {}, component 0 has {d}",
                components[i].dim()
            )));
        }
        Ok(GaussianMixtureOracle {
            device: Device::Cpu, // host: computed with nalgebra in f64
            log_weights: weights.iter().map(|w| (w / total).ln()).collect(),
            components,
        })
    }

    /// D, the values per sample.
    pub fn dim(&self) -> usize {
        self.components[0].dim()
    }

    /// The normalised weights w_k.
    pub fn weights(&self) -> Vec<f64> {
        self.log_weights.iter().map(|l| l.exp()).collect()
    }

    /// The means μ_k.
    pub fn means(&self) -> Vec<Vec<f64>> {
        self.components
            .iter()
            .map(|c| c.mean.as_slice().to_vec())
            .collect()
    }
}

impl Denoiser for GaussianMixtureOracle {
    fn device(&self) -> &Device {
        &self.device
    }

    /// x_t (N, ...) with D values per sample → ε̂ = √(1 − ᾱ) Σ_k γ_k C_k⁻¹ (x_t − √ᾱ μ_k).
    fn predict_eps(&self, x_t: &Tensor, levels: &[NoiseLevel]) -> Result<Tensor> {
        let x = batch_columns("GaussianMixtureOracle", x_t, levels, self.dim())?;
        let parts: Vec<(DMatrix<f64>, Vec<f64>)> = self
            .components
            .iter()
            .map(|c| c.precision_residual(&x, levels))
            .collect();
        let mut eps = DMatrix::zeros(x.nrows(), x.ncols());
        for (j, l) in levels.iter().enumerate() {
            let logits: Vec<f64> = parts
                .iter()
                .zip(&self.log_weights)
                .map(|((_, lp), lw)| lw + lp[j])
                .collect();
            let max = logits.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let w: Vec<f64> = logits.iter().map(|v| (v - max).exp()).collect();
            let z: f64 = w.iter().sum();
            let mut col = eps.column_mut(j);
            for ((p, _), wk) in parts.iter().zip(&w) {
                col.axpy(l.sigma() * wk / z, &p.column(j), 1.0);
            }
        }
        to_tensor(eps, x_t)
    }
}
