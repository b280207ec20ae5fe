//! Memorization criteria from nearest-neighbour distances: d1, d2, the ratio d1/d2 (memorised
//! below 1/3, Gu et al. 2023) and d1 / mean(d2..dk) with k = min(50, N) (memorised below 0.5,
//! Carlini et al. 2023, and below 0.7, Siahkoohi & Sabeddu 2026), and their summary.

use serde::{Deserialize, Serialize};

use super::knn::{Metric, Neighbours};
use crate::error::{MemorizationError, Result};

/// Gu et al.'s threshold on d1/d2.
pub const GU_RATIO: f64 = 1.0 / 3.0;
/// Carlini et al.'s threshold on d1 / mean(d2..dk).
pub const CARLINI_RATIO: f64 = 0.5;
/// Siahkoohi & Sabeddu's looser threshold on d1 / mean(d2..dk).
pub const SIAHKOOHI_RATIO: f64 = 0.7;
/// Neighbours used by the mean-ratio criterion (fewer when N is smaller).
pub const MEAN_RATIO_K: usize = 50;

/// Neighbours [`criteria`] needs for a training set of `n` models: min(50, N).
pub fn neighbours_needed(n: usize) -> usize {
    MEAN_RATIO_K.min(n)
}

/// The criteria of one generated model.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SampleCriteria {
    /// Index of the nearest training model.
    pub nn1: usize,
    /// Index of the second-nearest training model.
    pub nn2: usize,
    /// Distance to the nearest training model (normalised units).
    pub d1: f64,
    /// Distance to the second-nearest training model.
    pub d2: f64,
    /// d1 / d2.
    pub ratio: f64,
    /// d1 / mean(d2..dk).
    pub mean_ratio: f64,
    /// ratio < 1/3.
    pub gu: bool,
    /// mean_ratio < 0.5.
    pub carlini: bool,
    /// mean_ratio < 0.7.
    pub siahkoohi: bool,
}

/// Fractions and counts over all generated models.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CriteriaSummary {
    /// Generated models assessed.
    pub samples: usize,
    /// Neighbours per sample the mean ratio used (k).
    pub k: usize,
    /// Fraction memorised by d1/d2 < 1/3.
    pub fraction_gu: f64,
    /// Fraction memorised by d1 / mean(d2..dk) < 0.5.
    pub fraction_carlini: f64,
    /// Fraction memorised by d1 / mean(d2..dk) < 0.7.
    pub fraction_siahkoohi: f64,
    /// Distinct training models that are some sample's nearest neighbour.
    pub distinct_nn1: usize,
    /// Distinct training models that some sample flagged by d1/d2 < 1/3 copies.
    pub distinct_nn1_memorised: usize,
    /// Mean of d1.
    pub d1_mean: f64,
    /// Median of d1.
    pub d1_median: f64,
    /// Median of d1/d2.
    pub ratio_median: f64,
}

/// Criteria of every query of an L2 search with k ≥ 2 (k = min(50, N) for the mean ratio as
/// published).
pub fn criteria(nn: &Neighbours) -> Result<Vec<SampleCriteria>> {
    if nn.metric != Metric::L2 || nn.k < 2 {
        return Err(MemorizationError::invalid(format!(
            "memorization criteria need L2 distances to at least 2 neighbours (got {:?}, k = {}); \
             the training set needs 2 or more models",
            nn.metric, nn.k
        )));
    }
    Ok((0..nn.len())
        .map(|i| {
            let (idx, d) = nn.row(i);
            let ratio = safe_ratio(d[0], d[1]);
            let rest = d[1..].iter().sum::<f64>() / (d.len() - 1) as f64;
            let mean_ratio = safe_ratio(d[0], rest);
            SampleCriteria {
                nn1: idx[0],
                nn2: idx[1],
                d1: d[0],
                d2: d[1],
                ratio,
                mean_ratio,
                gu: ratio < GU_RATIO,
                carlini: mean_ratio < CARLINI_RATIO,
                siahkoohi: mean_ratio < SIAHKOOHI_RATIO,
            }
        })
        .collect())
}

/// a / b with a ≤ b, and 0 when b = 0 (then a = 0: an exact copy of a model that the
/// training set holds more than once).
fn safe_ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 { a / b } else { 0.0 }
}

/// Summary of per-sample criteria from a search with `k` neighbours.
pub fn summarise(per_sample: &[SampleCriteria], k: usize) -> CriteriaSummary {
    let n = per_sample.len().max(1) as f64;
    let frac =
        |f: fn(&SampleCriteria) -> bool| per_sample.iter().filter(|c| f(c)).count() as f64 / n;
    let distinct = |f: fn(&SampleCriteria) -> bool| {
        let mut v: Vec<usize> = per_sample.iter().filter(|c| f(c)).map(|c| c.nn1).collect();
        v.sort_unstable();
        v.dedup();
        v.len()
    };
    let d1: Vec<f64> = per_sample.iter().map(|c| c.d1).collect();
    let ratios: Vec<f64> = per_sample.iter().map(|c| c.ratio).collect();
    CriteriaSummary {
        samples: per_sample.len(),
        k,
        fraction_gu: frac(|c| c.gu),
        fraction_carlini: frac(|c| c.carlini),
        fraction_siahkoohi: frac(|c| c.siahkoohi),
        distinct_nn1: distinct(|_| true),
        distinct_nn1_memorised: distinct(|c| c.gu),
        d1_mean: d1.iter().sum::<f64>() / n,
        d1_median: median(&d1),
        ratio_median: median(&ratios),
    }
}

/// Median (mean of the two middle values for an even count; NaN when empty).
pub fn median(values: &[f64]) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        0.5 * (v[m - 1] + v[m])
    }
}
