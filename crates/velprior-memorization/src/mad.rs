//! Self-consuming generative loops (Alemohammad et al. 2024, "Self-consuming generative models
//! go MAD"): generation 0 trains a small diffusion prior on real models; generation g trains
//! the same prior on samples of generation g − 1, mixed in the fixed-real and fresh-real loops
//! with a fraction of real models (the same subset every generation, or new models each
//! generation). Each generation's samples are scored by k-NN precision and recall
//! (Kynkäänniemi et al. 2019) against held-out real models.

use std::path::{Path, PathBuf};

use image::RgbImage;
use serde::{Deserialize, Serialize};
use velprior_data::render::save_png;
use velprior_data::synth::{Family, SynthSpec, generate};
use velprior_data::{Corpus, CorpusMeta, Normalisation, RunDir, write_corpus};
use velprior_diffusion::config::{DataConfig, DiffusionConfig, TrainConfig, TrainLoopConfig};
use velprior_diffusion::prior::DiffusionPrior;
use velprior_diffusion::samplers::{NoObserver, SamplerConfig, sample};
use velprior_diffusion::trainer::{Silent, Trainer};
use velprior_nn::UNetConfig;

use super::precision_recall::{PrecisionRecall, precision_recall};
use crate::error::{MemorizationError, Result};
use velprior_data::render::charts::{PALETTE, Series, line_chart};

/// Where each generation's real models come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoopKind {
    /// Samples of the previous generation only.
    FullySynthetic,
    /// Samples plus the same real subset every generation (synthetic augmentation).
    FixedReal,
    /// Samples plus real models never seen before, new each generation.
    FreshReal,
}

impl LoopKind {
    /// Folder and legend name.
    pub fn name(self) -> &'static str {
        match self {
            LoopKind::FullySynthetic => "fully-synthetic",
            LoopKind::FixedReal => "fixed-real",
            LoopKind::FreshReal => "fresh-real",
        }
    }
}

fn all_loops() -> Vec<LoopKind> {
    vec![
        LoopKind::FullySynthetic,
        LoopKind::FixedReal,
        LoopKind::FreshReal,
    ]
}

fn default_k() -> usize {
    3
}

/// `velprior mad` config (TOML; unknown keys rejected).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MadConfig {
    /// Run folder.
    pub output: PathBuf,
    /// Synthetic family of the real models.
    pub family: Family,
    /// Model size (H, W).
    pub shape: [usize; 2],
    /// Seed of the real corpus.
    pub corpus_seed: u64,
    /// Training-set size of every generation (also the samples drawn per generation).
    pub train_models: usize,
    /// Fraction of each training set that is real in the fixed-real and fresh-real loops.
    pub real_fraction: f64,
    /// Generations after generation 0.
    pub generations: usize,
    /// Loops to run (all three by default).
    #[serde(default = "all_loops")]
    pub loops: Vec<LoopKind>,
    /// Held-out real models that precision and recall are measured against.
    pub test_models: usize,
    /// Neighbour rank of the precision/recall balls (3 in Kynkäänniemi et al.).
    #[serde(default = "default_k")]
    pub pr_k: usize,
    /// Sampler seed of generation 0 (generation g uses sample_seed + g in every loop).
    pub sample_seed: u64,
    /// Where the priors train and sample: `cpu` (default), `cuda` or `cuda:N`.
    #[serde(default)]
    pub device: velprior_kernels::DeviceSpec,
    /// Normalisation range (m/s).
    pub vmin: f32,
    /// Normalisation range (m/s).
    pub vmax: f32,
    /// The network.
    pub model: UNetConfig,
    /// Noise process.
    #[serde(default)]
    pub diffusion: DiffusionConfig,
    /// Training loop of every generation (generation g uses seed train.seed + g).
    pub train: TrainLoopConfig,
    /// Sampler of every generation.
    pub sampler: SamplerConfig,
}

