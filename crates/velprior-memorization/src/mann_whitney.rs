//! The Mann–Whitney U test of two samples (e.g. nearest-neighbour distances of generated models
//! against those of held-out real models), with average ranks for ties and the tie-corrected
//! normal approximation with continuity correction (as scipy.stats.mannwhitneyu,
//! `method="asymptotic"`).

use serde::Serialize;

use crate::error::{MemorizationError, Result};

/// Result of [`mann_whitney`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct MannWhitney {
    /// U of the first sample: pairs (x, y) with x > y, plus half the ties.
    pub u: f64,
    /// P(x < y) + ½ P(x = y) = 1 − U / (n_x n_y): how often the first sample is the smaller.
    pub prob_x_smaller: f64,
    /// Normal-approximation z of U (tie-corrected variance, continuity correction).
    pub z: f64,
    /// Two-sided p-value from z.
    pub p_two_sided: f64,
}

/// Mann–Whitney U test of samples `x` and `y` (each at least one finite value).
pub fn mann_whitney(x: &[f64], y: &[f64]) -> Result<MannWhitney> {
    let (n1, n2) = (x.len(), y.len());
    if n1 == 0 || n2 == 0 || x.iter().chain(y).any(|v| !v.is_finite()) {
        return Err(MemorizationError::invalid(
            "Mann–Whitney test needs two non-empty samples of finite values",
        ));
    }
    let mut pooled: Vec<(f64, bool)> = x
        .iter()
        .map(|&v| (v, true))
        .chain(y.iter().map(|&v| (v, false)))
        .collect();
    pooled.sort_by(|a, b| a.0.total_cmp(&b.0));
    let n = pooled.len();
    let (mut rank_sum_x, mut tie_term) = (0.0, 0.0);
    let mut i = 0;
    while i < n {
        let mut j = i;
        while j < n && pooled[j].0 == pooled[i].0 {
            j += 1;
        }
        let avg_rank = (i + 1 + j) as f64 / 2.0;
        let in_x = pooled[i..j].iter().filter(|e| e.1).count();
        rank_sum_x += avg_rank * in_x as f64;
        let t = (j - i) as f64;
        tie_term += t * t * t - t;
        i = j;
    }
    let (f1, f2, nf) = (n1 as f64, n2 as f64, n as f64);
    let u = rank_sum_x - f1 * (f1 + 1.0) / 2.0;
    let mean = f1 * f2 / 2.0;
    let var = f1 * f2 / 12.0 * ((nf + 1.0) - tie_term / (nf * (nf - 1.0)));
    let u_big = u.max(f1 * f2 - u);
    let (z, p) = if var > 0.0 {
        let z = (u_big - mean - 0.5).max(0.0) / var.sqrt();
        (
            if u >= mean { z } else { -z },
            (2.0 * normal_sf(z)).min(1.0),
        )
    } else {
        (0.0, 1.0)
    };
    Ok(MannWhitney {
        u,
        prob_x_smaller: 1.0 - u / (f1 * f2),
        z,
        p_two_sided: p,
    })
}

/// Upper tail 1 − Φ(z) of the standard normal.
pub fn normal_sf(z: f64) -> f64 {
    0.5 * erfc(z / std::f64::consts::SQRT_2)
}

/// Complementary error function, relative error below 1.2e-7 everywhere (Numerical Recipes'
/// Chebyshev fit `erfcc`).
pub fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let r = t * poly.exp();
    if x >= 0.0 { r } else { 2.0 - r }
}
