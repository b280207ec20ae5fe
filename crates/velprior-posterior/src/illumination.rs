//! How strongly the data constrain each cell: the diagonal of the Gauss–Newton Hessian,
//! diag(JᵀJ) / s (J the operator's Jacobian in normalised units, s the likelihood scale). For
//! w ~ N(0, I), Jᵀw ~ N(0, JᵀJ), so E[(Jᵀw)²] = diag(JᵀJ) per cell: K probes give an estimate
//! with relative error √(2 / K) per cell, which a Gaussian blur of the map reduces further. Each
//! probe costs one adjoint solve (one forward solve keeps the wavefields for all). On surface seismic data it falls by two to
//! four orders of magnitude from the top of a 70×70 model to its bottom; it preconditions the
//! Gauss–Newton draws ([`crate::gauss_newton::gauss_newton_draw`]).

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use velprior_physics::ModelShape;
use velprior_physics::fwi::smooth::gaussian_smooth;

use crate::problem::Problem;
use crate::{PosteriorError, Result};

/// diag(JᵀJ) / s at `at` (normalised units), estimated from `probes` random data vectors
/// (seeded `seed`) and blurred by `smooth` cells (0: not blurred).
pub fn data_precision(
    problem: &Problem,
    at: &[f32],
    probes: usize,
    smooth: f32,
    seed: u64,
) -> Result<Vec<f32>> {
    if probes == 0 {
        return Err(PosteriorError::invalid(
            "data precision: probes must be >= 1 (e.g. 8)",
        ));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let linearised = problem.linearise(at)?;
    let mut sum = vec![0f64; at.len()];
    for _ in 0..probes {
        let w: Vec<f32> = (0..linearised.data().len())
            .map(|_| StandardNormal.sample(&mut rng))
            .collect();
        let g = linearised.adjoint(&w)?;
        for (s, &g) in sum.iter_mut().zip(&g) {
            *s += f64::from(g).powi(2);
        }
    }
    let scale = probes as f64 * problem.likelihood_scale;
    let h: Vec<f32> = sum.iter().map(|&s| (s / scale) as f32).collect();
    let [nz, nx] = problem.shape();
    Ok(gaussian_smooth(&h, ModelShape::new(nz, nx), smooth))
}

/// How much of each cell the data see, h / (h + `fade_below` · max h) for the data precision
/// h ([`data_precision`]): near 1 where the data constrain the cell well, near 0 where they
/// see it less than `fade_below` of the best-seen cell. Refused when the data see no cell.
pub fn seen_fraction(h: &[f32], fade_below: f32) -> Result<Vec<f64>> {
    let best_seen = h.iter().fold(0f64, |m, &v| m.max(f64::from(v)));
    if best_seen <= 0.0 {
        return Err(PosteriorError::invalid(
            "the data see no cell of the start model (diag(JᵀJ) is zero), so there is nothing to fade by illumination; check the operator",
        ));
    }
    let reference = f64::from(fade_below) * best_seen;
    Ok(h.iter()
        .map(|&v| f64::from(v) / (f64::from(v) + reference))
        .collect())
}
