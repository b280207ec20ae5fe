//! `velprior train --config file.toml`: train a prior on an HDF5 corpus; the config's
//! top-level `kind` picks a diffusion model (default), an autoencoder or VAE, a GAN, or a
//! closed-form density fit.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args;
use indicatif::ProgressBar;
use velprior_diffusion::any_train_config::AnyTrainConfig;
use velprior_diffusion::baselines::{
    AeEpochMetrics, AeObserver, AeTrainer, DensityFitConfig, GanEpochMetrics, GanObserver,
    GanTrainer, fit_density,
};
use velprior_diffusion::config::TrainConfig;
use velprior_diffusion::trainer::{CHECKPOINT_FILE, StepMetrics, TrainObserver, Trainer};
use velprior_kernels::DeviceSpec;

use crate::{parse, progress};

#[derive(Debug, Args)]
pub struct TrainArgs {
    /// TOML experiment config (see configs/); unknown keys are rejected.
    #[arg(long, short)]
    config: PathBuf,
    /// Where to train: cpu, cuda or cuda:N (default: the config's `device`, else cpu).
    #[arg(long, value_parser = parse::device)]
    device: Option<DeviceSpec>,
    /// Continue from the run folder's last checkpoint (diffusion and autoencoder runs).
    #[arg(long)]
    resume: bool,
    /// Continue from this checkpoint instead.
    #[arg(long, conflicts_with = "resume")]
    resume_from: Option<PathBuf>,
    /// Start a fresh run (step 0, new optimiser) from the EMA weights of this diffusion prior
    /// or checkpoint, e.g. to train a shipped prior further; same [model] and [diffusion].
    #[arg(long, conflicts_with_all = ["resume", "resume_from"])]
    init: Option<PathBuf>,
    /// Stop after this many steps (autoencoder: epochs) in total (the schedule still spans
    /// the whole run), e.g. to split a long run across jobs.
    #[arg(long)]
    stop_after: Option<usize>,
    /// Data-parallel workers (threads) for diffusion training: each takes 1/N of every batch
    /// and the gradients are summed, so the weights equal one worker's up to f32 rounding.
    #[arg(long, default_value_t = 1)]
    workers: usize,
    /// Multi-GPU data parallel over NCCL (diffusion): one process per GPU started by srun or
    /// torchrun (rank from SLURM_PROCID or RANK); the ranks meet through this file, which must
    /// be on a filesystem they share.
    #[cfg(feature = "nccl")]
    #[arg(long, conflicts_with = "workers")]
    nccl_id_file: Option<PathBuf>,
}

struct Progress {
    bar: ProgressBar,
}

impl TrainObserver for Progress {
    fn on_step(&mut self, step: usize, _total: usize) {
        self.bar.set_position(step as u64);
    }

    fn on_log(&mut self, m: &StepMetrics) {
        self.bar
            .set_message(format!("loss {:.4} lr {:.2e}", m.loss, m.lr));
    }
}

impl GanObserver for Progress {
    fn on_epoch(&mut self, epoch: usize, _total: usize) {
        self.bar.set_position(epoch as u64);
    }

    fn on_log(&mut self, m: &GanEpochMetrics) {
        self.bar.set_message(format!(
            "loss D {:.3} G {:.3} lr {:.2e}",
            m.loss_d, m.loss_g, m.lr
        ));
    }
}

impl AeObserver for Progress {
    fn on_epoch(&mut self, epoch: usize, _total: usize) {
        self.bar.set_position(epoch as u64);
    }

    fn on_log(&mut self, m: &AeEpochMetrics) {
        self.bar.set_message(format!(
            "recon {:.4} latent {:.3} lr {:.2e}",
            m.recon, m.latent, m.lr
        ));
    }
}

