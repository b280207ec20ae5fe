//! `velprior forward`: seismic data of velocity models (the OpenFWI survey by default), with
//! optional noise and dead traces, as a `.npy` array or an HDF5 dataset `data` (N, shots, nt,
//! receivers).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use serde::Deserialize;
use velprior_data::import::{read_models, read_npy};
use velprior_data::{
    SeismicMeta, Shard, ShardManifest, ShardSet, shard_dir, write_npy, write_seismic_h5,
};
use velprior_physics::fwi::AcquisitionConfig;
use velprior_physics::{
    Acquisition, DataNoise, Degradation, ModelShape, SolverConfig, ricker_openfwi, simulate_all,
};

use crate::progress;

/// Built-in surveys.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Preset {
    /// OpenFWI's: 10 m grid, 1 ms, 1000 steps, 15 Hz Ricker, 5 sources and a receiver in every
    /// column at 10 m depth, 4th order, 120-cell damping border (reproduces OpenFWI's data).
    Openfwi,
}

/// A survey as written in TOML: the `[solver]` and `[acquisition]` tables of a file — an FWI
/// or posterior config, whose other tables are ignored, or a file holding only these two.
#[derive(Debug, Deserialize)]
struct SurveyConfig {
    solver: SolverConfig,
    acquisition: AcquisitionConfig,
}

#[derive(Debug, Args)]
pub struct ForwardArgs {
    /// Velocity models in m/s: .npy of shape (N, 1, H, W), (N, H, W) or (H, W), or an HDF5
    /// corpus.
    #[arg(long)]
    velocity: PathBuf,
    /// Built-in survey (when no --config is given).
    #[arg(long, value_enum, default_value = "openfwi")]
    preset: Preset,
    /// Survey from the [solver] and [acquisition] tables of a TOML file (an FWI or posterior
    /// config) instead of the preset.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Noise KIND:LEVEL relative to each model's data RMS: gaussian:0.05 (std) or laplace:0.05
    /// (scale).
    #[arg(long, value_parser = parse_noise)]
    noise: Option<DataNoise>,
    /// Receivers whose traces are zeroed in every shot, chosen at random per model.
    #[arg(long, default_value_t = 0)]
    drop_traces: usize,
    /// Seed of the noise and the dropped traces (model i draws from its own stream).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Simulate only shard I of N (0-based) of the models (or read SLURM_ARRAY_TASK_ID /
    /// SLURM_ARRAY_TASK_COUNT), into `<output>.shards/shard-I-of-N/`; `velprior merge` joins
    /// the shards into the same bits an unsharded run writes.
    #[arg(long)]
    shard: Option<Shard>,
    /// Output file, f32 (N, shots, nt, receivers): .npy, or .h5 (dataset `data` with the time
    /// step and spacing as attributes).
    #[arg(long, short)]
    output: PathBuf,
}

fn parse_noise(s: &str) -> std::result::Result<DataNoise, String> {
    s.parse()
        .map_err(|e: velprior_physics::PhysicsError| e.to_string())
}

/// The solver and acquisition for models `nx` columns wide.
fn survey(a: &ForwardArgs, nx: usize) -> Result<(SolverConfig, Acquisition)> {
    match &a.config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("{}: cannot read config", path.display()))?;
            let cfg: SurveyConfig = velprior_data::toml_file::parse_toml(&text, path)?;
            let acq = cfg.acquisition.build(nx, cfg.solver.dt);
            Ok((cfg.solver, acq))
        }
        None => match a.preset {
            Preset::Openfwi => Ok((
                SolverConfig::openfwi(),
                Acquisition::surface(nx, 5, 1, ricker_openfwi(15.0, 1e-3, 1000)),
            )),
        },
    }
}

/// The shard manifest's `kind` for `velprior forward`.
pub const SHARD_KIND: &str = "forward";

