//! The steps of `velprior quickstart`: pictures of the corpus and of every family, the
//! training demo, draws from the shipped prior and the closing posterior run.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Result;
use candle_core::Device;
use indicatif::ProgressBar;
use serde_json::json;
use velprior_data::render::{RenderOptions, render_grid, save_png};
use velprior_data::synth::{Family, SynthSpec, generate};
use velprior_data::{Corpus, CorpusMeta, RunDir, write_corpus};
use velprior_diffusion::config::TrainConfig;
use velprior_diffusion::prior::{AnyPrior, DiffusionPrior, Prior};
use velprior_diffusion::samplers::{NoObserver, SamplerConfig};
use velprior_diffusion::trainer::{TrainObserver, Trainer};
use velprior_physics::ModelShape;
use velprior_posterior::calibration::{CalibrationConfig, ObservationConfig};
use velprior_posterior::calibration_run::calibrate_into;
use velprior_posterior::dps::{DpsConfig, Guidance};
use velprior_posterior::method::MethodConfig;

use super::QuickstartArgs;
use crate::progress;

struct StepBar(ProgressBar);

impl TrainObserver for StepBar {
    fn on_step(&mut self, step: usize, _total: usize) {
        self.0.set_position(step as u64);
    }
}

/// The small prior of `configs/diffusion-cpu-quick.toml` on the quickstart's train split, for
/// `steps` steps: a faster EMA and warm-up for a run this short, no samples during training
/// (the quickstart draws its own).
fn quick_train_config(run: &RunDir, steps: usize, seed: u64) -> Result<TrainConfig> {
    let text = include_str!("../../configs/diffusion-cpu-quick.toml");
    let mut cfg = TrainConfig::from_toml(text, Path::new("configs/diffusion-cpu-quick.toml"))?;
    cfg.output = run.path("prior");
    cfg.data.corpus = run.path("train.h5");
    let t = &mut cfg.train;
    (t.steps, t.seed, t.ema_decay) = (steps, seed, 0.99);
    (t.checkpoint_every, t.sample_every, t.sample_count) = (steps, 0, 0);
    t.optimizer.warmup_steps = steps / 10;
    Ok(cfg)
}

/// Posterior samples of the closing posterior run.
const POSTERIOR_SAMPLES: usize = 4;

/// Draws `--prior-samples` models from the shipped prior (DPM-Solver++): `samples.h5` and
/// `samples.png`; returns its summary.
pub fn shipped_prior_samples(
    run: &RunDir,
    a: &QuickstartArgs,
    device: &Device,
) -> Result<serde_json::Value> {
    let prior = AnyPrior::load(&a.prior, device)?;
    let [h, w] = prior.meta().model_shape;
    let n = a.prior_samples;
    let sampler = SamplerConfig::dpm_solver(a.prior_steps.max(1));
    let v = draw(&prior, n, a.seed, &sampler)?;
    let title = format!(
        "{}: {n} samples, DPM-Solver++ {} steps",
        a.prior.display(),
        a.prior_steps
    );
    write_models(run, "samples", v, [n, h, w], &title)?;
    Ok(
        json!({"prior": a.prior, "samples": "samples.h5", "models": n,
              "sampler": "dpm-solver", "steps": a.prior_steps}),
    )
}

/// `n` models of `prior` in m/s, in one batch.
fn draw(prior: &AnyPrior, n: usize, seed: u64, sampler: &SamplerConfig) -> Result<Vec<f32>> {
    Ok(prior.sample(n, seed, sampler, n, &mut NoObserver, &mut |_| {})?)
}

/// Writes models (m/s) as `NAME.h5` and `NAME.png` (4 per row, titled).
fn write_models(
    run: &RunDir,
    name: &str,
    velocity: Vec<f32>,
    shape: [usize; 3],
    title: &str,
) -> Result<()> {
    let models = Corpus::new(
        velocity,
        shape,
        CorpusMeta {
            source: format!("quickstart {name}"),
            ..Default::default()
        },
    )?;
    write_corpus(&run.path(&format!("{name}.h5")), &models)?;
    let opts = RenderOptions {
        range: Some((1500.0, 4500.0)),
        title: Some(title.to_string()),
        ..Default::default()
    };
    save_png(
        &run.path(&format!("{name}.png")),
        &render_grid(models.velocity(), shape, 4, &opts, None)?,
    )?;
    Ok(())
}