/// Runs `velprior train`.
pub fn run(a: TrainArgs) -> Result<()> {
    let cfg = AnyTrainConfig::load(&a.config)?;
    let out = cfg.output().to_path_buf();
    // The config joins the run folder once the run has started (corpus read, device opened):
    // a run that cannot start leaves nothing behind.
    let keep_config = || -> Result<()> {
        std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
        std::fs::copy(&a.config, out.join("config.toml"))
            .with_context(|| format!("copying the config into {}", out.display()))?;
        Ok(())
    };
    let resume_from = a
        .resume_from
        .clone()
        .or(a.resume.then(|| out.join(CHECKPOINT_FILE)));
    let single_diffusion = matches!(cfg, AnyTrainConfig::Diffusion(_)) && a.workers == 1;
    #[cfg(feature = "nccl")]
    let single_diffusion = single_diffusion && a.nccl_id_file.is_none();
    if a.init.is_some() && !single_diffusion {
        bail!(
            "--init applies to single-process diffusion training; drop --workers (and --nccl-id-file) or --init"
        );
    }
    match cfg {
        AnyTrainConfig::Diffusion(mut cfg) => {
            cfg.device = a.device.unwrap_or(cfg.device);
            #[cfg(feature = "nccl")]
            if let Some(id_file) = &a.nccl_id_file {
                keep_config()?;
                return train_nccl(cfg, resume_from, a.stop_after, id_file);
            }
            if a.workers > 1 {
                cfg.device.open()?;
                keep_config()?;
                let ckpt = velprior_diffusion::data_parallel::train_on_threads(
                    &cfg,
                    a.workers,
                    resume_from.as_deref(),
                    a.stop_after,
                )?;
                println!("{} workers: checkpoint {}", a.workers, ckpt.display());
                return Ok(());
            }
            let start = match (resume_from, a.init) {
                (Some(ckpt), _) => Start::Resume(ckpt),
                (None, Some(prior)) => Start::FromWeights(prior),
                (None, None) => Start::Fresh,
            };
            train_diffusion(cfg, start, a.stop_after, &keep_config)
        }
        AnyTrainConfig::Autoencoder(_) | AnyTrainConfig::Gan(_) if a.workers > 1 => {
            bail!("--workers applies to diffusion training; drop it for an autoencoder, VAE or GAN")
        }
        AnyTrainConfig::Autoencoder(cfg) => {
            let device = a.device.unwrap_or_default().open()?;
            let (epochs, out) = (cfg.train.epochs, cfg.output.clone());
            let trainer = match resume_from {
                None => AeTrainer::new(cfg, &device)?,
                Some(ckpt) => {
                    tracing::info!("resuming from {}", ckpt.display());
                    AeTrainer::resume(cfg, &ckpt, &device)?
                }
            };
            keep_config()?;
            train_epochs(trainer, epochs, a.stop_after, &out)
        }
        AnyTrainConfig::Gan(cfg) => {
            let device = a.device.unwrap_or_default().open()?;
            let (epochs, out) = (cfg.train.epochs, cfg.output.clone());
            let trainer = match resume_from {
                None => GanTrainer::new(cfg, &device)?,
                Some(ckpt) => {
                    tracing::info!("resuming from {}", ckpt.display());
                    GanTrainer::resume(cfg, &ckpt, &device)?
                }
            };
            keep_config()?;
            train_epochs(trainer, epochs, a.stop_after, &out)
        }
        AnyTrainConfig::Density(cfg) => {
            if resume_from.is_some() || a.stop_after.is_some() || a.workers > 1 {
                bail!(
                    "--resume, --resume-from, --stop-after and --workers do not apply to kind = \"{}\" (a fit is one step); drop them",
                    cfg.model.kind().name()
                );
            }
            fit(cfg, &a.config)?;
            keep_config()
        }
    }
}

/// How a single-process diffusion run begins.
enum Start {
    Fresh,
    Resume(PathBuf),
    FromWeights(PathBuf),
}

