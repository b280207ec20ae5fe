//! `velprior data …`: generate, import, inspect, draw and split velocity-model corpora.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use velprior_data::render::{Colormap, RenderOptions, render_grid, save_png};
use velprior_data::split::train_test_split;
use velprior_data::stats::corpus_stats;
use velprior_data::synth::{Family, SynthSpec, generate_to_file};
use velprior_data::{CorpusReader, write_corpus};

use crate::{parse, progress};

mod import;

#[derive(Debug, Subcommand)]
pub enum DataCommand {
    /// Generate a synthetic corpus (seeded: the same seed gives the same bits).
    ///
    /// Families: flatvel, curvevel, flatfault, curvefault (OpenFWI-style, 70x70 at 10 m,
    /// 1500-4500 m/s), openfwi (those four in equal parts), marmousi (folded, faulted, optional salt; 128x128) and two-layer
    /// (1-D profiles with v2 ~ 2 v1, the autoencoder teaching corpus; 64x1). Recipes:
    /// datasets/synthetic.md.
    Synth(SynthArgs),
    /// Import a .npy, raw f32 or SEG-Y file into the HDF5 corpus format, optionally
    /// resampling, clipping and cutting patches.
    Import(import::ImportArgs),
    /// Print a corpus's shape, spacing, source and velocity statistics.
    Info(InfoArgs),
    /// Draw models of a corpus as a PNG grid with a colorbar in m/s.
    Show(ShowArgs),
    /// Split a corpus into train and test files by a seeded random permutation.
    Split(SplitArgs),
}

#[derive(Debug, Args)]
pub struct SynthArgs {
    /// Model family.
    #[arg(long, short, value_parser = parse_family)]
    family: Family,
    /// Number of models.
    #[arg(long, short)]
    n: usize,
    /// Random seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Model size HxW (depth x lateral samples); the family's default when omitted.
    #[arg(long, value_parser = parse::size)]
    size: Option<[usize; 2]>,
    /// Grid spacing in m (dx = dz).
    #[arg(long, default_value_t = 10.0)]
    spacing: f64,
    /// Two-layer family only: the interface at this fraction of the depth, e.g. 0.5
    /// (default: uniform in the middle half).
    #[arg(long)]
    interface: Option<f64>,
    /// Output HDF5 file.
    #[arg(long, short)]
    output: PathBuf,
}

#[derive(Debug, Args)]
pub struct InfoArgs {
    /// HDF5 corpus.
    input: PathBuf,
    /// Dataset holding the velocities.
    #[arg(long, default_value = "velocity")]
    dataset: String,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// HDF5 corpus.
    input: PathBuf,
    /// Output PNG.
    #[arg(long, short)]
    output: PathBuf,
    /// Dataset holding the velocities.
    #[arg(long, default_value = "velocity")]
    dataset: String,
    /// Indices of the models to draw (comma-separated); the first --count when omitted.
    #[arg(long, value_delimiter = ',')]
    index: Vec<usize>,
    /// Number of models to draw when no --index is given.
    #[arg(long, default_value_t = 16)]
    count: usize,
    /// Columns of the grid.
    #[arg(long, default_value_t = 4)]
    cols: usize,
    /// Colormap: viridis, turbo, magma, cividis, greys, rdbu.
    #[arg(long, default_value = "viridis")]
    colormap: Colormap,
    /// Colour range MIN,MAX in m/s; the models' own range when omitted.
    #[arg(long, value_parser = parse::range)]
    range: Option<(f32, f32)>,
    /// Title above the picture.
    #[arg(long)]
    title: Option<String>,
}

#[derive(Debug, Args)]
pub struct SplitArgs {
    /// HDF5 corpus.
    input: PathBuf,
    /// Output train file.
    #[arg(long)]
    train: PathBuf,
    /// Output test file.
    #[arg(long)]
    test: PathBuf,
    /// Fraction of models in the test file.
    #[arg(long, default_value_t = 0.1)]
    test_fraction: f64,
    /// Random seed of the permutation.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Dataset holding the velocities.
    #[arg(long, default_value = "velocity")]
    dataset: String,
}

