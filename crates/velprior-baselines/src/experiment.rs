//! The regularised-AE teaching experiment (`velprior ae experiment --config
//! configs/ae-two-layer.toml`): two-layer profiles with v2 ≈ 2·v1, a 2-D latent, training
//! with λ > 0 and with λ = 0, then random latents z ~ N(0, s²I) decoded. Do the samples follow
//! the corpus trend, and how many fall off the corpus range without the penalty?
//!
//! Readout of a profile: v1 = mean of its top quarter (z < H/4), v2 = mean of its bottom
//! quarter (z ≥ 3H/4); the interface lies in the middle half (drawn there, or fixed there by
//! `corpus.interface`), so on the corpus this returns the layer velocities exactly.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use velprior_data::render::{save_gif, save_png};
use velprior_data::synth::{Family, SynthSpec, generate};
use velprior_data::{RunDir, write_corpus};

use crate::explore::{latent_scatter, latent_sweep, latent_walk};
use crate::scatter::{ScatterSpec, Series, scatter_plot};
use velprior_diffusion::baselines::AePrior;
use velprior_diffusion::baselines::{AeLoopConfig, AeModelConfig, AeTrainConfig};
use velprior_diffusion::baselines::{AeObserver, AeTrainer};
use velprior_diffusion::config::DataConfig;
use velprior_diffusion::{DiffusionError, Result};

/// The generated corpus.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TwoLayerCorpusConfig {
    /// Number of profiles.
    pub n: usize,
    /// Generator seed.
    pub seed: u64,
    /// Samples per profile H.
    pub height: usize,
    /// Depth spacing, m.
    pub spacing: f64,
    /// Interface at this fraction of the depth; omitted: uniform in the middle half (then
    /// the corpus has a third, discontinuous factor that a 2-D latent can only fold).
    #[serde(default)]
    pub interface: Option<f64>,
}

/// The normalisation range.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RangeConfig {
    /// Velocity mapped to −1, m/s.
    pub vmin: f32,
    /// Velocity mapped to +1, m/s.
    pub vmax: f32,
}

/// Sampling and pictures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExperimentOptions {
    /// Random latents decoded per run.
    pub samples: usize,
    /// Seed of those latents.
    pub seed: u64,
    /// λ of the comparison run (0 = no penalty).
    pub baseline_lambda: f64,
    /// Points per axis of the latent sweep.
    pub sweep_grid: usize,
    /// Sweep half-width in units of s.
    pub sweep_extent: f64,
    /// Frames of the latent walk.
    pub walk_frames: usize,
}

impl Default for ExperimentOptions {
    fn default() -> Self {
        ExperimentOptions {
            samples: 100,
            seed: 1,
            baseline_lambda: 0.0,
            sweep_grid: 9,
            sweep_extent: 2.5,
            walk_frames: 30,
        }
    }
}

/// The whole experiment config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AeExperimentConfig {
    /// Output folder (one sub-folder per λ).
    pub output: PathBuf,
    /// The corpus to generate.
    pub corpus: TwoLayerCorpusConfig,
    /// Normalisation.
    pub data: RangeConfig,
    /// The network; its `lambda` is the penalised run.
    pub model: AeModelConfig,
    /// Training of both runs.
    #[serde(default)]
    pub train: AeLoopConfig,
    /// Sampling and pictures.
    #[serde(default)]
    pub experiment: ExperimentOptions,
}

