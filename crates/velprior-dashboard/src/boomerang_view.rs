//! The Boomerang view of a diffusion prior: pick a model, noise it to t*, run the reverse chain
//! back (velprior-posterior's `boomerang`), and show the local variations beside it.

use std::path::Path;

use velprior_data::render::{RenderOptions, render_grid};
use velprior_diffusion::checkpoint::{CheckpointMeta, PriorKind, sidecar};
use velprior_diffusion::prior::DiffusionPrior;
use velprior_posterior::NoObserver;
use velprior_posterior::boomerang::{BoomerangConfig, boomerang};

use crate::error::DashboardError;

/// The checkpoint file a training run writes.
const CHECKPOINT: &str = "checkpoint.safetensors";
/// Variations drawn per request, and reverse steps of the respaced chain.
const VARIATIONS: usize = 3;
const STEPS: usize = 25;

/// A loaded diffusion prior and the models it can start from.
pub struct BoomerangView {
    prior: DiffusionPrior,
    /// Starting models, m/s, (N, H, W) flat.
    models: Vec<f32>,
    /// Where the starting models come from, in words.
    pub source: String,
}

/// Whether the run folder `dir` holds a diffusion checkpoint (read from its sidecar).
pub fn has_diffusion(dir: &Path) -> bool {
    std::fs::read_to_string(sidecar(&dir.join(CHECKPOINT)))
        .ok()
        .and_then(|t| serde_json::from_str::<CheckpointMeta>(&t).ok())
        .is_some_and(|m| m.kind == PriorKind::Diffusion)
}

impl BoomerangView {
    /// Loads the prior of run folder `dir` and the models to start from: the run's
    /// `samples.h5` when present, else its training corpus; the network runs on `device`.
    pub fn load(dir: &Path, device: &candle_core::Device) -> Result<BoomerangView, DashboardError> {
        let path = dir.join(CHECKPOINT);
        if !has_diffusion(dir) {
            return Err(DashboardError::BadRequest(format!(
                "{} is not a diffusion checkpoint; Boomerang needs a run of `velprior train` with a diffusion prior",
                path.display()
            )));
        }
        let prior = DiffusionPrior::load(&path, device)
            .map_err(|e| DashboardError::BadRequest(format!("{}: {e}", path.display())))?;
        let shape = prior.meta.model_shape;
        let candidates = [dir.join("samples.h5"), prior.meta.corpus.path.clone()];
        let (models, source) = candidates
            .iter()
            .filter(|p| p.is_file())
            .find_map(|p| {
                let c = velprior_data::read_corpus(p, None).ok()?;
                (c.model_shape() == shape && !c.is_empty())
                    .then(|| (c.into_velocity(), p.display().to_string()))
            })
            .ok_or_else(|| {
                DashboardError::NotFound(format!(
                    "no {}x{} models to start from: neither {}/samples.h5 nor the training corpus {} is readable",
                    shape[0],
                    shape[1],
                    dir.display(),
                    prior.meta.corpus.path.display()
                ))
            })?;
        Ok(BoomerangView {
            prior,
            models,
            source,
        })
    }

    /// Number of starting models.
    pub fn len(&self) -> usize {
        self.models.len() / (self.prior.meta.model_shape[0] * self.prior.meta.model_shape[1])
    }

    /// Whether there is no starting model (never, once loaded).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Validates a request: `model` an index below [`Self::len`], `t` in (0, 1], `seed` an integer.
    pub fn check(
        &self,
        model: Option<&str>,
        t: Option<&str>,
        seed: Option<&str>,
    ) -> Result<(usize, f64, u64), DashboardError> {
        let bad = |m: String| DashboardError::BadRequest(m);
        let n = self.len();
        let i = model
            .and_then(|s| s.parse::<usize>().ok())
            .filter(|&i| i < n)
            .ok_or_else(|| {
                bad(format!(
                    "model must be an index in [0, {}], got {model:?}",
                    n - 1
                ))
            })?;
        let t = t
            .and_then(|s| s.parse::<f64>().ok())
            .filter(|t| t.is_finite() && *t > 0.0 && *t <= 1.0)
            .ok_or_else(|| bad(format!("t must be a number in (0, 1], got {t:?}")))?;
        let seed = match seed {
            None => 0,
            Some(s) => s
                .parse::<u64>()
                .map_err(|_| bad(format!("seed must be a non-negative integer, got {s:?}")))?,
        };
        Ok((i, t, seed))
    }

    /// The starting model `i` beside `VARIATIONS` Boomerang samples at noise level `t`, as one
    /// PNG on a common colour scale.
    pub fn png(&self, i: usize, t: f64, seed: u64) -> Result<Vec<u8>, DashboardError> {
        let [h, w] = self.prior.meta.model_shape;
        let start = &self.models[i * h * w..(i + 1) * h * w];
        let mut x = start.to_vec();
        let norm = &self.prior.meta.normalisation;
        norm.normalise(&mut x);
        let mut out = boomerang(
            &self.prior.denoiser,
            &self.prior.schedule,
            &x,
            [h, w],
            &BoomerangConfig {
                t_star: t,
                steps: STEPS,
                samples: VARIATIONS,
            },
            seed,
            &mut NoObserver,
        )
        .map_err(|e| DashboardError::Io(format!("Boomerang sampling failed: {e}")))?;
        norm.denormalise(&mut out);
        let mut all = start.to_vec();
        all.extend_from_slice(&out);
        let captions: Vec<String> = std::iter::once(format!("model {i}"))
            .chain((1..=VARIATIONS).map(|k| format!("t*={t:.2} #{k}")))
            .collect();
        let opts = RenderOptions {
            pixels_per_sample: Some((200 / h.max(w) as u32).max(1)),
            ..RenderOptions::default()
        };
        let img = render_grid(
            &all,
            [VARIATIONS + 1, h, w],
            VARIATIONS + 1,
            &opts,
            Some(&captions),
        )
        .map_err(|e| DashboardError::Io(format!("drawing failed: {e}")))?;
        let mut bytes = Vec::new();
        img.write_to(
            &mut std::io::Cursor::new(&mut bytes),
            image::ImageFormat::Png,
        )
        .map_err(|e| DashboardError::Io(format!("PNG encoding failed: {e}")))?;
        Ok(bytes)
    }
}