fn train_diffusion(
    cfg: TrainConfig,
    start: Start,
    stop_after: Option<usize>,
    keep_config: &dyn Fn() -> Result<()>,
) -> Result<()> {
    let steps = cfg.train.steps;
    let out = cfg.output.clone();
    let device = cfg.device.open()?;
    let mut trainer = match start {
        Start::Fresh => Trainer::new(cfg, &device)?,
        Start::Resume(ckpt) => {
            tracing::info!("resuming from {}", ckpt.display());
            Trainer::resume(cfg, &ckpt, &device)?
        }
        Start::FromWeights(prior) => {
            tracing::info!("starting from the weights of {}", prior.display());
            Trainer::warm_start(cfg, &prior, &device)?
        }
    };
    keep_config()?;
    let bar = progress::bar(steps as u64, "steps");
    bar.set_position(trainer.step() as u64);
    let mut observer = Progress { bar };
    let checkpoint = trainer.run(&mut observer, stop_after)?;
    observer.bar.finish_and_clear();
    tracing::info!(
        "step {}: checkpoint {} (metrics in {})",
        trainer.step(),
        checkpoint.display(),
        out.join("metrics.jsonl").display()
    );
    Ok(())
}

/// One rank of a multi-GPU data-parallel run; rank 0 writes the run folder.
#[cfg(feature = "nccl")]
fn train_nccl(
    cfg: TrainConfig,
    resume_from: Option<PathBuf>,
    stop_after: Option<usize>,
    id_file: &std::path::Path,
) -> Result<()> {
    use velprior_diffusion::data_parallel::nccl::NcclAllReduce;
    let comm = NcclAllReduce::from_env(id_file, std::time::Duration::from_secs(600))?;
    let device = comm.device().clone();
    let trainer = match resume_from {
        None => Trainer::new(cfg, &device)?,
        Some(ckpt) => Trainer::resume(cfg, &ckpt, &device)?,
    };
    let mut trainer = trainer.with_data_parallel(Box::new(comm))?;
    let checkpoint = trainer.run(&mut velprior_diffusion::trainer::Silent, stop_after)?;
    tracing::info!(
        "step {}: checkpoint {}",
        trainer.step(),
        checkpoint.display()
    );
    Ok(())
}

/// A baseline network trained epoch by epoch (autoencoder, VAE, GAN).
trait EpochTrainer {
    fn epoch(&self) -> usize;
    fn train(&mut self, progress: &mut Progress, stop_after: Option<usize>) -> Result<PathBuf>;
}

impl EpochTrainer for AeTrainer {
    fn epoch(&self) -> usize {
        AeTrainer::epoch(self)
    }

    fn train(&mut self, progress: &mut Progress, stop_after: Option<usize>) -> Result<PathBuf> {
        Ok(self.run(progress, stop_after)?)
    }
}

impl EpochTrainer for GanTrainer {
    fn epoch(&self) -> usize {
        GanTrainer::epoch(self)
    }

    fn train(&mut self, progress: &mut Progress, stop_after: Option<usize>) -> Result<PathBuf> {
        Ok(self.run(progress, stop_after)?)
    }
}

/// Runs `trainer` to `epochs` (or `stop_after`) under a progress bar.
fn train_epochs(
    mut trainer: impl EpochTrainer,
    epochs: usize,
    stop_after: Option<usize>,
    out: &std::path::Path,
) -> Result<()> {
    let bar = progress::bar(epochs as u64, "epochs");
    bar.set_position(trainer.epoch() as u64);
    let mut observer = Progress { bar };
    let checkpoint = trainer.train(&mut observer, stop_after)?;
    observer.bar.finish_and_clear();
    tracing::info!(
        "epoch {}: checkpoint {} (metrics in {})",
        trainer.epoch(),
        checkpoint.display(),
        out.join("metrics.jsonl").display()
    );
    Ok(())
}

fn fit(cfg: DensityFitConfig, config: &std::path::Path) -> Result<()> {
    let checkpoint = fit_density(&cfg).with_context(|| format!("{}", config.display()))?;
    tracing::info!(
        "{} prior: checkpoint {}",
        cfg.model.kind().name(),
        checkpoint.display()
    );
    Ok(())
}
