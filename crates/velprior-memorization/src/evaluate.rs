//! How close a prior's samples are to real models of its family (`velprior evaluate`): k-NN
//! precision and recall (Kynkäänniemi et al. 2019), the Fréchet distance of Gaussians fitted in
//! the held-out models' PCA space (as FID, Heusel et al. 2017, with PCA coordinates for the
//! network features), the Wasserstein-1 distance of the velocity histograms, the mean lateral and
//! vertical steps between neighbouring cells, and, given the training set, the fraction of
//! samples that copy a training model (d1/d2 < 1/3, Gu et al. 2023). Every figure is reported
//! for the samples and for real models of the same family, so a score reads against what real
//! models get: the held-out set is split in two, the first half the reference, the second half
//! the real models scored against it.

use candle_core::Device;
use image::RgbImage;
use nalgebra::{DMatrix, DVector, SymmetricEigen};
use serde::{Deserialize, Serialize};
use velprior_data::Normalisation;
use velprior_data::render::{RenderOptions, render_grid};

use crate::error::{MemorizationError, Result};
use crate::{KnnOptions, Metric, TrainSource, criteria, knn, precision_recall, summarise};
use velprior_data::render::charts::histogram;

/// Settings of [`evaluate`].
#[derive(Debug, Clone)]
pub struct EvaluateOptions {
    /// Neighbour rank of the precision/recall balls (3 in Kynkäänniemi et al.).
    pub k: usize,
    /// Principal components of the Fréchet distance (fewer when the reference is smaller).
    pub pca_dims: usize,
    /// Where the search against the training set runs its matrix products.
    pub device: Device,
}

impl Default for EvaluateOptions {
    fn default() -> Self {
        EvaluateOptions {
            k: 3,
            pca_dims: 32,
            device: Device::Cpu, // host: the default; a GPU only speeds up the training-set search
        }
    }
}

/// The figures of one set of models scored against the reference half of the held-out set.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SetScores {
    /// Models scored.
    pub models: usize,
    /// Fraction of the set inside the reference's k-NN manifold.
    pub precision: f64,
    /// Fraction of the reference inside the set's k-NN manifold.
    pub recall: f64,
    /// Fréchet distance of Gaussians fitted to the set and the reference in the reference's
    /// PCA coordinates (normalised units).
    pub frechet_pca: f64,
    /// The mean term ‖μ − μ_ref‖² of `frechet_pca`: the part a shift of the average model
    /// explains (the rest is the covariances' mismatch).
    pub frechet_pca_mean: f64,
    /// Wasserstein-1 distance between the set's and the reference's velocity values, m/s.
    pub velocity_w1: f64,
    /// Mean |v(z, x+1) − v(z, x)|, m/s.
    pub lateral_step: f64,
    /// Mean |v(z+1, x) − v(z, x)|, m/s.
    pub vertical_step: f64,
}

/// `velprior evaluate`'s report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PriorEvaluation {
    /// Held-out models in the reference half.
    pub reference_models: usize,
    /// Principal components of the Fréchet distance.
    pub pca_dims: usize,
    /// Neighbour rank of precision and recall.
    pub k: usize,
    /// The samples' scores.
    pub samples: SetScores,
    /// Real models' scores (the second half of the held-out set): what a perfect prior gets.
    pub real: SetScores,
    /// Samples' precision and recall over the real models'.
    pub precision_ratio: f64,
    /// See `precision_ratio`.
    pub recall_ratio: f64,
    /// Fraction of samples whose nearest training model is under a third of the distance to
    /// the second nearest (given a training set).
    pub memorised_fraction: Option<f64>,
}