/// Runs `velprior forward`.
pub fn run(a: ForwardArgs) -> Result<()> {
    let ext = a.output.extension().and_then(|e| e.to_str()).unwrap_or("");
    if !matches!(ext, "npy" | "h5" | "hdf5") {
        bail!(
            "--output {}: seismic data are written as .npy or HDF5; name the file *.npy or *.h5",
            a.output.display()
        );
    }
    let (n, [h, w], velocity) = read_models(&a.velocity)?;
    let shape = ModelShape::new(h, w);
    let (solver, acq) = survey(&a, shape.nx)?;
    let degradation = Degradation {
        noise: a.noise,
        dead_traces: a.drop_traces,
        seed: a.seed,
    };
    let shard = Shard::resolve(a.shard)?;
    let models = shard.map_or(0..n, |s| s.range(n));
    let receivers = acq.shots.first().map_or(0, |s| s.receivers.len());
    let per_model = acq.data_len();
    velprior_data::memory::check_models_fit(
        "seismic data (shots·time steps x receivers a model)",
        models.len(),
        per_model / receivers.max(1),
        receivers,
        "simulate fewer models at a time (--shard)",
    )?;
    tracing::info!(
        "simulating {} of {n} models of {}x{}: {} shots, {} steps, {receivers} receivers",
        models.len(),
        shape.nz,
        shape.nx,
        acq.shots.len(),
        acq.nt()
    );
    let bar = progress::bar(models.len() as u64, "models");
    let part = &velocity[models.start * shape.len()..models.end * shape.len()];
    let data = simulate_all(
        part,
        models.start,
        shape,
        &solver,
        &acq,
        &degradation,
        &|| bar.inc(1),
    )?;
    bar.finish_and_clear();
    let layout = [acq.shots.len(), acq.nt(), receivers];
    let source = format!(
        "velprior forward {}; noise {:?}; {} dead traces; seed {}",
        a.config
            .as_ref()
            .map_or("--preset openfwi".to_string(), |c| format!(
                "--config {}",
                c.display()
            )),
        a.noise,
        a.drop_traces,
        a.seed
    );
    let Some(shard) = shard else {
        let meta = SeismicMeta {
            dt: f64::from(solver.dt),
            dx: f64::from(solver.dx),
            source: &source,
        };
        write_data(&a.output, models.len(), layout, &data, &meta)?;
        tracing::info!("wrote {}", a.output.display());
        return Ok(());
    };
    // A shard writes its models as .npy; `velprior merge` writes the requested format.
    let config = serde_json::json!({
        "velocity": a.velocity, "output": a.output, "layout": layout, "source": source,
        "dt": solver.dt, "dx": solver.dx,
    });
    let manifest = ShardManifest::new(SHARD_KIND, shard, models.clone(), n, a.seed, config);
    let run = manifest.begin(&shard_dir(&a.output, shard))?;
    let [shots, nt, rec] = layout;
    write_npy(
        &run.path("data.npy"),
        &[models.len(), shots, nt, rec],
        &data,
    )?;
    manifest.finish(&run)?;
    println!(
        "shard {shard}: models {}..{} of {n} in {}",
        models.start,
        models.end,
        run.root().display()
    );
    Ok(())
}

/// Writes `n` models' data of `layout` (shots, nt, receivers) as .npy or HDF5 by extension.
fn write_data(
    path: &Path,
    n: usize,
    layout: [usize; 3],
    data: &[f32],
    meta: &SeismicMeta,
) -> Result<()> {
    let [shots, nt, receivers] = layout;
    if path.extension().is_some_and(|e| e == "npy") {
        write_npy(path, &[n, shots, nt, receivers], data)?;
    } else {
        write_seismic_h5(path, [n, shots, nt, receivers], data, meta)?;
    }
    Ok(())
}

/// `velprior merge` of forward shards: their data in shard order, as the unsharded run's
/// output file named like it, in `out`.
pub fn merge(shards: &ShardSet, out: &Path) -> Result<()> {
    let cfg = &shards.run().config;
    let name = cfg["output"]
        .as_str()
        .and_then(|o| Path::new(o).file_name())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("data.npy"));
    let layout: [usize; 3] = serde_json::from_value(cfg["layout"].clone())?;
    let mut data = Vec::new();
    for dir in &shards.dirs {
        let path = dir.join("data.npy");
        data.extend(read_npy(&path)?.values);
    }
    let n = shards.run().total;
    let meta = SeismicMeta {
        dt: cfg["dt"].as_f64().unwrap_or(0.0),
        dx: cfg["dx"].as_f64().unwrap_or(0.0),
        source: cfg["source"].as_str().unwrap_or("velprior forward"),
    };
    let path = out.join(name);
    write_data(&path, n, layout, &data, &meta)?;
    println!(
        "merged {n} models' data from {} shards into {}",
        shards.dirs.len(),
        path.display()
    );
    Ok(())
}
