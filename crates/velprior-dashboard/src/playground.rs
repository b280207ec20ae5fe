//! The latent-space playground of a prior with a 2-D latent space (autoencoder, VAE, GAN, or a
//! flow of rank 2): a latent point (z₁, z₂) is decoded on the server and drawn beside the prior's own
//! samples and, where the network has an encoder, the encoded corpus, in latent space and in
//! the (v₁, v₂) plane (top and bottom velocity).

use std::path::{Path, PathBuf};

use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};
use serde::Serialize;
use velprior_data::render::{RenderOptions, render_model};
use velprior_diffusion::checkpoint::{CheckpointMeta, PriorKind, sidecar};
use velprior_diffusion::prior::{AnyPrior, Prior, decode_latents, encode_models, latent_parts};

use crate::charts::{Points, scatter};
use crate::error::DashboardError;

/// The checkpoint file a training run writes.
const CHECKPOINT: &str = "checkpoint.safetensors";
/// Prior samples drawn for the scatter plots, and their seed.
const SAMPLES: usize = 100;
const SAMPLE_SEED: u64 = 0;
/// Most corpus models encoded for the scatter plots.
const MAX_CORPUS: usize = 500;
/// Sliders reach ±`RANGE_IN_STD`·s; requests beyond are refused.
pub const RANGE_IN_STD: f64 = 4.0;

/// A loaded latent-variable prior with its reference point clouds.
pub struct Playground {
    prior: AnyPrior,
    /// The latent std s of the prior N(0, s²I).
    latent_std: f64,
    shape: [usize; 2],
    /// Encoded corpus latents and their (v₁, v₂).
    corpus_z: Vec<(f64, f64)>,
    corpus_v: Vec<(f64, f64)>,
    /// Latents z ~ N(0, s²I) and the (v₁, v₂) of their decodings.
    sample_z: Vec<(f64, f64)>,
    sample_v: Vec<(f64, f64)>,
    /// Colour range of 2-D pictures (m/s).
    range: (f32, f32),
    /// What could not be shown, in words.
    pub notes: Vec<String>,
}

/// What one slider position shows: the decoded model and where it sits in both planes.
#[derive(Debug, Serialize)]
pub struct View {
    /// The latent point.
    pub z: [f64; 2],
    /// Top and bottom velocity of the decoded model (m/s).
    pub v1: f64,
    /// Bottom velocity (m/s).
    pub v2: f64,
    /// The decoded profile as an SVG plot, for H×1 models (2-D models are a PNG instead).
    pub profile_svg: Option<String>,
    /// Latent scatter with the point.
    pub latent_svg: String,
    /// (v₁, v₂) scatter with the point.
    pub velocity_svg: String,
}

/// Whether the run folder `dir` holds a checkpoint with a latent space (autoencoder, VAE, GAN,
/// flow; read from its sidecar).
pub fn has_latent_prior(dir: &Path) -> bool {
    read_meta(dir).is_some_and(|m| {
        matches!(
            m.kind,
            PriorKind::Autoencoder | PriorKind::Vae | PriorKind::Gan | PriorKind::Flow
        )
    })
}

fn read_meta(dir: &Path) -> Option<CheckpointMeta> {
    let text = std::fs::read_to_string(sidecar(&dir.join(CHECKPOINT))).ok()?;
    serde_json::from_str(&text).ok()
}

/// (v₁, v₂) of a model: the mean of its top and of its bottom row (m/s).
fn top_bottom(model: &[f32], [h, w]: [usize; 2]) -> (f64, f64) {
    let mean = |row: &[f32]| row.iter().map(|&v| f64::from(v)).sum::<f64>() / w as f64;
    (mean(&model[..w]), mean(&model[(h - 1) * w..]))
}

fn pairs(flat: &[f32]) -> Vec<(f64, f64)> {
    flat.chunks_exact(2)
        .map(|p| (f64::from(p[0]), f64::from(p[1])))
        .collect()
}