/// Scores `samples` (row-major (M, H·W), m/s) against `held_out` (m/s; the first half is the
/// reference, the second half the real models), both of model shape `shape`; `norm` maps m/s to
/// the normalised units the distances use. `train` (normalised) adds the memorised fraction.
pub fn evaluate(
    samples: &[f32],
    held_out: &[f32],
    shape: [usize; 2],
    norm: Normalisation,
    train: Option<&dyn TrainSource>,
    opts: &EvaluateOptions,
) -> Result<PriorEvaluation> {
    let d = shape[0] * shape[1];
    let count = |v: &[f32], what: &str| -> Result<usize> {
        if d == 0 || v.is_empty() || !v.len().is_multiple_of(d) {
            return Err(MemorizationError::invalid(format!(
                "{what}: {} values are not whole {}x{} models",
                v.len(),
                shape[0],
                shape[1]
            )));
        }
        Ok(v.len() / d)
    };
    let (m, h) = (
        count(samples, "samples")?,
        count(held_out, "held-out models")?,
    );
    let half = h / 2;
    if half <= opts.k || m <= opts.k {
        return Err(MemorizationError::invalid(format!(
            "evaluate: {m} samples and {h} held-out models; both halves of the held-out set and \
             the samples need more than k = {} models (use more held-out models or samples)",
            opts.k
        )));
    }
    let unit = |v: &[f32]| {
        let mut u = v.to_vec();
        norm.normalise(&mut u);
        u
    };
    let (reference, real, generated) = (
        unit(&held_out[..half * d]),
        unit(&held_out[half * d..2 * half * d]),
        unit(samples),
    );
    let pca = Pca::fit(&reference, d, opts.pca_dims)?;
    let ref_values: Vec<f32> = held_out[..half * d].to_vec();
    let score = |set_units: &[f32], set_mps: &[f32]| -> Result<SetScores> {
        let pr = precision_recall(&reference, set_units, d, opts.k)?;
        let (lateral_step, vertical_step) = mean_steps(set_mps, shape);
        let (frechet_pca, frechet_pca_mean) = pca.frechet(&reference, set_units)?;
        Ok(SetScores {
            models: set_units.len() / d,
            precision: pr.precision,
            recall: pr.recall,
            frechet_pca,
            frechet_pca_mean,
            velocity_w1: wasserstein1(set_mps, &ref_values),
            lateral_step,
            vertical_step,
        })
    };
    let real_scores = score(&real, &held_out[half * d..2 * half * d])?;
    let sample_scores = score(&generated, samples)?;
    let memorised_fraction = match train {
        Some(t) if t.len() >= 2 => {
            let nn = knn(
                &generated,
                t,
                &KnnOptions::new(2, Metric::L2).on(&opts.device),
            )?;
            Some(summarise(&criteria(&nn)?, 2).fraction_gu)
        }
        Some(_) => {
            return Err(MemorizationError::invalid(
                "evaluate: the training set needs 2 or more models for the memorised fraction",
            ));
        }
        None => None,
    };
    let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { f64::NAN };
    Ok(PriorEvaluation {
        reference_models: half,
        pca_dims: pca.dims(),
        k: opts.k,
        precision_ratio: ratio(sample_scores.precision, real_scores.precision),
        recall_ratio: ratio(sample_scores.recall, real_scores.recall),
        samples: sample_scores,
        real: real_scores,
        memorised_fraction,
    })
}

/// The pictures of an evaluation: 8 samples (top rows) above 8 held-out models, and the velocity
/// histograms of samples and held-out models.
pub fn evaluation_pictures(
    samples: &[f32],
    held_out: &[f32],
    shape: [usize; 2],
    norm: Normalisation,
) -> Result<(RgbImage, RgbImage)> {
    let d = shape[0] * shape[1];
    let shown = 8.min(samples.len() / d).min(held_out.len() / d);
    let mut grid = samples[..shown * d].to_vec();
    grid.extend_from_slice(&held_out[..shown * d]);
    let options = RenderOptions {
        range: Some((norm.vmin, norm.vmax)),
        title: Some("samples (top) | held-out models (bottom)".into()),
        ..Default::default()
    };
    let grid = render_grid(
        &grid,
        [2 * shown, shape[0], shape[1]],
        shown,
        &options,
        None,
    )?;
    let values = |v: &[f32]| v.iter().map(|&x| f64::from(x)).collect::<Vec<f64>>();
    let hist = histogram(
        "velocity values",
        "m/s",
        &[
            ("samples".to_string(), values(samples)),
            ("held-out models".to_string(), values(held_out)),
        ],
        40,
    );
    Ok((grid, hist))
}

/// Principal axes of a set of models (through its m × m Gram matrix: m models ≪ D values).
struct Pca {
    mean: DVector<f64>,
    /// D × p, orthonormal columns.
    axes: DMatrix<f64>,
}

impl Pca {
    fn fit(set: &[f32], d: usize, dims: usize) -> Result<Pca> {
        let x = rows(set, d);
        let m = x.nrows();
        let mean = DVector::from_iterator(d, (0..d).map(|j| x.column(j).mean()));
        let centred = DMatrix::from_fn(m, d, |i, j| x[(i, j)] - mean[j]);
        let gram = &centred * centred.transpose();
        let eig = SymmetricEigen::new(gram);
        let mut order: Vec<usize> = (0..m).collect();
        order.sort_by(|&a, &b| eig.eigenvalues[b].total_cmp(&eig.eigenvalues[a]));
        let top = eig.eigenvalues[order[0]].max(0.0);
        let kept: Vec<usize> = order
            .into_iter()
            .take(dims)
            .filter(|&i| eig.eigenvalues[i] > 1e-12 * top.max(f64::MIN_POSITIVE))
            .collect();
        if kept.is_empty() {
            return Err(MemorizationError::invalid(
                "evaluate: the reference models are all equal; PCA needs some spread",
            ));
        }
        // Axis of Gram eigenvector u with eigenvalue λ: Xcᵀu / √λ.
        let mut axes = DMatrix::zeros(d, kept.len());
        for (c, &i) in kept.iter().enumerate() {
            let axis = centred.transpose() * eig.eigenvectors.column(i) / eig.eigenvalues[i].sqrt();
            axes.set_column(c, &axis);
        }
        Ok(Pca { mean, axes })
    }

