//! `velprior`: generative priors for 2-D seismic velocity models.
//!
//! The binary only parses arguments and wires the library crates together; each
//! subcommand lives in its own file.

mod ae;
mod benchmark;
mod data;
mod evaluate;
mod export;
mod forward;
mod fwi;
mod mad;
mod memorization;
mod merge;
mod parse;
mod posterior;
mod progress;
mod quickstart;
mod sample;
mod sampler_flags;
mod serve;
mod train;

use clap::{Parser, Subcommand};

/// Generative priors for 2-D seismic velocity models: build corpora, train priors, sample
/// posteriors of full-waveform inversion, and measure memorization.
#[derive(Debug, Parser)]
#[command(name = "velprior", version, about, long_about = None, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Velocity-model corpora: generate, import, inspect, draw, split.
    #[command(subcommand)]
    Data(data::DataCommand),
    /// The main job on built-in defaults, no downloads: generate a corpus, write it to HDF5,
    /// draw it, split it, and summarise it in a run folder.
    Quickstart(quickstart::QuickstartArgs),
    /// Train a prior on an HDF5 corpus from a TOML config (configs/): `kind = "diffusion"`
    /// (default), "autoencoder", "vae", "gan", or a density fit: "gaussian", "gmm", "gp",
    /// "flow".
    Train(train::TrainArgs),
    /// Draw velocity models from a trained prior's checkpoint (any kind).
    Sample(sample::SampleArgs),
    /// Score a prior's samples against held-out real models of its family: precision/recall,
    /// Fréchet PCA distance, velocity W1, steps, memorised fraction, beside real models' scores.
    Evaluate(evaluate::EvaluateArgs),
    /// Write the EMA weights of a diffusion checkpoint, with its metadata, as a prior to ship.
    Export(export::ExportArgs),
    /// Regularised-autoencoder prior: encode, decode, latent sweep/walk/scatter, and the
    /// two-layer teaching experiment.
    #[command(subcommand)]
    Ae(ae::AeCommand),
    /// Seismic data of velocity models (the OpenFWI survey by default), with optional noise
    /// and dead traces, as .npy or HDF5 (N, shots, nt, receivers); shardable.
    Forward(forward::ForwardArgs),
    /// The inversion benchmark of a config: every method on every model of a test set under
    /// every data condition, scored against the truth, tabulated (resumable, shardable).
    Benchmark(benchmark::BenchmarkArgs),
    /// Plain full-waveform inversion (Adam or L-BFGS, Tikhonov/TV) from a TOML config.
    Fwi(fwi::FwiArgs),
    /// Memorization diagnostics: nearest training models of generated models, ratio tests,
    /// and sweeps over training-set size (`memorization sweep`).
    Memorization(memorization::MemorizationArgs),
    /// Self-consuming (MAD) loops: each generation trains on the previous one's samples (plus
    /// fixed or fresh real models); k-NN precision and recall per generation.
    Mad(mad::MadArgs),
    /// Posterior sampling with a diffusion prior and seismic data (RED-diff, DPS,
    /// diffusion-regularised FWI) from a TOML config.
    Posterior(posterior::PosteriorArgs),
    /// A local web dashboard of run folders: metric curves, pictures, comparisons.
    Serve(serve::ServeArgs),
    /// Join the shard folders of a run made with --shard I/N (sample, forward, posterior,
    /// memorization sweep) into one output, after checking every shard is present and complete.
    Merge(merge::MergeArgs),
}

fn main() {
    // Before any thread allocates: tensor buffers are recycled instead of re-faulted.
    velprior_kernels::cpu::keep_freed_buffers();
    velprior_kernels::cpu::fix_thread_count();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Data(cmd) => data::run(cmd),
        Command::Quickstart(args) => quickstart::run(args),
        Command::Train(args) => train::run(args),
        Command::Sample(args) => sample::run(args),
        Command::Evaluate(args) => evaluate::run(args),
        Command::Export(args) => export::run(args),
        Command::Ae(cmd) => ae::run(cmd),
        Command::Forward(args) => forward::run(args),
        Command::Benchmark(args) => benchmark::run(args),
        Command::Fwi(args) => fwi::run(args),
        Command::Memorization(args) => memorization::run(args),
        Command::Mad(args) => mad::run(args),
        Command::Posterior(args) => posterior::run(args),
        Command::Serve(args) => serve::run(args),
        Command::Merge(args) => merge::run(args),
    };
    if let Err(err) = result {
        eprintln!("error: {err:#}");
        std::process::exit(1);
    }
}
