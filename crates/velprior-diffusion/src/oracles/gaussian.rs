//! The Gaussian oracle: the exact denoiser of x_0 ~ N(μ, Σ).

use candle_core::{Device, Tensor};
use nalgebra::DMatrix;

use super::{GaussianParts, batch_columns, to_tensor};
use crate::Result;
use crate::denoiser::{Denoiser, NoiseLevel};

/// Exact ε̂ for x_0 ~ N(μ, Σ) over the D = C·H·W flattened values of a sample.
///
/// The noised marginal is x_t ~ N(√ᾱ μ, ᾱΣ + (1 − ᾱ)I), so
/// score = −(ᾱΣ + (1 − ᾱ)I)⁻¹ (x_t − √ᾱ μ) and ε̂ = −√(1 − ᾱ) · score. Σ = U diag(λ) Uᵀ is
/// factored once (nalgebra `SymmetricEigen`); each call costs two D × D products per sample, in
/// f64. Σ may be singular (λ = 0 directions are fine for ᾱ < 1).
#[derive(Debug, Clone)]
pub struct GaussianOracle {
    /// The host: oracles compute in f64 with nalgebra.
    device: Device,
    parts: GaussianParts,
}

impl GaussianOracle {
    /// N(μ, Σ) with `mean` of length D and `covariance` D × D row-major, symmetric positive
    /// semi-definite.
    pub fn new(mean: &[f64], covariance: &[f64]) -> Result<Self> {
        Ok(GaussianOracle {
            device: Device::Cpu, // host: computed with nalgebra in f64
            parts: GaussianParts::new("GaussianOracle", mean, covariance)?,
        })
    }

    /// N(μ, s² I).
    pub fn isotropic(mean: &[f64], std: f64) -> Result<Self> {
        let d = mean.len();
        let cov = DMatrix::from_diagonal_element(d, d, std * std);
        Self::new(mean, cov.as_slice())
    }

    /// D, the values per sample.
    pub fn dim(&self) -> usize {
        self.parts.dim()
    }

    /// μ (length D).
    pub fn mean(&self) -> Vec<f64> {
        self.parts.mean.as_slice().to_vec()
    }

    /// Σ, D × D row-major.
    pub fn covariance(&self) -> Vec<f64> {
        self.parts.cov.transpose().as_slice().to_vec()
    }

    /// The eigenvalues λ of Σ (clamped at 0), in nalgebra's order.
    pub fn eigenvalues(&self) -> Vec<f64> {
        self.parts.values.as_slice().to_vec()
    }
}

impl Denoiser for GaussianOracle {
    fn device(&self) -> &Device {
        &self.device
    }

    /// x_t (N, ...) with D values per sample → ε̂ = √(1 − ᾱ) (ᾱΣ + (1 − ᾱ)I)⁻¹ (x_t − √ᾱ μ).
    fn predict_eps(&self, x_t: &Tensor, levels: &[NoiseLevel]) -> Result<Tensor> {
        let x = batch_columns("GaussianOracle", x_t, levels, self.dim())?;
        let (mut eps, _) = self.parts.precision_residual(&x, levels);
        for (mut col, l) in eps.column_iter_mut().zip(levels) {
            col *= l.sigma();
        }
        to_tensor(eps, x_t)
    }
}
