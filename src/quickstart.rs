//! `velprior quickstart`: the main job on built-in defaults, no downloads.
//!
//! Generates an OpenFWI-style CurveFault corpus, writes it to HDF5, draws it, splits it into
//! train/test files, draws one sample of every built-in family, trains a small diffusion prior
//! for a few steps (a demo of training, its samples still noise-like), draws models from the
//! shipped `priors/openfwi70` prior, and ends with a short posterior run with that prior (DPS)
//! on a held-out model observed through well logs; everything lands in one run folder with a
//! JSON summary.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Result;
use candle_core::Device;
use clap::Args;
use indicatif::ProgressBar;
use serde_json::json;
use velprior_data::render::{RenderOptions, render_grid, save_png};
use velprior_data::split::train_test_split;
use velprior_data::synth::{Family, SynthSpec, generate, generate_to_file};
use velprior_data::{Corpus, CorpusMeta, CorpusReader, RunDir, write_corpus};
use velprior_diffusion::config::TrainConfig;
use velprior_diffusion::prior::{AnyPrior, DiffusionPrior, Prior};
use velprior_diffusion::samplers::{NoObserver, SamplerConfig};
use velprior_diffusion::trainer::{TrainObserver, Trainer};

use crate::progress;
use velprior_physics::ModelShape;
use velprior_posterior::calibration::{CalibrationConfig, LinearOperatorConfig};
use velprior_posterior::calibration_run::calibrate_into;
use velprior_posterior::dps::{DpsConfig, Guidance};
use velprior_posterior::method::MethodConfig;

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
    let text = include_str!("../configs/diffusion-cpu-quick.toml");
    let mut cfg = TrainConfig::from_toml(text, Path::new("configs/diffusion-cpu-quick.toml"))?;
    cfg.output = run.path("prior");
    cfg.data.corpus = run.path("train.h5");
    let t = &mut cfg.train;
    (t.steps, t.seed, t.ema_decay) = (steps, seed, 0.99);
    (t.checkpoint_every, t.sample_every, t.sample_count) = (steps, 0, 0);
    t.optimizer.warmup_steps = steps / 10;
    Ok(cfg)
}

#[derive(Debug, Args)]
pub struct QuickstartArgs {
    /// Where the networks run: cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu", value_parser = crate::parse::device)]
    device: velprior_kernels::DeviceSpec,
    /// Run folder to write into.
    #[arg(long, short, default_value = "runs/quickstart")]
    out: PathBuf,
    /// Number of corpus models.
    #[arg(long, short, default_value_t = 512)]
    n: usize,
    /// Random seed of every stochastic step.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Training steps of the small diffusion prior (0 skips training and sampling).
    #[arg(long, default_value_t = 30)]
    train_steps: usize,
    /// DDIM steps used to sample the demo prior.
    #[arg(long, default_value_t = 50)]
    sample_steps: usize,
    /// Shipped prior drawn from and used by the posterior run.
    #[arg(long, default_value = "priors/openfwi70/prior.safetensors")]
    prior: PathBuf,
    /// Family of the held-out model of the posterior run (one the shipped prior covers).
    #[arg(long, default_value = "curvefault")]
    prior_family: Family,
    /// Models drawn from the shipped prior (0 skips them).
    #[arg(long, default_value_t = 16)]
    prior_samples: usize,
    /// DPM-Solver++ steps of those draws.
    #[arg(long, default_value_t = 25)]
    prior_steps: usize,
    /// DPS steps of the closing posterior run on a held-out model (0 skips it).
    #[arg(long, default_value_t = 20)]
    posterior_steps: usize,
}

/// Posterior samples of the closing posterior run.
const POSTERIOR_SAMPLES: usize = 4;

