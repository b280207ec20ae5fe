//! The geostatistical prior: a stationary, anisotropic Gaussian process on the H × W grid
//! around a depth trend, with a separable covariance
//!
//!   Cov(v(z, x), v(z′, x′)) = σ² ρ(z − z′; ℓ_z) ρ(x − x′; ℓ_x) + τ² δ,
//!
//! i.e. Σ = σ² K_z ⊗ K_x + τ² I (lags in grid cells; τ² the nugget). With K_z = Q_z Λ_z Q_zᵀ
//! and K_x = Q_x Λ_x Q_xᵀ, Σ = (Q_z ⊗ Q_x)(σ² Λ_z ⊗ Λ_x + τ²)(Q_z ⊗ Q_x)ᵀ: sampling, the
//! exact log-density and Σ⁻¹ cost O(H³ + W³ + HW(H + W)), never a (HW)² matrix.
//!
//! The fit ([`GaussianProcess::fit`]): the trend μ(z) is the corpus mean at each depth; the
//! total variance v = σ² + τ² that of the residuals (τ² = ν v, ν = `nugget`); ℓ_x and ℓ_z
//! minimise the squared misfit between (1 − ν) ρ(l; ℓ) and the residuals' empirical
//! correlation at lateral and vertical lags l = 1 … `max_lag`.
//!
//! Checkpoint tensors (f32): `gp.trend` (H), `gp.parameters` (5: σ², τ², ℓ_z, ℓ_x, W),
//! `gp.kernel` (1: [`Kernel::code`]).

use std::collections::HashMap;

use candle_core::{Device, Tensor};
use nalgebra::{DMatrix, DVector, SymmetricEigen};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

use crate::density::{DensityModel, LogDensity};
use crate::error::{DensityError, Result};
use crate::kernel::Kernel;

const LN_2PI: f64 = 1.837_877_066_409_345_5;

/// Fit settings of [`GaussianProcess::fit`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GpFit {
    /// The correlation family.
    pub kernel: Kernel,
    /// Nugget ν: the fraction of the variance that is uncorrelated (0 < ν < 1).
    #[serde(default = "default_nugget")]
    pub nugget: f64,
    /// Largest lag (cells) of the empirical correlation the lengths are fitted to.
    #[serde(default = "default_max_lag")]
    pub max_lag: usize,
}

fn default_nugget() -> f64 {
    0.01
}
fn default_max_lag() -> usize {
    20
}

/// A fitted Gaussian process on an H × W grid (model in the module docs).
#[derive(Debug, Clone)]
pub struct GaussianProcess {
    kernel: Kernel,
    trend: Vec<f32>,
    width: usize,
    variance: f64,
    nugget: f64,
    /// ℓ_z, ℓ_x in cells.
    lengths: [f64; 2],
    qz: DMatrix<f64>,
    qx: DMatrix<f64>,
    /// σ² λ_z,i λ_x,j + τ², row-major (H, W).
    spectrum: Vec<f64>,
}

impl GaussianProcess {
    /// A process with the given parameters: `trend` μ(z) (H values), width W, σ², τ² > 0
    /// and the correlation lengths [ℓ_z, ℓ_x] in cells.
    pub fn new(
        kernel: Kernel,
        trend: Vec<f32>,
        width: usize,
        variance: f64,
        nugget: f64,
        lengths: [f64; 2],
    ) -> Result<GaussianProcess> {
        let ok = |v: f64| v.is_finite() && v > 0.0;
        if trend.is_empty() || width == 0 {
            return Err(DensityError::Shape(
                "Gaussian process: the grid must have at least one row and one column".into(),
            ));
        }
        if !(ok(variance) && ok(nugget) && ok(lengths[0]) && ok(lengths[1])) {
            return Err(DensityError::Shape(format!(
                "Gaussian process: variance {variance}, nugget {nugget} and lengths {lengths:?} \
                 must be positive and finite"
            )));
        }
        let (qz, lz) = correlation_eigen(kernel, trend.len(), lengths[0]);
        let (qx, lx) = correlation_eigen(kernel, width, lengths[1]);
        let spectrum = lz
            .iter()
            .flat_map(|a| lx.iter().map(move |b| variance * a * b + nugget))
            .collect();
        Ok(GaussianProcess {
            kernel,
            trend,
            width,
            variance,
            nugget,
            lengths,
            qz,
            qx,
            spectrum,
        })
    }

