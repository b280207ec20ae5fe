//! Pooled calibration of posterior bands over many held-out models: the fraction of true pixels
//! inside mean ± z_q·std at each nominal level q (the calibration curve: the diagonal when the
//! sampler is calibrated, below it when over-confident), and the RMS error of the posterior mean
//! in bins of the posterior std (error vs std: the diagonal again, since a calibrated std is the
//! typical size of the error), and both by depth (surface data constrain the shallow cells, so
//! a posterior can be calibrated overall yet too narrow at depth).

use serde::Serialize;

/// Nominal central coverage levels q of the curve with z = Φ⁻¹((1 + q)/2) (the half-width of
/// the central interval of N(0, 1) holding q).
pub const LEVELS: [(f64, f64); 11] = [
    (0.1, 0.125_661),
    (0.2, 0.253_347),
    (0.3, 0.385_320),
    (0.4, 0.524_401),
    (0.5, 0.674_490),
    (0.6, 0.841_621),
    (0.7, 1.036_433),
    (0.8, 1.281_552),
    (0.9, 1.644_854),
    (0.95, 1.959_964),
    (0.99, 2.575_829),
];

/// One point of the calibration curve.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct CurvePoint {
    /// Nominal coverage q of the band mean ± Φ⁻¹((1 + q)/2)·std.
    pub nominal: f64,
    /// Fraction of true pixels inside it.
    pub observed: f64,
}

/// Pixels whose posterior std falls in one bin.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct StdBin {
    /// Mean posterior std of the bin (m/s).
    pub mean_std: f64,
    /// RMS of truth − posterior mean over the bin (m/s).
    pub rms_error: f64,
    /// Pixels in the bin.
    pub pixels: usize,
}

/// The pixels of one band of rows (depths), all models pooled.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct DepthBand {
    /// First row of the band (0 at the surface).
    pub first_row: usize,
    /// One past its last row.
    pub end_row: usize,
    /// Fraction of true pixels within ±1σ.
    pub within_1sigma: f64,
    /// Fraction within ±2σ.
    pub within_2sigma: f64,
    /// Mean posterior std (m/s).
    pub mean_std: f64,
    /// RMS of truth − posterior mean (m/s).
    pub rms_error: f64,
}

/// Collects (|truth − mean|, std) of every pixel of every model, with the pixel's row.
#[derive(Debug, Clone, Default)]
pub struct PooledCoverage {
    pairs: Vec<(f32, f32)>,
    rows: Vec<u32>,
    nz: usize,
}

impl PooledCoverage {
    /// Adds the pixels of one model of `nz` rows (posterior mean and std, truth; m/s, row-major,
    /// equal lengths, a multiple of `nz`).
    pub fn add(&mut self, mean: &[f32], std: &[f32], truth: &[f32], nz: usize) {
        let nx = (mean.len() / nz.max(1)).max(1);
        self.nz = self.nz.max(nz);
        self.pairs.extend(
            mean.iter()
                .zip(std)
                .zip(truth)
                .map(|((&m, &s), &t)| ((t - m).abs(), s)),
        );
        self.rows.extend((0..mean.len()).map(|p| (p / nx) as u32));
    }

    /// Coverage, std and error in `bands` bands of (about) equal rows, from the surface down
    /// (empty before any pixel).
    pub fn by_depth(&self, bands: usize) -> Vec<DepthBand> {
        let bands = bands.clamp(1, self.nz.max(1));
        let height = self.nz.div_ceil(bands);
        (0..self.nz)
            .step_by(height.max(1))
            .map(|first| {
                let end = (first + height).min(self.nz);
                let band: Vec<(f32, f32)> = self
                    .pairs
                    .iter()
                    .zip(&self.rows)
                    .filter(|&(_, &r)| (first..end).contains(&(r as usize)))
                    .map(|(&p, _)| p)
                    .collect();
                let n = band.len().max(1) as f64;
                let within = |z: f32| band.iter().filter(|&&(e, s)| e <= z * s).count() as f64 / n;
                DepthBand {
                    first_row: first,
                    end_row: end,
                    within_1sigma: within(1.0),
                    within_2sigma: within(2.0),
                    mean_std: band.iter().map(|p| f64::from(p.1)).sum::<f64>() / n,
                    rms_error: (band.iter().map(|p| f64::from(p.0).powi(2)).sum::<f64>() / n)
                        .sqrt(),
                }
            })
            .collect()
    }