impl MadConfig {
    /// Reads and checks a config file; errors name the file and key.
    pub fn load(path: &Path) -> Result<MadConfig> {
        let cfg: MadConfig = velprior_data::toml_file::load_toml(path)?;
        let bad = |key: &str, why: &str| {
            Err(MemorizationError::invalid(format!(
                "{}: {key} {why}",
                path.display()
            )))
        };
        if cfg.pr_k == 0 || cfg.train_models <= cfg.pr_k || cfg.test_models <= cfg.pr_k {
            return bad(
                "train_models / test_models / pr_k",
                "need pr_k ≥ 1 and more than pr_k models in each set, e.g. 3 and 64",
            );
        }
        if !(0.0..=1.0).contains(&cfg.real_fraction) {
            return bad("real_fraction", "must lie in [0, 1], e.g. 0.5");
        }
        if cfg.generations == 0 || cfg.loops.is_empty() {
            return bad(
                "generations / loops",
                "need at least one generation and one loop",
            );
        }
        if Normalisation::new(cfg.vmin, cfg.vmax).is_err() {
            return bad(
                "vmin/vmax",
                "need finite vmin < vmax (m/s), e.g. 1500 and 4500",
            );
        }
        cfg.sampler.validate()?;
        Ok(cfg)
    }

    /// Real models mixed into each generation of the fixed-real and fresh-real loops.
    pub fn real_per_generation(&self) -> usize {
        (self.real_fraction * self.train_models as f64).round() as usize
    }
}

/// One generation of one loop.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MadPoint {
    /// The loop (generation 0 is shared and reported for every loop).
    pub loop_kind: LoopKind,
    /// Generation g (0 = trained on real models only).
    pub generation: usize,
    /// Real models in this generation's training set.
    pub real_models: usize,
    /// Samples of generation g − 1 in this generation's training set.
    pub synthetic_models: usize,
    /// Precision and recall of this generation's samples against the held-out models.
    pub scores: PrecisionRecall,
    /// Seconds spent training and sampling this generation.
    pub seconds: f64,
}

/// Everything `velprior mad` measured (`mad.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MadSummary {
    /// Generation 0's real training models scored as if generated: the ceiling.
    pub real_reference: PrecisionRecall,
    /// Every generation of every loop.
    pub points: Vec<MadPoint>,
}

/// Runs the loops, writing `config.json`, `metrics.jsonl` (a line per generation),
/// `mad.json` and `precision_recall.png`; each generation's prior lives in
/// `<loop>/gen-<g>/`. `progress` hears each finished generation.
pub fn run_mad(cfg: &MadConfig, progress: &mut dyn FnMut(&MadPoint)) -> Result<MadSummary> {
    let run = RunDir::create(&cfg.output)?;
    run.write_json("config.json", cfg)?;
    let _ = std::fs::remove_file(run.path("metrics.jsonl"));
    let norm = Normalisation::new(cfg.vmin, cfg.vmax)?;
    let (n, n_real) = (cfg.train_models, cfg.real_per_generation());
    let fresh = if cfg.loops.contains(&LoopKind::FreshReal) {
        cfg.generations * n_real
    } else {
        0
    };
    let mut spec = SynthSpec::new(cfg.family, n + fresh + cfg.test_models, cfg.corpus_seed);
    spec.shape = Some(cfg.shape);
    let corpus = generate(&spec)?;
    let d = cfg.shape[0] * cfg.shape[1];
    let mut unit = corpus.velocity().to_vec();
    norm.normalise(&mut unit);
    let held_out = &unit[(n + fresh) * d..];
    let real_reference = precision_recall(held_out, &unit[..n * d], d, cfg.pr_k)?;

    let t0 = std::time::Instant::now();
    let gen0 = train_and_sample(cfg, &run.path("gen-0"), &unit[..n * d], norm, 0)?;
    let scores0 = precision_recall(held_out, &gen0, d, cfg.pr_k)?;
    let seconds0 = t0.elapsed().as_secs_f64();
    let mut points = Vec::new();
    let mut record = |p: MadPoint| -> Result<()> {
        run.append_jsonl("metrics.jsonl", &p)?;
        progress(&p);
        points.push(p);
        Ok(())
    };
    for &kind in &cfg.loops {
        record(MadPoint {
            loop_kind: kind,
            generation: 0,
            real_models: n,
            synthetic_models: 0,
            scores: scores0,
            seconds: seconds0,
        })?;
        let mut previous = gen0.clone();
        for g in 1..=cfg.generations {
            let real = match kind {
                LoopKind::FullySynthetic => &unit[..0],
                LoopKind::FixedReal => &unit[..n_real * d],
                LoopKind::FreshReal => &unit[(n + (g - 1) * n_real) * d..(n + g * n_real) * d],
            };
            let mut mixed = previous[..(n - real.len() / d) * d].to_vec();
            mixed.extend_from_slice(real);
            let t0 = std::time::Instant::now();
            let dir = run.path(&format!("{}/gen-{g}", kind.name()));
            previous = train_and_sample(cfg, &dir, &mixed, norm, g)?;
            record(MadPoint {
                loop_kind: kind,
                generation: g,
                real_models: real.len() / d,
                synthetic_models: n - real.len() / d,
                scores: precision_recall(held_out, &previous, d, cfg.pr_k)?,
                seconds: t0.elapsed().as_secs_f64(),
            })?;
        }
    }
    let summary = MadSummary {
        real_reference,
        points,
    };
    run.write_json("mad.json", &summary)?;
    save_png(&run.path("precision_recall.png"), &chart(cfg, &summary))?;
    Ok(summary)
}

