//! `velprior quickstart`: the main job on built-in defaults, no downloads.
//!
//! Generates an OpenFWI-style CurveFault corpus, writes it to HDF5, draws it, splits it into
//! train/test files, draws one sample of every built-in family, trains a small diffusion prior
//! for a few steps (a demo of training, its samples still noise-like), draws models from the
//! shipped `priors/openfwi70` prior, and ends with a short posterior run with that prior (DPS)
//! on a held-out model observed through well logs; everything lands in one run folder with a
//! JSON summary.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Result;
use clap::Args;
use serde_json::json;
use velprior_data::split::train_test_split;
use velprior_data::synth::{Family, SynthSpec, generate_to_file};
use velprior_data::{CorpusReader, RunDir, write_corpus};

mod steps;

use steps::{
    corpus_picture, family_pictures, posterior_step, shipped_prior_samples, training_demo,
};

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
    corpus_picture(&run, &corpus, a.seed)?;

    tracing::info!("2/7 splitting 90/10 into train.h5 / test.h5");
    let (train, test) = train_test_split(n, 0.1, a.seed)?;
    write_corpus(&run.path("train.h5"), &corpus.select(&train)?)?;
    write_corpus(&run.path("test.h5"), &corpus.select(&test)?)?;

    tracing::info!("3/7 drawing every built-in family");
    family_pictures(&run, a.seed)?;

    let demo = if a.train_steps > 0 {
        tracing::info!(
            "4/7 training demo: a small diffusion prior for {} steps",
            a.train_steps
        );
        training_demo(&run, &a, &device, [h, w])?
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
