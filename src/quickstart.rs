//! `velprior quickstart`: the main job on built-in defaults, no downloads.
//!
//! Generates an OpenFWI-style CurveFault corpus, writes it to HDF5, draws it, splits it into
//! train/test files, and draws one sample of every built-in family; everything lands in one
//! run folder with a JSON summary.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Result;
use clap::Args;
use serde_json::json;
use velprior_data::render::{RenderOptions, render_grid, save_png};
use velprior_data::split::train_test_split;
use velprior_data::synth::{Family, SynthSpec, generate, generate_to_file};
use velprior_data::{CorpusReader, RunDir, write_corpus};

#[derive(Debug, Args)]
pub struct QuickstartArgs {
    /// Run folder to write into.
    #[arg(long, short, default_value = "runs/quickstart")]
    out: PathBuf,
    /// Number of corpus models.
    #[arg(long, short, default_value_t = 512)]
    n: usize,
    /// Random seed of every stochastic step.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

/// Runs the quickstart pipeline.
pub fn run(a: QuickstartArgs) -> Result<()> {
    let run = RunDir::create(&a.out)?;
    run.write_json(
        "config.json",
        &json!({"command": "quickstart", "n": a.n, "seed": a.seed, "family": "curvefault"}),
    )?;
    let t0 = Instant::now();

    tracing::info!("1/3 generating {} curvefault models (70x70, 10 m)", a.n);
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

    tracing::info!("2/3 splitting 90/10 into train.h5 / test.h5");
    let (train, test) = train_test_split(n, 0.1, a.seed)?;
    write_corpus(&run.path("train.h5"), &corpus.select(&train)?)?;
    write_corpus(&run.path("test.h5"), &corpus.select(&test)?)?;

    tracing::info!("3/3 drawing every built-in family");
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

    let v = corpus.velocity();
    let mean = v.iter().map(|&x| x as f64).sum::<f64>() / v.len() as f64;
    let pictures: Vec<String> = std::iter::once("corpus.png".to_string())
        .chain(Family::ALL.iter().map(|f| format!("family-{f}.png")))
        .collect();
    let summary = json!({
        "corpus": {"file": "corpus.h5", "models": n, "shape": [h, w], "dx_m": 10.0,
                   "min_m_s": v.iter().copied().fold(f32::MAX, f32::min),
                   "max_m_s": v.iter().copied().fold(f32::MIN, f32::max), "mean_m_s": mean},
        "split": {"train": train.len(), "test": test.len(), "seed": a.seed},
        "pictures": pictures,
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
