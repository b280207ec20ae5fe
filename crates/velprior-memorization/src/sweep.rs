//! Memorization against training-set size: the same small diffusion prior trained on nested
//! subsets of size N of one synthetic corpus, sampled, and assessed; the empirical optimal
//! denoiser (memorises by construction) and the Gaussian fitted to the subset (never
//! memorises) as references; and the disjoint-sets test of Kadkhodaie et al. (2024): a second
//! prior trained on N other models, sampled from the same noise, and the similarity of the
//! paired samples.

use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};
use serde::{Deserialize, Serialize};
use velprior_data::render::save_png;
use velprior_data::synth::{Family, SynthSpec, generate};
use velprior_data::{Corpus, Normalisation, RunDir, write_corpus};
use velprior_diffusion::Denoiser;
use velprior_diffusion::config::{DataConfig, DiffusionConfig, TrainConfig, TrainLoopConfig};
use velprior_diffusion::oracles::{EmpiricalOracle, GaussianOracle};
use velprior_diffusion::prior::DiffusionPrior;
use velprior_diffusion::samplers::{NoObserver, SamplerConfig, sample};
use velprior_diffusion::trainer::{Silent, Trainer};
use velprior_nn::UNetConfig;

use super::criteria::{CriteriaSummary, criteria, neighbours_needed, summarise};
use super::knn::{KnnOptions, Metric, exact_l2, exact_ncc, knn};
use super::source::InMemory;
use crate::error::{MemorizationError, Result};
use velprior_data::render::charts::{Series, line_chart};

/// `velprior memorization sweep` config (TOML; unknown keys rejected).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepConfig {
    /// Run folder.
    pub output: PathBuf,
    /// Synthetic family of the corpus.
    pub family: Family,
    /// Model size (H, W).
    pub shape: [usize; 2],
    /// Corpus seed.
    pub corpus_seed: u64,
    /// Training-set sizes N (nested subsets of one corpus), increasing.
    pub sizes: Vec<usize>,
    /// Held-out models (the d1 reference of models that are not copies).
    pub test_models: usize,
    /// Samples drawn per prior.
    pub samples: usize,
    /// Seed of the sampler noise (shared by every prior, so disjoint-set pairs share noise).
    pub sample_seed: u64,
    /// Where the priors train and sample: `cpu` (default), `cuda` or `cuda:N`.
    #[serde(default)]
    pub device: velprior_kernels::DeviceSpec,
    /// Normalisation range (m/s).
    pub vmin: f32,
    /// Normalisation range (m/s).
    pub vmax: f32,
    /// Also train on N disjoint models and compare paired samples (Kadkhodaie et al.).
    #[serde(default)]
    pub disjoint_halves: bool,
    /// The network.
    pub model: UNetConfig,
    /// Noise process.
    #[serde(default)]
    pub diffusion: DiffusionConfig,
    /// Training loop (the same for every N).
    pub train: TrainLoopConfig,
    /// Sampler for the trained priors and both references.
    pub sampler: SamplerConfig,
}