    fn dims(&self) -> usize {
        self.axes.ncols()
    }

    /// Fréchet distance of the Gaussians fitted to the two sets' PCA coordinates, and its mean
    /// term.
    fn frechet(&self, a: &[f32], b: &[f32]) -> Result<(f64, f64)> {
        let d = self.mean.len();
        let (ma, ca) = self.moments(a, d);
        let (mb, cb) = self.moments(b, d);
        Ok((
            frechet_distance(&ma, &ca, &mb, &cb)?,
            (ma - mb).norm_squared(),
        ))
    }

    /// Mean and covariance of a set's coordinates.
    fn moments(&self, set: &[f32], d: usize) -> (DVector<f64>, DMatrix<f64>) {
        let x = rows(set, d);
        let n = x.nrows();
        let z = DMatrix::from_fn(n, d, |i, j| x[(i, j)] - self.mean[j]) * &self.axes;
        let mean = DVector::from_iterator(z.ncols(), (0..z.ncols()).map(|c| z.column(c).mean()));
        let zc = DMatrix::from_fn(n, z.ncols(), |i, c| z[(i, c)] - mean[c]);
        let cov = zc.transpose() * &zc / (n.max(2) - 1) as f64;
        (mean, cov)
    }
}

/// ‖μ₁ − μ₂‖² + tr(Σ₁ + Σ₂ − 2 (Σ₁^{1/2} Σ₂ Σ₁^{1/2})^{1/2}), the Fréchet (2-Wasserstein)
/// distance between N(μ₁, Σ₁) and N(μ₂, Σ₂).
pub fn frechet_distance(
    mu1: &DVector<f64>,
    s1: &DMatrix<f64>,
    mu2: &DVector<f64>,
    s2: &DMatrix<f64>,
) -> Result<f64> {
    let p = mu1.len();
    if mu2.len() != p || s1.shape() != (p, p) || s2.shape() != (p, p) {
        return Err(MemorizationError::invalid(
            "frechet_distance: means and covariances of different sizes",
        ));
    }
    let root1 = sqrt_psd(s1);
    let cross = sqrt_psd(&(&root1 * s2 * &root1));
    Ok((mu1 - mu2).norm_squared() + s1.trace() + s2.trace() - 2.0 * cross.trace())
}

/// The square root of a symmetric positive semi-definite matrix (negative rounding clipped).
fn sqrt_psd(a: &DMatrix<f64>) -> DMatrix<f64> {
    let sym = (a + a.transpose()) * 0.5;
    let eig = SymmetricEigen::new(sym);
    let roots = eig.eigenvalues.map(|l| l.max(0.0).sqrt());
    &eig.eigenvectors * DMatrix::from_diagonal(&roots) * eig.eigenvectors.transpose()
}

/// Wasserstein-1 distance of two samples of values: ∫₀¹ |F_a⁻¹(u) − F_b⁻¹(u)| du at 1,000
/// quantile midpoints.
pub fn wasserstein1(a: &[f32], b: &[f32]) -> f64 {
    let sorted = |v: &[f32]| {
        let mut s = v.to_vec();
        s.sort_by(f32::total_cmp);
        s
    };
    let (a, b) = (sorted(a), sorted(b));
    if a.is_empty() || b.is_empty() {
        return f64::NAN;
    }
    let q = |s: &[f32], u: f64| f64::from(s[((u * s.len() as f64) as usize).min(s.len() - 1)]);
    const POINTS: usize = 1000;
    (0..POINTS)
        .map(|i| {
            let u = (i as f64 + 0.5) / POINTS as f64;
            (q(&a, u) - q(&b, u)).abs()
        })
        .sum::<f64>()
        / POINTS as f64
}

/// Mean |lateral| and |vertical| differences between neighbouring cells of models (H, W).
fn mean_steps(models: &[f32], [h, w]: [usize; 2]) -> (f64, f64) {
    let (mut lat, mut vert, mut nl, mut nv) = (0.0f64, 0.0f64, 0usize, 0usize);
    for m in models.chunks_exact(h * w) {
        for z in 0..h {
            for x in 0..w {
                let v = f64::from(m[z * w + x]);
                if x + 1 < w {
                    lat += (f64::from(m[z * w + x + 1]) - v).abs();
                    nl += 1;
                }
                if z + 1 < h {
                    vert += (f64::from(m[(z + 1) * w + x]) - v).abs();
                    nv += 1;
                }
            }
        }
    }
    (lat / nl.max(1) as f64, vert / nv.max(1) as f64)
}

/// Row-major (n, d) f32 values as an n × d f64 matrix.
fn rows(v: &[f32], d: usize) -> DMatrix<f64> {
    DMatrix::from_row_iterator(v.len() / d, d, v.iter().map(|&x| f64::from(x)))
}
