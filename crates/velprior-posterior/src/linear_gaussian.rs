//! The exact posterior of a Gaussian prior under a linear forward operator with Gaussian noise:
//! the reference against which any sampler of such a case is checked (Tarantola 2005, §3.2).
//!
//! Prior x ~ N(μ, Σ) (normalised units); data d = G x + g₀ + ε with G x + g₀ = F(v(x)) (F linear
//! in m/s, v affine) and ε ~ N(0, s² I), s² the problem's likelihood scale, so that the
//! negative log-likelihood is ½‖F(v(x)) − d‖² / s² (the L2 misfit). Samples are drawn by
//! perturbation (Matheron's rule): x_p ~ N(μ, Σ), d_p = G x_p + g₀ + s ε, and
//! x = x_p + Σ Gᵀ (G Σ Gᵀ + s² I)⁻¹ (d − d_p), which is exactly N(posterior mean, posterior
//! covariance); one Cholesky factor of the n × n data-space matrix serves every sample.

use nalgebra::{DMatrix, DVector};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};
use velprior_density::{DensityModel, GaussianPrior};

use crate::problem::Problem;
use crate::{PosteriorError, Result};

/// Settings of the exact linear-Gaussian posterior (`[method] kind = "linear-gaussian"`).
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinearGaussianConfig {
    /// Independent posterior samples.
    pub samples: usize,
}

/// Largest n · D the dense operator matrix may hold (8·10⁷ values, 640 MB of f64).
const MAX_MATRIX: usize = 80_000_000;

/// `samples` exact posterior samples (normalised, concatenated) of `prior` given `problem`.
/// Errors unless the problem's operator is linear (checked on random models) and its misfit L2.
pub fn linear_gaussian(
    prior: &GaussianPrior,
    problem: &Problem,
    samples: usize,
    seed: u64,
) -> Result<Vec<f32>> {
    let (d, n) = (problem.dim(), problem.operator.data_len());
    if prior.dim() != d {
        return Err(PosteriorError::invalid(format!(
            "linear-gaussian: the prior has {} values per model, the operator takes {d}",
            prior.dim()
        )));
    }
    if n.saturating_mul(d) > MAX_MATRIX {
        return Err(PosteriorError::invalid(format!(
            "linear-gaussian: the operator matrix would hold {n} × {d} values (at most \
             {MAX_MATRIX}); use a smaller model or fewer data"
        )));
    }
    let g_of = |x: &[f32]| -> Result<DVector<f64>> {
        let data = problem.operator.forward(&problem.to_velocity(x))?;
        Ok(DVector::from_iterator(n, data.into_iter().map(f64::from)))
    };
    check_l2(problem)?;
    // G column by column (G e_i = F(v(e_i)) − F(v(0))), and g₀ = F(v(0)).
    let g0 = g_of(&vec![0.0; d])?;
    let mut g = DMatrix::<f64>::zeros(n, d);
    let mut e = vec![0f32; d];
    for i in 0..d {
        e[i] = 1.0;
        g.set_column(i, &(g_of(&e)? - &g0));
        e[i] = 0.0;
    }
    check_linear(&g, &g0, &g_of, d, seed)?;

    // Σ Gᵀ = r Gᵀ + Uᵀ diag(λ − r) (U Gᵀ), U the k × D principal components.
    let (k, r) = (prior.rank(), prior.residual_variance());
    let u = DMatrix::from_row_slice(k, d, prior.components()).map(f64::from);
    let mut ug = &u * g.transpose();
    for (mut row, l) in ug.row_iter_mut().zip(prior.eigenvalues()) {
        row *= l - r;
    }
    let sigma_gt = g.transpose() * r + u.transpose() * ug;
    let s2 = problem.likelihood_scale;
    let k_mat = &g * &sigma_gt + DMatrix::identity(n, n) * s2;
    let chol = k_mat.cholesky().ok_or_else(|| {
        PosteriorError::invalid("linear-gaussian: G Σ Gᵀ + s² I is not positive definite")
    })?;
    let observed = DVector::from_iterator(n, problem.observed.iter().map(|&v| f64::from(v)));

    let prior_draws = prior.sample(samples, seed)?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed.wrapping_add(0x9e37_79b9_7f4a_7c15));
    let mut out = Vec::with_capacity(samples * d);
    for x_p in prior_draws.chunks(d) {
        let xp = DVector::from_iterator(d, x_p.iter().map(|&v| f64::from(v)));
        let noise = DVector::from_fn(n, |_, _| {
            let e: f64 = StandardNormal.sample(&mut rng);
            s2.sqrt() * e
        });
        let residual = &observed - (&g * &xp + &g0 + noise);
        let x = xp + &sigma_gt * chol.solve(&residual);
        out.extend(x.iter().map(|&v| v as f32));
    }
    Ok(out)
}

/// The misfit must be ½‖r‖² (Gaussian noise): a unit residual in one datum must cost ½.
fn check_l2(problem: &Problem) -> Result<()> {
    let v = problem.to_velocity(&vec![0.0; problem.dim()]);
    let mut shifted = problem.operator.forward(&v)?;
    if let Some(first) = shifted.first_mut() {
        *first += 1.0;
    }
    let f = problem.operator.misfit(&v, &shifted)?;
    if (f - 0.5).abs() > 1e-3 {
        return Err(PosteriorError::invalid(
            "linear-gaussian needs the L2 misfit (Gaussian noise): set misfit = \"l2\"",
        ));
    }
    Ok(())
}

/// G must describe F: on two random models G(a + b) = G a + G b + g₀ to f32 rounding.
fn check_linear(
    g: &DMatrix<f64>,
    g0: &DVector<f64>,
    g_of: &dyn Fn(&[f32]) -> Result<DVector<f64>>,
    d: usize,
    seed: u64,
) -> Result<()> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let x: Vec<f32> = (0..d)
        .map(|_| {
            let e: f32 = StandardNormal.sample(&mut rng);
            0.3 * e
        })
        .collect();
    let predicted = g * DVector::from_iterator(d, x.iter().map(|&v| f64::from(v))) + g0;
    let actual = g_of(&x)?;
    let scale = actual.norm().max(g0.norm()).max(f64::MIN_POSITIVE);
    if (predicted - actual).norm() > 1e-4 * scale {
        return Err(PosteriorError::invalid(
            "linear-gaussian needs a linear forward operator (well logs, blur); the wave \
             equation is not: use mala, dps or red-diff",
        ));
    }
    Ok(())
}