impl SweepConfig {
    /// Reads and checks a config file; errors name the file and key.
    pub fn load(path: &Path) -> Result<SweepConfig> {
        let cfg: SweepConfig = velprior_data::toml_file::load_toml(path)?;
        let bad = |key: &str, why: &str| {
            Err(MemorizationError::invalid(format!(
                "{}: {key} {why}",
                path.display()
            )))
        };
        if cfg.sizes.is_empty()
            || cfg.sizes.iter().any(|&n| n < 2)
            || cfg.sizes.windows(2).any(|w| w[0] >= w[1])
        {
            return bad(
                "sizes",
                "must be increasing training-set sizes of at least 2, e.g. [16, 64, 256]",
            );
        }
        if cfg.samples == 0 || cfg.test_models == 0 {
            return bad("samples / test_models", "must be at least 1");
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
}

/// Results at one training-set size.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SweepPoint {
    /// Training-set size.
    pub n: usize,
    /// The trained prior's samples.
    pub trained: CriteriaSummary,
    /// The empirical optimal denoiser's samples.
    pub empirical: CriteriaSummary,
    /// The Gaussian N(mean, cov) of the subset's samples.
    pub gaussian: CriteriaSummary,
    /// Held-out real models.
    pub held_out: CriteriaSummary,
    /// Median NCC of paired samples of the priors trained on disjoint sets (same noise).
    pub disjoint_ncc_median: Option<f64>,
    /// Median L2 distance of those pairs (normalised units).
    pub disjoint_l2_median: Option<f64>,
    /// Seconds spent training at this size.
    pub train_seconds: f64,
}

/// Runs the sweep, writing `sweep.json`, `metrics.jsonl`, `memorised_fraction.png` and (with
/// disjoint sets) `disjoint_similarity.png`; `progress` hears each finished size.
pub fn run_sweep(
    cfg: &SweepConfig,
    progress: &mut dyn FnMut(&SweepPoint),
) -> Result<Vec<SweepPoint>> {
    let run = RunDir::create(&cfg.output)?;
    run.write_json("config.json", cfg)?;
    let points = sweep_points(cfg, &run, &cfg.sizes, progress)?;
    finish_sweep(&run, &points)?;
    Ok(points)
}

/// The points at `sizes` (some of `cfg.sizes`; each depends only on `cfg` and its size, so
/// shards of a sweep can split them): priors trained in `run/n<N>/`, each point appended to
/// `run/metrics.jsonl`.
pub fn sweep_points(
    cfg: &SweepConfig,
    run: &RunDir,
    sizes: &[usize],
    progress: &mut dyn FnMut(&SweepPoint),
) -> Result<Vec<SweepPoint>> {
    let norm = Normalisation::new(cfg.vmin, cfg.vmax)?;
    let n_max = *cfg.sizes.last().expect("checked non-empty");
    let total = n_max * if cfg.disjoint_halves { 2 } else { 1 } + cfg.test_models;
    let mut spec = SynthSpec::new(cfg.family, total, cfg.corpus_seed);
    spec.shape = Some(cfg.shape);
    let corpus = generate(&spec)?;
    let [h, w] = cfg.shape;
    let d = h * w;
    let mut unit = corpus.velocity().to_vec();
    norm.normalise(&mut unit);
    let held_out = &unit[(total - cfg.test_models) * d..];
    let device = cfg.device.open()?;
    let mut points = Vec::new();
    for &n in sizes {
        let subset = &unit[..n * d];
        let t0 = std::time::Instant::now();
        let trained = train_and_sample(
            cfg,
            run,
            &corpus.select(&(0..n).collect::<Vec<_>>())?,
            &format!("n{n}"),
        )?;
        let other = if cfg.disjoint_halves {
            let idx: Vec<usize> = (n_max..n_max + n).collect();
            Some(train_and_sample(
                cfg,
                run,
                &corpus.select(&idx)?,
                &format!("n{n}-disjoint"),
            )?)
        } else {
            None
        };
        let train_seconds = t0.elapsed().as_secs_f64();
        let t = Tensor::from_slice(subset, (n, 1, h, w), &Device::Cpu)?; // host: the oracle's input
        let empirical = draw(cfg, &EmpiricalOracle::new(&t)?)?;
        let (mean, cov) = moments(subset, d);
        let gaussian = draw(cfg, &GaussianOracle::new(&mean, &cov)?)?;
        let pair = |f: fn(&[f32], &[f32]) -> f64| {
            other.as_ref().map(|o| {
                let v: Vec<f64> = trained
                    .chunks(d)
                    .zip(o.chunks(d))
                    .map(|(a, b)| f(a, b))
                    .collect();
                super::criteria::median(&v)
            })
        };
        let point = SweepPoint {
            n,
            trained: assess_against(&trained, subset, d, &device)?,
            empirical: assess_against(&empirical, subset, d, &device)?,
            gaussian: assess_against(&gaussian, subset, d, &device)?,
            held_out: assess_against(held_out, subset, d, &device)?,
            disjoint_ncc_median: pair(exact_ncc),
            disjoint_l2_median: pair(exact_l2),
            train_seconds,
        };
        run.append_jsonl("metrics.jsonl", &point)?;
        progress(&point);
        points.push(point);
    }
    Ok(points)
}

/// Writes `sweep.json` and the charts of `points` into `run`.
pub fn finish_sweep(run: &RunDir, points: &[SweepPoint]) -> Result<()> {
    run.write_json("sweep.json", &points)?;
    write_charts(run, points)
}

/// Trains the configured prior on `subset` in `run/<name>/` and draws the configured samples
/// (normalised, row-major (samples, H·W)).
fn train_and_sample(
    cfg: &SweepConfig,
    run: &RunDir,
    subset: &Corpus,
    name: &str,
) -> Result<Vec<f32>> {
    let dir = run.path(name);
    std::fs::create_dir_all(&dir)
        .map_err(|e| MemorizationError::invalid(format!("{}: {e}", dir.display())))?;
    let corpus_path = dir.join("train.h5");
    write_corpus(&corpus_path, subset)?;
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
        train: cfg.train.clone(),
        device: cfg.device,
    };
    let device = cfg.device.open()?;
    let checkpoint = Trainer::new(tc, &device)?.run(&mut Silent, None)?;
    let prior = DiffusionPrior::load(&checkpoint, &device)?;
    let x = sample(
        &prior.denoiser,
        &cfg.sampler,
        &prior.schedule,
        &sample_shape(cfg),
        &device,
        cfg.sample_seed,
        &mut NoObserver,
    )?;
    Ok(x.flatten_all()?.to_vec1()?)
}