impl AeExperimentConfig {
    /// Reads and checks a TOML file; errors name the file and key.
    pub fn load(path: &Path) -> Result<AeExperimentConfig> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            DiffusionError::Config(format!("{}: cannot read config ({e})", path.display()))
        })?;
        let cfg: AeExperimentConfig = velprior_diffusion::config::parse_toml(&text, path)?;
        let o = &cfg.experiment;
        if cfg.corpus.n < 2 || cfg.corpus.height < 4 {
            return Err(DiffusionError::Config(format!(
                "{}: corpus.n must be at least 2 and corpus.height at least 4",
                path.display()
            )));
        }
        if let Some(f) = cfg.corpus.interface
            && !(0.25..=0.75).contains(&f)
        {
            return Err(DiffusionError::Config(format!(
                "{}: corpus.interface = {f}: keep the interface in the middle half (0.25 to \
                 0.75) so the top- and bottom-quarter readout sees v1 and v2",
                path.display()
            )));
        }
        if o.samples == 0
            || o.sweep_grid < 2
            || o.walk_frames < 2
            || o.baseline_lambda.is_nan()
            || o.baseline_lambda < 0.0
        {
            return Err(DiffusionError::Config(format!(
                "{}: experiment.samples ≥ 1, sweep_grid ≥ 2, walk_frames ≥ 2, baseline_lambda ≥ 0",
                path.display()
            )));
        }
        cfg.train_config(Path::new("corpus.h5"), cfg.model.lambda)
            .validate(path)?;
        Ok(cfg)
    }

    fn train_config(&self, corpus: &Path, lambda: f64) -> AeTrainConfig {
        AeTrainConfig {
            output: self.output.join(format!("lambda-{lambda}")),
            data: DataConfig {
                corpus: corpus.to_path_buf(),
                dataset: "velocity".into(),
                vmin: self.data.vmin,
                vmax: self.data.vmax,
                flip_lateral: false,
            },
            model: AeModelConfig {
                lambda,
                ..self.model.clone()
            },
            train: self.train.clone(),
        }
    }
}

/// Linear fit of v2 on v1 and the spread of a set of (v1, v2) pairs (m/s).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PairStats {
    /// Number of pairs.
    pub n: usize,
    /// Least-squares slope of v2 on v1.
    pub slope: f64,
    /// Its intercept, m/s.
    pub intercept: f64,
    /// Pearson correlation of v1 and v2.
    pub correlation: f64,
    /// [min, max] of v1.
    pub v1_range: [f64; 2],
    /// [min, max] of v2.
    pub v2_range: [f64; 2],
}

/// One λ's results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LambdaRun {
    /// Penalty weight.
    pub lambda: f64,
    /// Its run folder.
    pub run_dir: PathBuf,
    /// Latent std s used for sampling.
    pub latent_std: f64,
    /// Mean and std of the corpus latents per dimension (where the codes actually sit).
    pub latent_mean: Vec<f64>,
    /// RMS reconstruction error of the corpus, m/s.
    pub reconstruction_rmse: f64,
    /// The decoded random latents.
    pub samples: PairStats,
    /// |slope − corpus slope| / corpus slope.
    pub slope_relative_error: f64,
    /// Samples whose v1 or v2 lies outside the corpus range of that parameter.
    pub off_range: usize,
}

/// Pass/fail of the criteria on the penalised run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Criteria {
    /// Sample slope within 10 % of the corpus slope.
    pub slope_within_10_percent: bool,
    /// Sample correlation ≥ 0.9.
    pub correlation_at_least_0_9: bool,
    /// Clearly fewer off-range samples with the penalty than without: at most half as many.
    pub penalty_halves_off_range: bool,
}

/// `summary.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExperimentSummary {
    /// How v1 and v2 are read from a profile.
    pub readout: String,
    /// What counts as off-range.
    pub off_range_rule: String,
    /// The corpus pairs.
    pub corpus: PairStats,
    /// The penalised run, then the baseline run.
    pub runs: Vec<LambdaRun>,
    /// The checks.
    pub criteria: Criteria,
}

/// The corpus line, one line per λ and the criteria, as `velprior ae experiment` prints them.
impl std::fmt::Display for ExperimentSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let c = &self.corpus;
        writeln!(
            f,
            "corpus: slope {:.3}, correlation {:.3}",
            c.slope, c.correlation
        )?;
        for r in &self.runs {
            writeln!(
                f,
                "lambda = {}: samples slope {:.3} ({:.1} % off), correlation {:.3}, off-range \
                 {}/{}",
                r.lambda,
                r.samples.slope,
                100.0 * r.slope_relative_error,
                r.samples.correlation,
                r.off_range,
                r.samples.n
            )?;
        }
        let k = &self.criteria;
        writeln!(
            f,
            "criteria: slope within 10 % {}, correlation >= 0.9 {}, penalty halves off-range {}",
            k.slope_within_10_percent, k.correlation_at_least_0_9, k.penalty_halves_off_range
        )
    }
}