/// Trains the configured prior on `models` (normalised, row-major (N, H·W)) in `dir` with seed
/// train.seed + `generation`, and draws `train_models` samples (normalised) with seed
/// sample_seed + `generation`.
fn train_and_sample(
    cfg: &MadConfig,
    dir: &Path,
    models: &[f32],
    norm: Normalisation,
    generation: usize,
) -> Result<Vec<f32>> {
    std::fs::create_dir_all(dir)
        .map_err(|e| MemorizationError::invalid(format!("{}: {e}", dir.display())))?;
    let [h, w] = cfg.shape;
    let mut velocity = models.to_vec();
    norm.denormalise(&mut velocity);
    let meta = CorpusMeta {
        source: format!("velprior mad generation {generation}"),
        ..CorpusMeta::default()
    };
    let corpus = Corpus::new(velocity, [models.len() / (h * w), h, w], meta)?;
    let corpus_path = dir.join("train.h5");
    write_corpus(&corpus_path, &corpus)?;
    let mut train = cfg.train.clone();
    train.seed = train.seed.wrapping_add(generation as u64);
    let tc = TrainConfig {
        output: dir.join("prior"),
        data: DataConfig {
            corpus: corpus_path,
            dataset: "velocity".into(),
            vmin: cfg.vmin,
            vmax: cfg.vmax,
            flip_lateral: false,
        },
        model: cfg.model.clone(),
        diffusion: cfg.diffusion.clone(),
        train,
        device: cfg.device,
    };
    let device = cfg.device.open()?;
    let checkpoint = Trainer::new(tc, &device)?.run(&mut Silent, None)?;
    let prior = DiffusionPrior::load(&checkpoint, &device)?;
    let x = sample(
        &prior.denoiser,
        &cfg.sampler,
        &prior.schedule,
        &[cfg.train_models, 1, h, w],
        &device,
        cfg.sample_seed.wrapping_add(generation as u64),
        &mut NoObserver,
    )?;
    Ok(x.flatten_all()?.to_vec1()?)
}

/// Precision (left) and recall (right) against generation for each loop, with the real
/// training set's scores as a flat reference line.
fn chart(cfg: &MadConfig, summary: &MadSummary) -> RgbImage {
    let panel = |title: &str, f: fn(&PrecisionRecall) -> f64| {
        let mut series: Vec<Series> = cfg
            .loops
            .iter()
            .map(|&kind| Series {
                name: kind.name().into(),
                points: summary
                    .points
                    .iter()
                    .filter(|p| p.loop_kind == kind)
                    .map(|p| (p.generation as f64, f(&p.scores)))
                    .collect(),
            })
            .collect();
        let r = f(&summary.real_reference);
        series.push(Series {
            name: "real models".into(),
            points: vec![(0.0, r), (cfg.generations as f64, r)],
        });
        debug_assert!(series.len() <= PALETTE.len());
        line_chart(
            title,
            ("generation", title),
            &series,
            false,
            Some((0.0, 1.0)),
        )
    };
    let (left, right) = (
        panel("precision", |s| s.precision),
        panel("recall", |s| s.recall),
    );
    let mut img = RgbImage::new(left.width() + right.width(), left.height());
    image::imageops::replace(&mut img, &left, 0, 0);
    image::imageops::replace(&mut img, &right, i64::from(left.width()), 0);
    img
}