/// Draws `--prior-samples` models from the shipped prior (DPM-Solver++): `samples.h5` and
/// `samples.png`; returns its summary.
fn shipped_prior_samples(
    run: &RunDir,
    a: &QuickstartArgs,
    device: &Device,
) -> Result<serde_json::Value> {
    let prior = AnyPrior::load(&a.prior, device)?;
    let [h, w] = prior.meta().model_shape;
    let n = a.prior_samples;
    let sampler = SamplerConfig::DpmSolver {
        steps: a.prior_steps.max(1),
        clip: Some([-1.0, 1.0]),
    };
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
fn posterior_step(run: &RunDir, a: &QuickstartArgs, device: &Device) -> Result<serde_json::Value> {
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
        operator: LinearOperatorConfig::Wells { every: 10 },
        noise_std: 50.0,
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

/// Runs the quickstart pipeline.
pub fn run(a: QuickstartArgs) -> Result<()> {
    let device = a.device.open()?;
    if (a.posterior_steps > 0 || a.prior_samples > 0) && !a.prior.is_file() {
        anyhow::bail!(
            "--prior {}: no such file; run from the repository root, point it at a diffusion \
             checkpoint, or pass --prior-samples 0 --posterior-steps 0",
            a.prior.display()
        );
    }
    let run = RunDir::create(&a.out)?;
    run.write_json(
        "config.json",
        &json!({"command": "quickstart", "n": a.n, "seed": a.seed, "family": "curvefault"}),
    )?;
    let t0 = Instant::now();

    tracing::info!("1/7 generating {} curvefault models (70x70, 10 m)", a.n);
    let spec = SynthSpec::new(Family::Curvefault, a.n, a.seed);
    let corpus_path = run.path("corpus.h5");
    generate_to_file(&spec, &corpus_path, 1024, |_| {})?;
    let corpus = CorpusReader::open(&corpus_path, None)?.read_all()?;
    let [n, h, w] = corpus.shape();
    let shown = n.min(16);
    let options = RenderOptions {
        range: Some((1500.0, 4500.0)),
        title: Some(format!("curvefault corpus, seed {}", a.seed)),
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

    tracing::info!("2/7 splitting 90/10 into train.h5 / test.h5");
    let (train, test) = train_test_split(n, 0.1, a.seed)?;
    write_corpus(&run.path("train.h5"), &corpus.select(&train)?)?;
    write_corpus(&run.path("test.h5"), &corpus.select(&test)?)?;

    tracing::info!("3/7 drawing every built-in family");
    for family in Family::ALL {
        let sample = generate(&SynthSpec::new(family, 8, a.seed))?;
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

    let demo = if a.train_steps > 0 {
        tracing::info!(
            "4/7 training demo: a small diffusion prior for {} steps",
            a.train_steps
        );
        let cfg = quick_train_config(&run, a.train_steps, a.seed)?;
        let t_train = Instant::now();
        let mut trainer = Trainer::new(cfg, &device)?;
        let bar = progress::bar(a.train_steps as u64, "steps");
        let checkpoint = trainer.run(&mut StepBar(bar.clone()), None)?;
        bar.finish_and_clear();
        let train_s = t_train.elapsed().as_secs_f64();
        tracing::info!(
            "5/7 sampling 16 models of the demo prior (DDIM, {} steps)",
            a.sample_steps
        );
        let prior = AnyPrior::load(&checkpoint, &device)?;
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
        write_models(&run, "demo-samples", v, [16, h, w], &title)?;
        json!({"checkpoint": checkpoint.file_name().map(|f| f.to_string_lossy().to_string()),
               "train_steps": a.train_steps, "train_wall_time_s": train_s,
               "samples": "demo-samples.h5"})
    } else {
        serde_json::Value::Null
    };

    let shipped = if a.prior_samples > 0 {
        tracing::info!(
            "6/7 drawing {} models from the shipped prior {} (DPM-Solver++, {} steps)",
            a.prior_samples,
            a.prior.display(),
            a.prior_steps
        );
        shipped_prior_samples(&run, &a, &device)?
    } else {
        serde_json::Value::Null
    };

    let posterior = if a.posterior_steps > 0 {
        tracing::info!(
            "7/7 posterior with the shipped prior on a held-out model (DPS, {} steps, well logs)",
            a.posterior_steps
        );
        posterior_step(&run, &a, &device)?
    } else {
        serde_json::Value::Null
    };

    let v = corpus.velocity();
    let mean = v.iter().map(|&x| x as f64).sum::<f64>() / v.len() as f64;
    let pictures: Vec<String> = std::iter::once("corpus.png".to_string())
        .chain(Family::ALL.iter().map(|f| format!("family-{f}.png")))
        .chain((a.train_steps > 0).then(|| "demo-samples.png".to_string()))
        .chain((a.prior_samples > 0).then(|| "samples.png".to_string()))
        .chain((a.posterior_steps > 0).then(|| "posterior/calibration.png".to_string()))
        .collect();
    let summary = json!({
        "corpus": {"file": "corpus.h5", "models": n, "shape": [h, w], "dx_m": 10.0,
                   "min_m_s": v.iter().copied().fold(f32::MAX, f32::min),
                   "max_m_s": v.iter().copied().fold(f32::MIN, f32::max), "mean_m_s": mean},
        "split": {"train": train.len(), "test": test.len(), "seed": a.seed},
        "pictures": pictures,
        "training_demo": demo,
        "shipped_prior": shipped,
        "posterior": posterior,
        "wall_time_s": t0.elapsed().as_secs_f64(),
    });
    let path = run.write_json("summary.json", &summary)?;
    println!(
        "quickstart done in {:.1} s: {}",
        t0.elapsed().as_secs_f64(),
        path.display()
    );
    Ok(())
}