    /// Fits the trend, variance and correlation lengths to `models` (N × H·W, row-major,
    /// normalised units) of shape `[h, w]`.
    pub fn fit(models: &[f32], [h, w]: [usize; 2], settings: &GpFit) -> Result<GaussianProcess> {
        let d = h * w;
        if d == 0 || models.is_empty() || !models.len().is_multiple_of(d) {
            return Err(DensityError::Shape(format!(
                "Gaussian process: {} values are not models of {h}x{w}",
                models.len()
            )));
        }
        if !(settings.nugget > 0.0 && settings.nugget < 1.0) {
            return Err(DensityError::Shape(format!(
                "Gaussian process: nugget {} must lie strictly between 0 and 1 (e.g. 0.01)",
                settings.nugget
            )));
        }
        let n = models.len() / d;
        let mut trend = vec![0f64; h];
        for m in models.chunks_exact(d) {
            for (z, row) in m.chunks_exact(w).enumerate() {
                trend[z] += row.iter().map(|&v| v as f64).sum::<f64>();
            }
        }
        trend.iter_mut().for_each(|t| *t /= (n * w) as f64);
        let residual: Vec<f64> = models
            .iter()
            .enumerate()
            .map(|(i, &v)| v as f64 - trend[(i % d) / w])
            .collect();
        let total = residual.iter().map(|r| r * r).sum::<f64>() / residual.len() as f64;
        if total <= 0.0 {
            return Err(DensityError::Shape(
                "Gaussian process: the models do not vary around their depth trend".into(),
            ));
        }
        let lateral = empirical_correlation(&residual, [h, w], [0, 1], settings.max_lag, total);
        let vertical = empirical_correlation(&residual, [h, w], [1, 0], settings.max_lag, total);
        let scale = 1.0 - settings.nugget;
        let length_x = fit_length(settings.kernel, &lateral, scale, w);
        let length_z = fit_length(settings.kernel, &vertical, scale, h);
        GaussianProcess::new(
            settings.kernel,
            trend.into_iter().map(|t| t as f32).collect(),
            w,
            total * scale,
            total * settings.nugget,
            [length_z, length_x],
        )
    }

    /// The correlation family.
    pub fn kernel(&self) -> Kernel {
        self.kernel
    }

    /// σ², the correlated variance.
    pub fn variance(&self) -> f64 {
        self.variance
    }

    /// τ², the nugget variance.
    pub fn nugget(&self) -> f64 {
        self.nugget
    }

    /// [ℓ_z, ℓ_x] in cells.
    pub fn lengths(&self) -> [f64; 2] {
        self.lengths
    }

    /// The covariance of two cells (z, x) and (z′, x′).
    pub fn covariance(&self, a: [usize; 2], b: [usize; 2]) -> f64 {
        let lag = |i: usize, j: usize| (i as f64 - j as f64).abs();
        let c = self.variance
            * self.kernel.correlation(lag(a[0], b[0]), self.lengths[0])
            * self.kernel.correlation(lag(a[1], b[1]), self.lengths[1]);
        if a == b { c + self.nugget } else { c }
    }

    /// Rebuilds a process from checkpoint tensors (names in the module docs).
    pub fn from_tensors(tensors: &HashMap<String, Tensor>) -> Result<GaussianProcess> {
        let get = |name: &str| -> Result<Vec<f32>> {
            let t = tensors.get(name).ok_or_else(|| {
                DensityError::Shape(format!("Gaussian process: tensor '{name}' is missing"))
            })?;
            Ok(t.flatten_all()?.to_vec1::<f32>()?)
        };
        let trend = get("gp.trend")?;
        let p = get("gp.parameters")?;
        let code = get("gp.kernel")?;
        let kernel = match (p.len(), code.as_slice()) {
            (5, [c]) if *c >= 0.0 && c.fract() == 0.0 => Kernel::from_code(*c as u8),
            _ => None,
        }
        .ok_or_else(|| {
            DensityError::Shape(format!(
                "Gaussian process: inconsistent tensors (parameters {p:?}, kernel {code:?})"
            ))
        })?;
        let width = p[4] as usize;
        GaussianProcess::new(
            kernel,
            trend,
            width,
            p[0] as f64,
            p[1] as f64,
            [p[2] as f64, p[3] as f64],
        )
    }

    /// Coefficients C = Q_zᵀ R Q_x of a residual R (H × W).
    fn spectral(&self, r: &DMatrix<f64>) -> DMatrix<f64> {
        self.qz.tr_mul(r) * &self.qx
    }

    /// R = Q_z C Q_xᵀ.
    fn spatial(&self, c: &DMatrix<f64>) -> DMatrix<f64> {
        &self.qz * c * self.qx.transpose()
    }

    /// The residual x − μ(z) as an H × W matrix.
    fn residual(&self, x: &[f32]) -> DMatrix<f64> {
        let (h, w) = (self.trend.len(), self.width);
        assert_eq!(
            x.len(),
            h * w,
            "Gaussian process: x has the wrong dimension"
        );
        DMatrix::from_fn(h, w, |z, j| x[z * w + j] as f64 - self.trend[z] as f64)
    }
}

impl LogDensity for GaussianProcess {
    fn dim(&self) -> usize {
        self.trend.len() * self.width
    }

    /// log N(x; μ, Σ), normalised: −½ (Σ C²/s + Σ log s + D log 2π), s the spectrum.
    fn log_density(&self, x: &[f32]) -> Result<f64> {
        let c = self.spectral(&self.residual(x));
        let w = self.width;
        let mut quad = 0.0;
        for z in 0..c.nrows() {
            for j in 0..w {
                quad += c[(z, j)].powi(2) / self.spectrum[z * w + j];
            }
        }
        let log_det: f64 = self.spectrum.iter().map(|s| s.ln()).sum();
        Ok(-0.5 * (quad + log_det + self.dim() as f64 * LN_2PI))
    }

