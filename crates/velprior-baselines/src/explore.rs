//! Latent-space exploration of an autoencoder prior: a sweep grid of decoded models, a walk
//! between two encoded models, and a scatter of encoded latents.

use image::RgbImage;
use velprior_data::render::{RenderOptions, render_grid, render_model};
use velprior_data::{Corpus, CorpusMeta};

use crate::scatter::{ScatterSpec, Series, scatter_plot};
use velprior_data::render::display_models;
use velprior_diffusion::baselines::AePrior;
use velprior_diffusion::{DiffusionError, Result};

/// Decodes latents `z` (n rows of the AE's latent size) into a corpus of models (m/s) with
/// the prior's spacing; `source` records where they came from.
pub fn decode_corpus(prior: &AePrior, z: &[f32], source: String) -> Result<Corpus> {
    let k = prior.latent_dim();
    if !z.len().is_multiple_of(k) {
        return Err(DiffusionError::invalid(format!(
            "latents: {} values are not rows of the autoencoder's {k} dimensions; encode with \
             this checkpoint",
            z.len()
        )));
    }
    let [h, w] = prior.meta.model_shape;
    let [dx, dz] = prior.meta.spacing;
    let meta = CorpusMeta { dx, dz, source };
    Ok(Corpus::new(prior.decode(z)?, [z.len() / k, h, w], meta)?)
}

/// Up to 64 models of `corpus` (decoded by `prior`) as a grid, 8 per row, in the prior's
/// velocity range; profiles widened to be seen.
pub fn decoded_grid(prior: &AePrior, corpus: &Corpus) -> Result<RgbImage> {
    let [n, h, w] = corpus.shape();
    let shown = n.min(64);
    let (models, [dh, dw]) = display_models(&corpus.velocity()[..shown * h * w], [shown, h, w]);
    Ok(render_grid(
        &models,
        [shown, dh, dw],
        8,
        &options(prior, None),
        None,
    )?)
}

fn options(prior: &AePrior, title: Option<String>) -> RenderOptions {
    let n = prior.meta.normalisation;
    RenderOptions {
        range: Some((n.vmin, n.vmax)),
        title,
        ..Default::default()
    }
}

/// The latents of a `grid` × `grid` sweep: z₁ (columns, left → right) and z₂ (rows, top →
/// bottom, decreasing) on [−extent·s, extent·s], other dimensions 0; a 1-D latent gives one
/// row. Row-major (grid², k) or (grid, 1).
pub fn sweep_latents(prior: &AePrior, grid: usize, extent: f64) -> Result<Vec<f32>> {
    if grid < 2 || extent.is_nan() || extent <= 0.0 {
        return Err(DiffusionError::invalid(
            "a latent sweep needs at least 2 points per axis and a positive extent",
        ));
    }
    let k = prior.latent_dim();
    let s = prior.latent_std();
    let at = |i: usize| (-extent + 2.0 * extent * i as f64 / (grid - 1) as f64) * s;
    let rows = if k >= 2 { grid } else { 1 };
    let mut z = vec![0f32; rows * grid * k];
    for r in 0..rows {
        for c in 0..grid {
            let row = &mut z[(r * grid + c) * k..(r * grid + c + 1) * k];
            row[0] = at(c) as f32;
            if k >= 2 {
                row[1] = at(grid - 1 - r) as f32;
            }
        }
    }
    Ok(z)
}

/// The decoded sweep of [`sweep_latents`] as one picture.
pub fn latent_sweep(prior: &AePrior, grid: usize, extent: f64) -> Result<RgbImage> {
    let z = sweep_latents(prior, grid, extent)?;
    let v = prior.decode(&z)?;
    let [h, w] = prior.meta.model_shape;
    let n = v.len() / (h * w);
    let (shown, [dh, dw]) = display_models(&v, [n, h, w]);
    let title = format!(
        "Latent sweep: z1 left->right, z2 top->bottom, +-{extent} s (s = {:.3})",
        prior.latent_std()
    );
    Ok(render_grid(
        &shown,
        [n, dh, dw],
        grid,
        &options(prior, Some(title)),
        None,
    )?)
}

