//! Analytic oracles: denoisers whose ε̂(x_t, t) is exact because p(x_0) is known in closed form,
//! so samplers and posterior methods can be tested against the true distribution.
//!
//! - [`GaussianOracle`]: x_0 ~ N(μ, Σ).
//! - [`GaussianMixtureOracle`]: x_0 ~ Σ_k w_k N(μ_k, Σ_k).
//! - [`EmpiricalOracle`]: x_0 uniform on a finite training set (the optimal denoiser of that
//!   set, which memorises it perfectly).
//!
//! All work on the flattened D = C·H·W values of each sample, in f64, and return ε̂ in the
//! dtype and on the device of x_t.

mod empirical;
mod gaussian;
mod mixture;

pub use empirical::EmpiricalOracle;
pub use gaussian::GaussianOracle;
pub use mixture::GaussianMixtureOracle;

use candle_core::{DType, Tensor};
use nalgebra::{DMatrix, DVector, SymmetricEigen};

use crate::denoiser::{NoiseLevel, check_levels};
use crate::{DiffusionError, Result};

/// x_t (N, ...) as a D × N column-major f64 matrix (one column per sample), after checking the
/// levels and that D = `dim`.
fn batch_columns(
    op: &str,
    x_t: &Tensor,
    levels: &[NoiseLevel],
    dim: usize,
) -> Result<DMatrix<f64>> {
    let (n, d) = check_levels(op, x_t, levels)?;
    if d != dim {
        return Err(DiffusionError::invalid(format!(
            "{op}: x_t {:?} has {d} values per sample, the oracle models {dim}",
            x_t.dims()
        )));
    }
    let v = x_t.to_dtype(DType::F64)?.flatten_all()?.to_vec1::<f64>()?;
    Ok(DMatrix::from_vec(d, n, v))
}

/// A D × N column-major matrix back to a tensor of x_t's shape, dtype and device.
fn to_tensor(m: DMatrix<f64>, like: &Tensor) -> Result<Tensor> {
    let data: Vec<f64> = m.data.into();
    Ok(Tensor::from_vec(data, like.dims(), like.device())?.to_dtype(like.dtype())?)
}

/// One Gaussian N(μ, Σ) with Σ = U diag(λ) Uᵀ precomputed: evaluates, for x_t with marginal
/// N(√ᾱ μ, C) and C = ᾱΣ + (1 − ᾱ)I, the whitened residual and the log-density.
#[derive(Debug, Clone)]
struct GaussianParts {
    mean: DVector<f64>,
    /// Σ (kept for accessors).
    cov: DMatrix<f64>,
    /// U, columns the eigenvectors of Σ.
    vectors: DMatrix<f64>,
    /// λ ≥ 0 (tiny negative rounding clamped to 0).
    values: DVector<f64>,
}

impl GaussianParts {
    /// Checks μ (D) and Σ (D × D row-major, symmetric positive semi-definite) and factors Σ.
    fn new(what: &str, mean: &[f64], cov: &[f64]) -> Result<GaussianParts> {
        let d = mean.len();
        let bad = |m: String| Err(DiffusionError::invalid(format!("{what}: {m}")));
        if d == 0 || cov.len() != d * d {
            return bad(format!(
                "covariance has {} values, need {d}×{d} = {} for a mean of length {d} (> 0)",
                cov.len(),
                d * d
            ));
        }
        if mean.iter().chain(cov).any(|v| !v.is_finite()) {
            return bad("mean and covariance must be finite".into());
        }
        let cov = DMatrix::from_row_slice(d, d, cov);
        let scale = cov.amax().max(f64::MIN_POSITIVE);
        if (&cov - cov.transpose()).amax() > 1e-9 * scale {
            return bad("covariance is not symmetric".into());
        }
        let eig = SymmetricEigen::new(cov.clone());
        let min = eig.eigenvalues.min();
        if min < -1e-9 * scale {
            return bad(format!(
                "covariance is not positive semi-definite (eigenvalue {min:e})"
            ));
        }
        Ok(GaussianParts {
            mean: DVector::from_column_slice(mean),
            cov,
            vectors: eig.eigenvectors,
            values: eig.eigenvalues.map(|l| l.max(0.0)),
        })
    }

    fn dim(&self) -> usize {
        self.mean.len()
    }

    /// For each column x of `x` at its level: C⁻¹ (x − √ᾱ μ) (a D × N matrix, the negative score
    /// of this component) and ln N(x; √ᾱ μ, C) (without the −D/2 ln 2π constant).
    fn precision_residual(
        &self,
        x: &DMatrix<f64>,
        levels: &[NoiseLevel],
    ) -> (DMatrix<f64>, Vec<f64>) {
        let mut r = x.clone();
        for (mut col, l) in r.column_iter_mut().zip(levels) {
            col.axpy(-l.alpha_bar.sqrt(), &self.mean, 1.0);
        }
        // y = Uᵀ r, then y_i / (ᾱ λ_i + 1 − ᾱ): C⁻¹ = U diag(1/(ᾱλ + 1 − ᾱ)) Uᵀ.
        let mut y = self.vectors.tr_mul(&r);
        let mut logp = Vec::with_capacity(levels.len());
        for (mut col, l) in y.column_iter_mut().zip(levels) {
            let (ab, omab) = (l.alpha_bar, 1.0 - l.alpha_bar);
            let (mut quad, mut logdet) = (0.0, 0.0);
            for (yi, &lam) in col.iter_mut().zip(self.values.iter()) {
                let c = ab * lam + omab;
                quad += *yi * *yi / c;
                logdet += c.ln();
                *yi /= c;
            }
            logp.push(-0.5 * (quad + logdet));
        }
        (&self.vectors * y, logp)
    }
}