/// Runs the experiment into `cfg.output`; returns the summary (also in `summary.json`).
pub fn run_experiment(
    cfg: &AeExperimentConfig,
    observer: &mut dyn AeObserver,
) -> Result<ExperimentSummary> {
    let run = RunDir::create(&cfg.output)?;
    run.write_json("config.json", cfg)?;
    let c = &cfg.corpus;
    let corpus = generate(&SynthSpec {
        shape: Some([c.height, 1]),
        spacing: c.spacing,
        interface: c.interface,
        ..SynthSpec::new(Family::TwoLayer, c.n, c.seed)
    })?;
    let corpus_path = run.path("corpus.h5");
    write_corpus(&corpus_path, &corpus)?;
    let h = c.height;
    let corpus_pairs = readout(corpus.velocity(), h);
    let corpus_stats = pair_stats(&corpus_pairs);
    let mut runs = Vec::new();
    for lambda in [cfg.model.lambda, cfg.experiment.baseline_lambda] {
        let tc = cfg.train_config(&corpus_path, lambda);
        let host = candle_core::Device::Cpu; // host: the teaching experiment's tiny networks
        let mut trainer = AeTrainer::new(tc.clone(), &host)?;
        let checkpoint = trainer.run(observer, None)?;
        let prior = AePrior::load(&checkpoint, &host)?;
        let o = &cfg.experiment;
        let samples = prior.sample(o.samples, o.seed)?;
        let pairs = readout(&samples, h);
        let stats = pair_stats(&pairs);
        let off_range = pairs
            .iter()
            .filter(|[v1, v2]| {
                !(corpus_stats.v1_range[0]..=corpus_stats.v1_range[1]).contains(v1)
                    || !(corpus_stats.v2_range[0]..=corpus_stats.v2_range[1]).contains(v2)
            })
            .count();
        let latents = prior.encode(corpus.velocity())?;
        let recon = prior.decode(&latents)?;
        let rmse = (recon
            .iter()
            .zip(corpus.velocity())
            .map(|(a, b)| ((a - b) as f64).powi(2))
            .sum::<f64>()
            / recon.len() as f64)
            .sqrt();
        let dir = trainer.run_dir();
        let tag = format!("lambda = {lambda}");
        save_png(
            &dir.path("v1v2-scatter.png"),
            &pairs_plot(&corpus_pairs, &pairs, &corpus_stats, &tag)?,
        )?;
        if prior.latent_dim() >= 2 {
            save_png(
                &dir.path("latent-scatter.png"),
                &latent_scatter(&prior, &latents, &format!("Encoded corpus, {tag}"))?,
            )?;
        }
        save_png(
            &dir.path("latent-sweep.png"),
            &latent_sweep(&prior, o.sweep_grid, o.sweep_extent)?,
        )?;
        let (lo, hi) = extremes(&corpus_pairs);
        let frames = latent_walk(&prior, corpus.model(lo), corpus.model(hi), o.walk_frames)?;
        save_gif(&dir.path("latent-walk.gif"), &frames, 100)?;
        runs.push(LambdaRun {
            lambda,
            run_dir: dir.root().to_path_buf(),
            latent_std: prior.latent_std(),
            latent_mean: column_means(&latents, prior.latent_dim()),
            reconstruction_rmse: rmse,
            slope_relative_error: (stats.slope - corpus_stats.slope).abs()
                / corpus_stats.slope.abs(),
            samples: stats,
            off_range,
        });
    }
    let criteria = Criteria {
        slope_within_10_percent: runs[0].slope_relative_error <= 0.1,
        correlation_at_least_0_9: runs[0].samples.correlation >= 0.9,
        penalty_halves_off_range: 2 * runs[0].off_range <= runs[1].off_range,
    };
    let summary = ExperimentSummary {
        readout: "v1 = mean of the top quarter of a profile (z < H/4), v2 = mean of the bottom \
                  quarter (z >= 3H/4)"
            .into(),
        off_range_rule: "v1 outside [min, max] of the corpus v1, or v2 outside [min, max] of \
                         the corpus v2"
            .into(),
        corpus: corpus_stats,
        runs,
        criteria,
    };
    run.write_json("summary.json", &summary)?;
    Ok(summary)
}