    /// The calibration curve at [`LEVELS`] (empty before any pixel).
    pub fn curve(&self) -> Vec<CurvePoint> {
        if self.pairs.is_empty() {
            return Vec::new();
        }
        let n = self.pairs.len() as f64;
        LEVELS
            .iter()
            .map(|&(nominal, z)| {
                let inside = self
                    .pairs
                    .iter()
                    .filter(|&&(e, s)| f64::from(e) <= z * f64::from(s))
                    .count();
                CurvePoint {
                    nominal,
                    observed: inside as f64 / n,
                }
            })
            .collect()
    }

    /// RMS error against the std in `bins` bins of (about) equal pixel count, by increasing std.
    pub fn error_vs_std(&self, bins: usize) -> Vec<StdBin> {
        let mut sorted = self.pairs.clone();
        sorted.sort_by(|a, b| a.1.total_cmp(&b.1));
        let bins = bins.clamp(1, sorted.len().max(1));
        let size = sorted.len().div_ceil(bins).max(1);
        sorted
            .chunks(size)
            .map(|c| {
                let n = c.len() as f64;
                StdBin {
                    mean_std: c.iter().map(|p| f64::from(p.1)).sum::<f64>() / n,
                    rms_error: (c.iter().map(|p| f64::from(p.0).powi(2)).sum::<f64>() / n).sqrt(),
                    pixels: c.len(),
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;
    use rand_distr::{Distribution, StandardNormal};

    use super::*;

    /// Errors drawn from N(0, std²) with five stds over the pixels: a calibrated posterior.
    /// With 200,000 pixels each observed fraction is within 0.003 (3 standard errors) of its
    /// level, and each bin's RMS error within 3 % of its std. Catches a wrong z (Φ⁻¹(q) in place
    /// of Φ⁻¹((1 + q)/2): 0.6 → 0.26), bins not sorted by std, and a mean in place of an RMS
    /// (√(2/π) = 0.80 of the std).
    #[test]
    fn a_calibrated_posterior_lies_on_the_diagonal() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut pooled = PooledCoverage::default();
        for k in 0..200 {
            let std: Vec<f32> = (0..1000).map(|i| 10.0 + (i % 5) as f32 * 40.0).collect();
            let truth: Vec<f32> = std
                .iter()
                .map(|&s| {
                    let e: f32 = StandardNormal.sample(&mut rng);
                    2000.0 + k as f32 + s * e
                })
                .collect();
            let mean: Vec<f32> = (0..1000).map(|_| 2000.0 + k as f32).collect();
            pooled.add(&mean, &std, &truth, 10);
        }
        for p in pooled.curve() {
            assert!(
                (p.observed - p.nominal).abs() < 0.003,
                "level {}: {}",
                p.nominal,
                p.observed
            );
        }
        let bins = pooled.error_vs_std(5);
        assert_eq!(bins.len(), 5);
        for b in &bins {
            assert!((b.rms_error / b.mean_std - 1.0).abs() < 0.03, "{b:?}");
        }
        assert!(bins.windows(2).all(|w| w[0].mean_std < w[1].mean_std));
    }

    /// Errors in row band k (of four, 5 rows each, 8 columns) drawn from N(0, ((k + 1)·std)²):
    /// band k's ±2σ coverage is P(|Z| ≤ 2/(k + 1)) = 0.954, 0.683, 0.495, 0.383 and its RMS
    /// error (k + 1)·std. With 20,000 pixels a band, within 0.015 (4 standard errors) and 4 %.
    /// Catches rows taken as columns (every band the pooled 0.63), bands counted from the
    /// bottom, and a last band that drops or repeats rows.
    #[test]
    fn bands_by_depth_see_the_error_growing_with_depth() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let mut pooled = PooledCoverage::default();
        let (nz, nx) = (20, 8);
        for _ in 0..500 {
            let std = vec![30.0f32; nz * nx];
            let truth: Vec<f32> = (0..nz * nx)
                .map(|p| {
                    let e: f32 = StandardNormal.sample(&mut rng);
                    2500.0 + ((p / nx) / 5 + 1) as f32 * 30.0 * e
                })
                .collect();
            pooled.add(&vec![2500.0; nz * nx], &std, &truth, nz);
        }
        let bands = pooled.by_depth(4);
        let want = [0.954_5, 0.682_7, 0.495_0, 0.382_9];
        assert_eq!(bands.len(), 4);
        for (k, (b, w)) in bands.iter().zip(want).enumerate() {
            assert_eq!((b.first_row, b.end_row), (5 * k, 5 * k + 5));
            assert!((b.within_2sigma - w).abs() < 0.015, "band {k}: {b:?}");
            let rms = 30.0 * (k + 1) as f64;
            assert!((b.rms_error / rms - 1.0).abs() < 0.04, "band {k}: {b:?}");
        }
    }
}