fn parse_family(s: &str) -> Result<Family, String> {
    s.parse()
        .map_err(|e: velprior_data::DataError| e.to_string())
}

/// Runs a `data` subcommand.
pub fn run(cmd: DataCommand) -> Result<()> {
    match cmd {
        DataCommand::Synth(a) => synth(a),
        DataCommand::Import(a) => import::run(a),
        DataCommand::Info(a) => info(a),
        DataCommand::Show(a) => show(a),
        DataCommand::Split(a) => split(a),
    }
}

fn synth(a: SynthArgs) -> Result<()> {
    let spec = SynthSpec {
        family: a.family,
        n: a.n,
        seed: a.seed,
        shape: a.size,
        spacing: a.spacing,
        interface: a.interface,
    };
    let [h, w] = spec.model_shape();
    let bar = progress::bar(a.n as u64, "models");
    let start = std::time::Instant::now();
    generate_to_file(&spec, &a.output, 1024, |done| bar.set_position(done as u64))?;
    bar.finish_and_clear();
    tracing::info!(
        "wrote {} {} models of {h}x{w} to {} in {:.2} s",
        a.n,
        a.family,
        a.output.display(),
        start.elapsed().as_secs_f64()
    );
    Ok(())
}

fn info(a: InfoArgs) -> Result<()> {
    let reader = CorpusReader::open(&a.input, Some(&a.dataset))?;
    let stats = corpus_stats(&reader)?;
    let [n, h, w] = reader.shape();
    if a.json {
        let value = serde_json::json!({
            "file": a.input, "dataset": a.dataset, "shape": [n, h, w],
            "dx": reader.meta.dx, "dz": reader.meta.dz, "source": reader.meta.source,
            "parameters": reader.parameters().map(|p| p.names.clone()),
            "stats": stats,
        });
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(());
    }
    println!("file       {}", a.input.display());
    println!("dataset    {} (N, H, W) = ({n}, {h}, {w})", a.dataset);
    println!(
        "spacing    dx = {} m, dz = {} m",
        reader.meta.dx, reader.meta.dz
    );
    println!("source     {}", reader.meta.source);
    if let Some(p) = reader.parameters() {
        println!("parameters {}", p.names.join(", "));
    }
    print!("{stats}");
    Ok(())
}

fn show(a: ShowArgs) -> Result<()> {
    let reader = CorpusReader::open(&a.input, Some(&a.dataset))?;
    let [n, h, w] = reader.shape();
    let indices: Vec<usize> = if a.index.is_empty() {
        (0..a.count.min(n)).collect()
    } else {
        a.index.clone()
    };
    if let Some(bad) = indices.iter().find(|&&i| i >= n) {
        bail!(
            "{}: model {bad} does not exist: the corpus holds {n} models (0..{})",
            a.input.display(),
            n - 1
        );
    }
    let models = reader.read_batch(&indices)?;
    let options = RenderOptions {
        colormap: a.colormap,
        range: a.range,
        title: a.title,
        ..Default::default()
    };
    let captions: Vec<String> = indices.iter().map(|i| format!("#{i}")).collect();
    let img = render_grid(
        &models,
        [indices.len(), h, w],
        a.cols,
        &options,
        Some(&captions),
    )?;
    save_png(&a.output, &img)?;
    tracing::info!("drew {} models to {}", indices.len(), a.output.display());
    Ok(())
}

fn split(a: SplitArgs) -> Result<()> {
    let reader = CorpusReader::open(&a.input, Some(&a.dataset))?;
    let corpus = reader.read_all()?;
    let (train, test) = train_test_split(corpus.len(), a.test_fraction, a.seed)
        .with_context(|| format!("splitting {}", a.input.display()))?;
    write_corpus(&a.train, &corpus.select(&train)?)?;
    write_corpus(&a.test, &corpus.select(&test)?)?;
    tracing::info!(
        "{} train models -> {}, {} test models -> {}",
        train.len(),
        a.train.display(),
        test.len(),
        a.test.display()
    );
    Ok(())
}