/// (v1, v2) of each (H, 1) profile in `models` (m/s): means of the top and bottom quarters.
pub fn readout(models: &[f32], h: usize) -> Vec<[f64; 2]> {
    let (top, bottom) = (h / 4, 3 * h / 4);
    models
        .chunks_exact(h)
        .map(|p| {
            let mean = |s: &[f32]| s.iter().map(|&v| v as f64).sum::<f64>() / s.len() as f64;
            [mean(&p[..top.max(1)]), mean(&p[bottom..])]
        })
        .collect()
}

/// Least-squares slope and intercept of v2 on v1, correlation and ranges.
pub fn pair_stats(pairs: &[[f64; 2]]) -> PairStats {
    let n = pairs.len() as f64;
    let (m1, m2) = (
        pairs.iter().map(|p| p[0]).sum::<f64>() / n,
        pairs.iter().map(|p| p[1]).sum::<f64>() / n,
    );
    let (mut s11, mut s22, mut s12) = (0.0, 0.0, 0.0);
    for p in pairs {
        let (a, b) = (p[0] - m1, p[1] - m2);
        s11 += a * a;
        s22 += b * b;
        s12 += a * b;
    }
    let range = |k: usize| {
        pairs
            .iter()
            .fold([f64::INFINITY, f64::NEG_INFINITY], |r, p| {
                [r[0].min(p[k]), r[1].max(p[k])]
            })
    };
    let slope = s12 / s11;
    PairStats {
        n: pairs.len(),
        slope,
        intercept: m2 - slope * m1,
        correlation: s12 / (s11 * s22).sqrt(),
        v1_range: range(0),
        v2_range: range(1),
    }
}

fn column_means(latents: &[f32], k: usize) -> Vec<f64> {
    let n = (latents.len() / k) as f64;
    (0..k)
        .map(|j| {
            latents
                .iter()
                .skip(j)
                .step_by(k)
                .map(|&v| v as f64)
                .sum::<f64>()
                / n
        })
        .collect()
}

/// Indices of the profiles with the lowest and the highest v1.
fn extremes(pairs: &[[f64; 2]]) -> (usize, usize) {
    let by_v1 = |a: &(usize, &[f64; 2]), b: &(usize, &[f64; 2])| a.1[0].total_cmp(&b.1[0]);
    let lo = pairs.iter().enumerate().min_by(by_v1).map_or(0, |p| p.0);
    let hi = pairs.iter().enumerate().max_by(by_v1).map_or(0, |p| p.0);
    (lo, hi)
}

fn pairs_plot(
    corpus: &[[f64; 2]],
    samples: &[[f64; 2]],
    stats: &PairStats,
    tag: &str,
) -> Result<image::RgbImage> {
    scatter_plot(&ScatterSpec {
        title: format!("v2 against v1, {tag}"),
        x_label: "v1 (top layer), m/s".into(),
        y_label: "v2 (bottom layer), m/s".into(),
        series: vec![
            Series {
                label: format!("corpus ({})", corpus.len()),
                points: corpus,
                color: [31, 119, 180],
            },
            Series {
                label: format!("decoded random latents ({})", samples.len()),
                points: samples,
                color: [214, 39, 40],
            },
        ],
        frame: Some((
            [
                stats.v1_range[0],
                stats.v1_range[1],
                stats.v2_range[0],
                stats.v2_range[1],
            ],
            "corpus range".into(),
        )),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pair_stats_of_an_exact_line_and_the_readout() {
        let pairs: Vec<[f64; 2]> = (0..10).map(|i| [i as f64, 3.0 * i as f64 + 2.0]).collect();
        let s = pair_stats(&pairs);
        assert!((s.slope - 3.0).abs() < 1e-12 && (s.intercept - 2.0).abs() < 1e-9);
        assert!((s.correlation - 1.0).abs() < 1e-12);
        assert_eq!(s.v2_range, [2.0, 29.0]);
        let profile = [1.0f32, 1.0, 1.0, 1.0, 5.0, 5.0, 5.0, 5.0];
        assert_eq!(readout(&profile, 8), vec![[1.0, 5.0]]);
    }
}
