//! Image metrics as RED-DiffEq computes them: velocities mapped to [−1, 1] by
//! (v − 1500)/3000·2 − 1; MAE and RMSE on [−1, 1]; SSIM on [0, 1] with an 11×11 Gaussian
//! window (σ = 1.5), zero padding, C1 = 0.01², C2 = 0.03², averaged over the map.

use crate::error::{PhysicsError, Result};
use crate::geometry::ModelShape;

/// The velocity range (m/s) RED-DiffEq's protocol maps to [−1, 1]. It is part of the metrics'
/// definition, fixed whatever a prior's normalisation, so that scores compare with published
/// ones.
pub const PROTOCOL_RANGE: (f32, f32) = (1500.0, 4500.0);

/// Velocity (m/s) → RED-DiffEq's normalised value in [−1, 1] for v in [`PROTOCOL_RANGE`].
pub fn normalise_velocity(v: f32) -> f32 {
    let (lo, hi) = PROTOCOL_RANGE;
    (v - lo) / (hi - lo) * 2.0 - 1.0
}

/// MAE, RMSE and SSIM of a model against a truth.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Metrics {
    pub ssim: f64,
    pub mae: f64,
    pub rmse: f64,
}

fn check(shape: ModelShape, a: &[f32], b: &[f32]) -> Result<()> {
    for (what, x) in [("metric input", a), ("metric reference", b)] {
        if x.len() != shape.len() {
            return Err(PhysicsError::Shape {
                what,
                expected: shape.len(),
                got: x.len(),
            });
        }
    }
    Ok(())
}

/// Mean absolute error of two maps already in normalised units.
pub fn mae(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| f64::from((x - y).abs()))
        .sum::<f64>()
        / a.len().max(1) as f64
}

/// Root-mean-square error of two maps already in normalised units.
pub fn rmse(a: &[f32], b: &[f32]) -> f64 {
    (a.iter()
        .zip(b)
        .map(|(x, y)| f64::from(x - y).powi(2))
        .sum::<f64>()
        / a.len().max(1) as f64)
        .sqrt()
}

/// Root mean square of `x` (0 for an empty slice): the scale that relative noise levels
/// multiply.
pub fn rms(x: &[f32]) -> f64 {
    (x.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / x.len().max(1) as f64).sqrt()
}

/// Separable 'same' convolution with zero padding of an (nz, nx) map by a 1-D kernel.
fn blur(x: &[f64], shape: ModelShape, w: &[f64]) -> Vec<f64> {
    let (nz, nx, h) = (shape.nz, shape.nx, w.len() / 2);
    let mut tmp = vec![0.0; nz * nx];
    for i in 0..nz {
        for j in 0..nx {
            tmp[i * nx + j] = (0..w.len())
                .filter_map(|k| {
                    (j + k)
                        .checked_sub(h)
                        .filter(|&jj| jj < nx)
                        .map(|jj| w[k] * x[i * nx + jj])
                })
                .sum();
        }
    }
    let mut out = vec![0.0; nz * nx];
    for i in 0..nz {
        for j in 0..nx {
            out[i * nx + j] = (0..w.len())
                .filter_map(|k| {
                    (i + k)
                        .checked_sub(h)
                        .filter(|&ii| ii < nz)
                        .map(|ii| w[k] * tmp[ii * nx + j])
                })
                .sum();
        }
    }
    out
}

/// SSIM of two maps with values in [0, 1] (pytorch-ssim convention, window 11, σ = 1.5).
pub fn ssim(a: &[f32], b: &[f32], shape: ModelShape) -> f64 {
    let w: Vec<f64> = (0..11)
        .map(|k| (-((k as f64 - 5.0).powi(2)) / (2.0 * 1.5 * 1.5)).exp())
        .collect();
    let s: f64 = w.iter().sum();
    let w: Vec<f64> = w.iter().map(|x| x / s).collect();
    let a: Vec<f64> = a.iter().map(|&x| f64::from(x)).collect();
    let b: Vec<f64> = b.iter().map(|&x| f64::from(x)).collect();
    let prod = |p: &[f64], q: &[f64]| p.iter().zip(q).map(|(x, y)| x * y).collect::<Vec<f64>>();
    let (m1, m2) = (blur(&a, shape, &w), blur(&b, shape, &w));
    let (s11, s22, s12) = (
        blur(&prod(&a, &a), shape, &w),
        blur(&prod(&b, &b), shape, &w),
        blur(&prod(&a, &b), shape, &w),
    );
    let (c1, c2) = (0.01f64.powi(2), 0.03f64.powi(2));
    let n = a.len();
    (0..n)
        .map(|i| {
            let (mu1, mu2) = (m1[i], m2[i]);
            let (v1, v2, cv) = (s11[i] - mu1 * mu1, s22[i] - mu2 * mu2, s12[i] - mu1 * mu2);
            ((2.0 * mu1 * mu2 + c1) * (2.0 * cv + c2))
                / ((mu1 * mu1 + mu2 * mu2 + c1) * (v1 + v2 + c2))
        })
        .sum::<f64>()
        / n.max(1) as f64
}

/// Metrics of maps already normalised to [−1, 1] (SSIM computed on (x + 1)/2).
pub fn metrics_normalised(x: &[f32], truth: &[f32], shape: ModelShape) -> Result<Metrics> {
    check(shape, x, truth)?;
    let to01 = |v: &[f32]| v.iter().map(|x| (x + 1.0) / 2.0).collect::<Vec<f32>>();
    Ok(Metrics {
        ssim: ssim(&to01(x), &to01(truth), shape),
        mae: mae(x, truth),
        rmse: rmse(x, truth),
    })
}

/// Metrics of a velocity model (m/s) against a true model (m/s), RED-DiffEq normalisation.
pub fn velocity_metrics(v: &[f32], truth: &[f32], shape: ModelShape) -> Result<Metrics> {
    let n = |v: &[f32]| {
        v.iter()
            .map(|&x| normalise_velocity(x))
            .collect::<Vec<f32>>()
    };
    metrics_normalised(&n(v), &n(truth), shape)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_maps_have_ssim_one_and_zero_error() {
        let s = ModelShape::new(12, 15);
        let v: Vec<f32> = (0..s.len())
            .map(|i| 1500.0 + (i * 37 % 3000) as f32)
            .collect();
        let m = velocity_metrics(&v, &v, s).unwrap();
        assert!((m.ssim - 1.0).abs() < 1e-12 && m.mae == 0.0 && m.rmse == 0.0);
        let w: Vec<f32> = v.iter().map(|x| x + 300.0).collect();
        let m = velocity_metrics(&w, &v, s).unwrap();
        assert!((m.mae - 0.2).abs() < 1e-6 && (m.rmse - 0.2).abs() < 1e-6 && m.ssim < 1.0);
        assert!(velocity_metrics(&w[1..], &v, s).is_err());
    }
}