impl Playground {
    /// Loads the prior of run folder `dir`, encodes (part of) its training corpus when the
    /// file is still there and the network has an encoder, and decodes the prior's samples;
    /// the network runs on `device`.
    pub fn load(dir: &Path, device: &candle_core::Device) -> Result<Playground, DashboardError> {
        let path = dir.join(CHECKPOINT);
        if !has_latent_prior(dir) {
            return Err(DashboardError::BadRequest(format!(
                "{} has no latent space; the playground needs a run of `velprior train` with kind = \"autoencoder\", \"vae\", \"gan\" or \"flow\"",
                path.display()
            )));
        }
        let bad = |e: velprior_diffusion::DiffusionError| {
            DashboardError::BadRequest(format!("{}: {e}", path.display()))
        };
        let prior = AnyPrior::load(&path, device).map_err(bad)?;
        let (decoder, s) = latent_parts(&prior).map_err(bad)?;
        if decoder.latent_dim() != 2 {
            return Err(DashboardError::BadRequest(format!(
                "{}: latent dimension {}; the playground needs a 2-D latent",
                path.display(),
                decoder.latent_dim()
            )));
        }
        let shape = prior.meta().model_shape;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(SAMPLE_SEED);
        let z: Vec<f32> = (0..2 * SAMPLES)
            .map(|_| {
                let e: f64 = StandardNormal.sample(&mut rng);
                (s * e) as f32
            })
            .collect();
        let decoded = decode_latents(&prior, &z).map_err(bad)?;
        let per = shape[0] * shape[1];
        let sample_v: Vec<(f64, f64)> = decoded.chunks(per).map(|m| top_bottom(m, shape)).collect();
        let mut notes = Vec::new();
        let (corpus_z, corpus_v) = match corpus_path(dir, &prior.meta().corpus.path) {
            Some(p) => {
                match velprior_data::read_corpus(&p, None) {
                    Ok(c) if c.model_shape() == shape => {
                        let n = c.len().min(MAX_CORPUS);
                        let models = &c.velocity()[..n * per];
                        let latents = encode_models(&prior, models).map_err(bad)?;
                        if latents.is_none() {
                            notes.push("a GAN has no encoder: the corpus is shown in the velocity plane only".into());
                        }
                        let v = models.chunks(per).map(|m| top_bottom(m, shape)).collect();
                        (pairs(&latents.unwrap_or_default()), v)
                    }
                    Ok(_) => {
                        notes.push(format!(
                            "{}: model size differs from the checkpoint's",
                            p.display()
                        ));
                        (Vec::new(), Vec::new())
                    }
                    Err(e) => {
                        notes.push(format!("training corpus unreadable: {e}"));
                        (Vec::new(), Vec::new())
                    }
                }
            }
            None => {
                notes.push(format!(
                    "training corpus {} not found: only the prior's samples are shown",
                    prior.meta().corpus.path.display()
                ));
                (Vec::new(), Vec::new())
            }
        };
        let all = decoded
            .iter()
            .copied()
            .chain(corpus_v.iter().flat_map(|p| [p.0 as f32, p.1 as f32]));
        let range = all.fold((f32::MAX, f32::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
        Ok(Playground {
            prior,
            latent_std: s,
            shape,
            corpus_z,
            corpus_v,
            sample_z: pairs(&z),
            sample_v,
            range,
            notes,
        })
    }

    /// The slider limit: ±`RANGE_IN_STD`·s.
    pub fn limit(&self) -> f64 {
        RANGE_IN_STD * self.latent_std
    }

    /// Whether the models are profiles (H×1) drawn as curves rather than pictures.
    pub fn is_profile(&self) -> bool {
        self.shape[1] == 1
    }

    /// Validates a slider request: both coordinates finite numbers within the limit.
    pub fn check(&self, z1: Option<&str>, z2: Option<&str>) -> Result<[f64; 2], DashboardError> {
        let lim = self.limit();
        let parse = |name: &str, v: Option<&str>| {
            v.and_then(|s| s.trim().parse::<f64>().ok())
                .filter(|x| x.is_finite() && x.abs() <= lim)
                .ok_or_else(|| {
                    DashboardError::BadRequest(format!(
                        "{name} must be a number in [{:.4}, {:.4}], got {:?}",
                        -lim,
                        lim,
                        v.unwrap_or("nothing")
                    ))
                })
        };
        Ok([parse("z1", z1)?, parse("z2", z2)?])
    }

    fn decode(&self, z: [f64; 2]) -> Result<Vec<f32>, DashboardError> {
        decode_latents(&self.prior, &[z[0] as f32, z[1] as f32])
            .map_err(|e| DashboardError::Io(format!("decoding failed: {e}")))
    }

    /// The view of latent point `z`.
    pub fn view(&self, z: [f64; 2]) -> Result<View, DashboardError> {
        let model = self.decode(z)?;
        let (v1, v2) = top_bottom(&model, self.shape);
        let groups = |corpus: &[(f64, f64)], samples: &[(f64, f64)], here: (f64, f64)| {
            vec![
                Points {
                    name: "corpus",
                    points: corpus.to_vec(),
                    radius: 2,
                },
                Points {
                    name: "prior samples",
                    points: samples.to_vec(),
                    radius: 2,
                },
                Points {
                    name: "this point",
                    points: vec![here],
                    radius: 6,
                },
            ]
        };
        let latent_svg = scatter(
            "latent space",
            ("z1", "z2"),
            &groups(&self.corpus_z, &self.sample_z, (z[0], z[1])),
            Some(self.limit()),
        );
        let velocity_svg = scatter(
            "top vs bottom velocity",
            ("v1 (m/s)", "v2 (m/s)"),
            &groups(&self.corpus_v, &self.sample_v, (v1, v2)),
            None,
        );
        let profile_svg = self.is_profile().then(|| {
            let pts: Vec<(f64, f64)> = model
                .iter()
                .enumerate()
                .map(|(i, &v)| (f64::from(v), -(i as f64)))
                .collect();
            crate::charts::line_chart(
                "decoded profile (depth index, negative down)",
                "velocity (m/s)",
                &[crate::charts::Curve {
                    name: "",
                    points: &pts,
                }],
            )
            .unwrap_or_default()
        });
        Ok(View {
            z,
            v1,
            v2,
            profile_svg,
            latent_svg,
            velocity_svg,
        })
    }

    /// The decoded model at `z` as a PNG on the playground's fixed colour scale.
    pub fn png(&self, z: [f64; 2]) -> Result<Vec<u8>, DashboardError> {
        let model = self.decode(z)?;
        let opts = RenderOptions {
            range: Some(self.range),
            pixels_per_sample: Some((320 / self.shape[0].max(self.shape[1]) as u32).max(1)),
            ..RenderOptions::default()
        };
        let img = render_model(&model, self.shape, &opts)
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

/// The training corpus file: as recorded, or relative to the run folder and its parents.
fn corpus_path(dir: &Path, recorded: &Path) -> Option<PathBuf> {
    if recorded.as_os_str().is_empty() {
        return None;
    }
    std::iter::once(recorded.to_path_buf())
        .chain(dir.ancestors().map(|a| a.join(recorded)))
        .chain(recorded.file_name().map(|f| dir.join(f)))
        .find(|p| p.is_file())
}
