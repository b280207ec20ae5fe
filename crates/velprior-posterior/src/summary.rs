//! Posterior statistics of a set of samples: pixelwise mean and standard deviation, error and
//! z-score maps, ±1σ / ±2σ coverage of the truth, image metrics of the mean.

use serde::Serialize;
use velprior_physics::{Metrics, ModelShape, velocity_metrics};

use crate::{PosteriorError, Result};

/// Pixelwise statistics of N samples of shape (H, W), in m/s.
#[derive(Debug, Clone)]
pub struct PosteriorSummary {
    pub shape: [usize; 2],
    /// Posterior mean (m/s), H · W.
    pub mean: Vec<f32>,
    /// Posterior standard deviation (m/s, 1/(N − 1) normalisation; 0 for N = 1).
    pub std: Vec<f32>,
    /// Statistics against the truth, when one is known.
    pub truth: Option<TruthStats>,
}

/// How the posterior compares with the true model.
#[derive(Debug, Clone)]
pub struct TruthStats {
    /// |mean − truth| (m/s).
    pub abs_error: Vec<f32>,
    /// (truth − mean)/std, 0 where std = 0.
    pub z_score: Vec<f32>,
    pub scores: TruthScores,
}

/// The scalar scores of [`TruthStats`], for metrics JSON.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct TruthScores {
    /// SSIM / MAE / RMSE of the mean against the truth (RED-DiffEq style, normalised units).
    pub mean_metrics: Metrics,
    /// Fraction of pixels with |truth − mean| ≤ std.
    pub within_1sigma: f64,
    /// Fraction of pixels with |truth − mean| ≤ 2 std.
    pub within_2sigma: f64,
    /// Mean posterior std (m/s).
    pub mean_std: f64,
}

impl PosteriorSummary {
    /// Statistics of `samples` (N models of `shape`, m/s, concatenated) and the truth (m/s).
    pub fn new(samples: &[f32], shape: [usize; 2], truth: Option<&[f32]>) -> Result<Self> {
        let d = shape[0] * shape[1];
        if d == 0 || samples.is_empty() || !samples.len().is_multiple_of(d) {
            return Err(PosteriorError::invalid(format!(
                "summary: {} values are not whole models of {}x{}",
                samples.len(),
                shape[0],
                shape[1]
            )));
        }
        let n = samples.len() / d;
        let mut mean = vec![0f64; d];
        let mut m2 = vec![0f64; d];
        for s in samples.chunks(d) {
            s.iter()
                .zip(&mut mean)
                .for_each(|(&v, m)| *m += f64::from(v) / n as f64);
        }
        for s in samples.chunks(d) {
            s.iter()
                .zip(&mean)
                .zip(&mut m2)
                .for_each(|((&v, m), q)| *q += (f64::from(v) - m).powi(2));
        }
        let std: Vec<f32> = m2
            .iter()
            .map(|q| {
                if n > 1 {
                    (q / (n - 1) as f64).sqrt() as f32
                } else {
                    0.0
                }
            })
            .collect();
        let mean: Vec<f32> = mean.iter().map(|&m| m as f32).collect();
        let truth = truth
            .map(|t| truth_stats(&mean, &std, t, shape))
            .transpose()?;
        Ok(PosteriorSummary {
            shape,
            mean,
            std,
            truth,
        })
    }
}

fn truth_stats(mean: &[f32], std: &[f32], truth: &[f32], shape: [usize; 2]) -> Result<TruthStats> {
    if truth.len() != mean.len() {
        return Err(PosteriorError::invalid(format!(
            "summary: the truth has {} values, the samples {}",
            truth.len(),
            mean.len()
        )));
    }
    let d = mean.len() as f64;
    let (mut c1, mut c2) = (0usize, 0usize);
    let mut abs_error = Vec::with_capacity(mean.len());
    let mut z_score = Vec::with_capacity(mean.len());
    for ((&m, &s), &t) in mean.iter().zip(std).zip(truth) {
        let e = (t - m).abs();
        c1 += usize::from(e <= s);
        c2 += usize::from(e <= 2.0 * s);
        abs_error.push(e);
        z_score.push(if s > 0.0 { (t - m) / s } else { 0.0 });
    }
    let mean_metrics = velocity_metrics(mean, truth, ModelShape::new(shape[0], shape[1]))?;
    Ok(TruthStats {
        abs_error,
        z_score,
        scores: TruthScores {
            mean_metrics,
            within_1sigma: c1 as f64 / d,
            within_2sigma: c2 as f64 / d,
            mean_std: std.iter().map(|&s| f64::from(s)).sum::<f64>() / d,
        },
    })
}