    /// ∇ log p(x) = −Σ⁻¹ (x − μ) = −Q_z (C ⊘ s) Q_xᵀ.
    fn grad_log_density(&self, x: &[f32]) -> Result<Vec<f32>> {
        let w = self.width;
        let mut c = self.spectral(&self.residual(x));
        for z in 0..c.nrows() {
            for j in 0..w {
                c[(z, j)] /= -self.spectrum[z * w + j];
            }
        }
        let g = self.spatial(&c);
        Ok((0..g.nrows())
            .flat_map(|z| (0..w).map(move |j| (z, j)))
            .map(|(z, j)| g[(z, j)] as f32)
            .collect())
    }
}

impl DensityModel for GaussianProcess {
    /// x = μ + Q_z (√s ∘ E) Q_xᵀ, E standard normal.
    fn sample(&self, n: usize, seed: u64) -> Result<Vec<f32>> {
        let (h, w) = (self.trend.len(), self.width);
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut out = Vec::with_capacity(n * h * w);
        for _ in 0..n {
            let c = DMatrix::from_fn(h, w, |z, j| {
                let e: f64 = StandardNormal.sample(&mut rng);
                e * self.spectrum[z * w + j].sqrt()
            });
            let r = self.spatial(&c);
            for z in 0..h {
                out.extend((0..w).map(|j| (r[(z, j)] + self.trend[z] as f64) as f32));
            }
        }
        Ok(out)
    }

    fn to_tensors(&self, device: &Device) -> Result<Vec<(String, Tensor)>> {
        let p = vec![
            self.variance as f32,
            self.nugget as f32,
            self.lengths[0] as f32,
            self.lengths[1] as f32,
            self.width as f32,
        ];
        Ok(vec![
            (
                "gp.trend".into(),
                Tensor::from_slice(&self.trend, self.trend.len(), device)?,
            ),
            ("gp.parameters".into(), Tensor::from_vec(p, 5, device)?),
            (
                "gp.kernel".into(),
                Tensor::from_vec(vec![self.kernel.code() as f32], 1, device)?,
            ),
        ])
    }
}

/// Eigenvectors (columns) and eigenvalues (clamped at 0) of the n × n correlation matrix
/// ρ(|i − j|; ℓ).
fn correlation_eigen(kernel: Kernel, n: usize, length: f64) -> (DMatrix<f64>, DVector<f64>) {
    let k = DMatrix::from_fn(n, n, |i, j| kernel.correlation(i as f64 - j as f64, length));
    let eig = SymmetricEigen::new(k);
    (eig.eigenvectors, eig.eigenvalues.map(|v| v.max(0.0)))
}

/// The residuals' correlation at lags l·`step` (l = 1 … `max_lag`, within the grid):
/// mean of r(p) r(p + l·step) over every model and cell pair, divided by `total`.
fn empirical_correlation(
    residual: &[f64],
    [h, w]: [usize; 2],
    step: [usize; 2],
    max_lag: usize,
    total: f64,
) -> Vec<f64> {
    let d = h * w;
    let extent = if step[0] > 0 { h } else { w };
    (1..=max_lag.min(extent.saturating_sub(1)))
        .map(|l| {
            let (dz, dx) = (l * step[0], l * step[1]);
            let mut sum = 0.0;
            let mut count = 0usize;
            for m in residual.chunks_exact(d) {
                for z in 0..h - dz {
                    for x in 0..w - dx {
                        sum += m[z * w + x] * m[(z + dz) * w + x + dx];
                        count += 1;
                    }
                }
            }
            sum / count as f64 / total
        })
        .collect()
}

/// The length ℓ (cells) minimising Σ_l ((scale · ρ(l; ℓ)) − observed[l−1])²: a log-spaced
/// scan over [0.05, 20 · extent] refined by golden-section search.
fn fit_length(kernel: Kernel, observed: &[f64], scale: f64, extent: usize) -> f64 {
    let misfit = |log_len: f64| -> f64 {
        let len = log_len.exp();
        observed
            .iter()
            .enumerate()
            .map(|(i, o)| (scale * kernel.correlation((i + 1) as f64, len) - o).powi(2))
            .sum()
    };
    let (lo, hi) = (0.05f64.ln(), (20.0 * extent.max(1) as f64).ln());
    let steps = 200;
    let grid: Vec<f64> = (0..=steps)
        .map(|i| lo + (hi - lo) * i as f64 / steps as f64)
        .collect();
    let best = (0..=steps)
        .min_by(|&a, &b| misfit(grid[a]).total_cmp(&misfit(grid[b])))
        .unwrap_or(0);
    let (mut a, mut b) = (grid[best.saturating_sub(1)], grid[(best + 1).min(steps)]);
    let ratio = (5f64.sqrt() - 1.0) / 2.0;
    for _ in 0..60 {
        let (c, d) = (b - ratio * (b - a), a + ratio * (b - a));
        if misfit(c) < misfit(d) {
            b = d;
        } else {
            a = c;
        }
    }
    (0.5 * (a + b)).exp()
}