/// The closing posterior run: one held-out model of the shipped prior's family and size (seeded
/// `seed` + 1000, a corpus the prior never saw), 7 well logs with 50 m/s noise, DPS through the
/// network; writes `posterior/` (metrics.json, calibration.png) and returns its summary.
pub fn posterior_step(
    run: &RunDir,
    a: &QuickstartArgs,
    device: &Device,
) -> Result<serde_json::Value> {
    let shape = DiffusionPrior::load(&a.prior, device)?.meta.model_shape;
    let held_out = generate(&SynthSpec {
        shape: Some(shape),
        ..SynthSpec::new(a.prior_family, 1, a.seed + 1000)
    })?;
    let [_, h, w] = held_out.shape();
    let cfg = CalibrationConfig {
        prior: a.prior.clone(),
        models: PathBuf::new(),
        count: 1,
        operator: ObservationConfig::Wells { every: 10 },
        noise_std: Some(50.0),
        noise_relative: None,
        start_method: None,
        start_smooth_sigma: 10.0,
        method: MethodConfig::Dps(DpsConfig {
            steps: a.posterior_steps,
            zeta: 0.001,
            guidance: Guidance::Network,
            likelihood_steps: 1,
            samples: POSTERIOR_SAMPLES,
            clip_x0: true,
        }),
    };
    let dir = RunDir::create(&run.path("posterior"))?;
    let report = calibrate_into(
        &dir,
        &cfg,
        held_out.velocity(),
        ModelShape::new(h, w),
        a.seed,
        device,
        &|_| {},
    )?;
    let m = &report.models[0].scores;
    Ok(
        json!({"folder": "posterior", "method": "dps", "steps": a.posterior_steps,
              "samples": POSTERIOR_SAMPLES, "observation": "7 well logs, 50 m/s noise",
              "truth_within_1sigma": m.within_1sigma, "truth_within_2sigma": m.within_2sigma,
              "mean_ssim": m.mean_metrics.ssim, "rmse_m_s": report.rmse_mps,
              "mean_std_m_s": m.mean_std}),
    )
}

/// `corpus.png`: the first 16 models of the corpus drawn from `seed`.
pub fn corpus_picture(run: &RunDir, corpus: &Corpus, seed: u64) -> Result<()> {
    let [n, h, w] = corpus.shape();
    let shown = n.min(16);
    let options = RenderOptions {
        range: Some((1500.0, 4500.0)),
        title: Some(format!("curvefault corpus, seed {}", seed)),
        ..Default::default()
    };
    let captions: Vec<String> = (0..shown).map(|i| format!("#{i}")).collect();
    let grid = render_grid(
        &corpus.velocity()[..shown * h * w],
        [shown, h, w],
        4,
        &options,
        Some(&captions),
    )?;
    save_png(&run.path("corpus.png"), &grid)?;

    Ok(())
}

/// `family-NAME.png`: 8 models of every built-in family.
pub fn family_pictures(run: &RunDir, seed: u64) -> Result<()> {
    for family in Family::ALL {
        let sample = generate(&SynthSpec::new(family, 8, seed))?;
        let [k, fh, fw] = sample.shape();
        let opts = RenderOptions {
            range: Some((1500.0, 4500.0)),
            title: Some(format!("{family} ({fh}x{fw})")),
            ..Default::default()
        };
        save_png(
            &run.path(&format!("family-{family}.png")),
            &render_grid(sample.velocity(), [k, fh, fw], 4, &opts, None)?,
        )?;
    }

    Ok(())
}

/// Trains the small demo prior for `--train-steps` on `train.h5` and draws 16 models
/// (`demo-samples.h5/.png`) of `shape`; returns its summary.
pub fn training_demo(
    run: &RunDir,
    a: &QuickstartArgs,
    device: &Device,
    [h, w]: [usize; 2],
) -> Result<serde_json::Value> {
    let cfg = quick_train_config(run, a.train_steps, a.seed)?;
    let t_train = Instant::now();
    let mut trainer = Trainer::new(cfg, device)?;
    let bar = progress::bar(a.train_steps as u64, "steps");
    let checkpoint = trainer.run(&mut StepBar(bar.clone()), None)?;
    bar.finish_and_clear();
    let train_s = t_train.elapsed().as_secs_f64();
    tracing::info!(
        "5/7 sampling 16 models of the demo prior (DDIM, {} steps)",
        a.sample_steps
    );
    let prior = AnyPrior::load(&checkpoint, device)?;
    let sampler = SamplerConfig::Ddim {
        steps: a.sample_steps.max(1),
        eta: 0.0,
        clip: Some([-1.0, 1.0]),
    };
    let v = draw(&prior, 16, a.seed, &sampler)?;
    let title = format!(
        "training demo: samples after {} steps (noise-like)",
        a.train_steps
    );
    write_models(run, "demo-samples", v, [16, h, w], &title)?;
    Ok(
        json!({"checkpoint": checkpoint.file_name().map(|f| f.to_string_lossy().to_string()),
           "train_steps": a.train_steps, "train_wall_time_s": train_s,
           "samples": "demo-samples.h5"}),
    )
}