/// Samples of an analytic denoiser on the configured schedule and noise.
fn draw(cfg: &SweepConfig, model: &dyn Denoiser) -> Result<Vec<f32>> {
    let schedule = cfg.diffusion.schedule()?;
    let x = sample(
        model,
        &cfg.sampler,
        &schedule,
        &sample_shape(cfg),
        model.device(),
        cfg.sample_seed,
        &mut NoObserver,
    )?;
    Ok(x.flatten_all()?.to_vec1()?)
}

fn sample_shape(cfg: &SweepConfig) -> [usize; 4] {
    [cfg.samples, 1, cfg.shape[0], cfg.shape[1]]
}

/// Criteria summary of `models` against `train` (both normalised, row-major).
fn assess_against(
    models: &[f32],
    train: &[f32],
    d: usize,
    device: &Device,
) -> Result<CriteriaSummary> {
    let k = neighbours_needed(train.len() / d);
    let nn = knn(
        models,
        &InMemory::new(train, d)?,
        &KnnOptions::new(k, Metric::L2).on(device),
    )?;
    Ok(summarise(&criteria(&nn)?, k))
}

/// Sample mean and covariance (divisor N) of row-major (N, D) models.
fn moments(x: &[f32], d: usize) -> (Vec<f64>, Vec<f64>) {
    let n = (x.len() / d) as f64;
    let mut mean = vec![0.0; d];
    for r in x.chunks(d) {
        mean.iter_mut()
            .zip(r)
            .for_each(|(m, &v)| *m += f64::from(v) / n);
    }
    let mut cov = vec![0.0; d * d];
    for r in x.chunks(d) {
        let c: Vec<f64> = r
            .iter()
            .zip(&mean)
            .map(|(&v, m)| f64::from(v) - m)
            .collect();
        for i in 0..d {
            for j in 0..d {
                cov[i * d + j] += c[i] * c[j] / n;
            }
        }
    }
    (mean, cov)
}

fn write_charts(run: &RunDir, points: &[SweepPoint]) -> Result<()> {
    let series = |name: &str, f: fn(&SweepPoint) -> f64| Series {
        name: name.into(),
        points: points.iter().map(|p| (p.n as f64, f(p))).collect(),
    };
    let fractions = [
        series("trained prior", |p| p.trained.fraction_gu),
        series("empirical denoiser", |p| p.empirical.fraction_gu),
        series("Gaussian", |p| p.gaussian.fraction_gu),
        series("held-out real", |p| p.held_out.fraction_gu),
    ];
    let img = line_chart(
        "memorised fraction (d1/d2 < 1/3) vs training-set size",
        ("N", "fraction"),
        &fractions,
        true,
        Some((0.0, 1.0)),
    );
    save_png(&run.path("memorised_fraction.png"), &img)?;
    if points.iter().all(|p| p.disjoint_ncc_median.is_some()) {
        let sim = [series("median NCC of paired samples", |p| {
            p.disjoint_ncc_median.unwrap_or(f64::NAN)
        })];
        let img = line_chart(
            "priors trained on disjoint sets, same noise",
            ("N", "NCC"),
            &sim,
            true,
            Some((0.0, 1.0)),
        );
        save_png(&run.path("disjoint_similarity.png"), &img)?;
    }
    Ok(())
}