/// GIF frames decoding (1 − t) E(a) + t E(b) for `frames` values of t from 0 to 1; `a` and
/// `b` are velocity models (m/s) of the checkpoint's size.
pub fn latent_walk(prior: &AePrior, a: &[f32], b: &[f32], frames: usize) -> Result<Vec<RgbImage>> {
    if frames < 2 {
        return Err(DiffusionError::invalid(
            "a latent walk needs at least 2 frames",
        ));
    }
    let za = prior.encode(a)?;
    let zb = prior.encode(b)?;
    let z: Vec<f32> = (0..frames)
        .flat_map(|f| {
            let t = f as f32 / (frames - 1) as f32;
            za.iter()
                .zip(&zb)
                .map(move |(p, q)| (1.0 - t) * p + t * q)
                .collect::<Vec<_>>()
        })
        .collect();
    let v = prior.decode(&z)?;
    let [h, w] = prior.meta.model_shape;
    let (shown, [dh, dw]) = display_models(&v, [frames, h, w]);
    shown
        .chunks_exact(dh * dw)
        .enumerate()
        .map(|(f, m)| {
            let title = format!("t = {:.2}", f as f64 / (frames - 1) as f64);
            Ok(render_model(m, [dh, dw], &options(prior, Some(title)))?)
        })
        .collect()
}

/// Scatter of the first two latent coordinates of `latents` (N, k), with the sampling
/// distribution's ±2s box for reference (k ≥ 2).
pub fn latent_scatter(prior: &AePrior, latents: &[f32], title: &str) -> Result<RgbImage> {
    let k = prior.latent_dim();
    if k < 2 {
        return Err(DiffusionError::invalid(
            "a latent scatter needs a latent dimension of at least 2",
        ));
    }
    let points: Vec<[f64; 2]> = latents
        .chunks_exact(k)
        .map(|z| [z[0] as f64, z[1] as f64])
        .collect();
    let s = 2.0 * prior.latent_std();
    scatter_plot(&ScatterSpec {
        title: title.to_string(),
        x_label: "z1".into(),
        y_label: "z2".into(),
        series: vec![Series {
            label: "encoded corpus".into(),
            points: &points,
            color: [31, 119, 180],
        }],
        frame: Some(([-s, s, -s, s], "+-2s of the sampling N(0, s^2 I)".into())),
    })
}

/// Latent codes on disk (`velprior ae encode` / `decode`): JSON `{"latent_dim": k,
/// "latents": [[z1, …, zk], …]}`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LatentFile {
    /// Latent dimension k.
    pub latent_dim: usize,
    /// One row of k values per model.
    pub latents: Vec<Vec<f32>>,
}

impl LatentFile {
    /// Rows of `k` from flat (N, k) latents.
    pub fn new(latents: &[f32], k: usize) -> LatentFile {
        LatentFile {
            latent_dim: k,
            latents: latents.chunks_exact(k).map(<[f32]>::to_vec).collect(),
        }
    }

    /// Writes the file atomically.
    pub fn save(&self, path: &std::path::Path) -> Result<()> {
        let text =
            serde_json::to_string(self).map_err(|e| DiffusionError::invalid(e.to_string()))?;
        velprior_data::atomic::write_bytes(path, text.as_bytes())?;
        Ok(())
    }

    /// Reads a file and checks that every row has `latent_dim` values; returns flat (N, k).
    pub fn load(path: &std::path::Path) -> Result<(Vec<f32>, usize)> {
        let bad = |why: String| DiffusionError::invalid(format!("{}: {why}", path.display()));
        let text = std::fs::read_to_string(path).map_err(|e| bad(format!("cannot read ({e})")))?;
        let file: LatentFile = serde_json::from_str(&text).map_err(|e| {
            bad(format!(
                "not a latent file ({e}); write one with `velprior ae encode`"
            ))
        })?;
        let k = file.latent_dim;
        if file.latents.is_empty() || file.latents.iter().any(|r| r.len() != k) {
            return Err(bad(format!(
                "needs at least one row and {k} values in every row"
            )));
        }
        Ok((file.latents.concat(), k))
    }
}
