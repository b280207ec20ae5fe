//! `velprior train --config file.toml`: train a diffusion prior on an HDF5 corpus.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use indicatif::ProgressBar;
use velprior_diffusion::config::TrainConfig;
use velprior_diffusion::trainer::{CHECKPOINT_FILE, StepMetrics, TrainObserver, Trainer};

use crate::progress;

#[derive(Debug, Args)]
pub struct TrainArgs {
    /// TOML experiment config (see configs/); unknown keys are rejected.
    #[arg(long, short)]
    config: PathBuf,
    /// Continue from the run folder's last checkpoint.
    #[arg(long)]
    resume: bool,
    /// Continue from this checkpoint instead.
    #[arg(long, conflicts_with = "resume")]
    resume_from: Option<PathBuf>,
    /// Stop after this many steps in total (the schedule still spans train.steps), e.g. to
    /// split a long run across jobs.
    #[arg(long)]
    stop_after: Option<usize>,
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

/// Runs `velprior train`.
pub fn run(a: TrainArgs) -> Result<()> {
    let cfg = TrainConfig::load(&a.config)?;
    let steps = cfg.train.steps;
    let out = cfg.output.clone();
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    std::fs::copy(&a.config, out.join("config.toml"))
        .with_context(|| format!("copying the config into {}", out.display()))?;
    let resume_from = a
        .resume_from
        .clone()
        .or(a.resume.then(|| out.join(CHECKPOINT_FILE)));
    let mut trainer = match resume_from {
        None => Trainer::new(cfg)?,
        Some(ckpt) => {
            tracing::info!("resuming from {}", ckpt.display());
            Trainer::resume(cfg, &ckpt)?
        }
    };
    let bar = progress::bar(steps as u64, "steps");
    bar.set_position(trainer.step() as u64);
    let mut observer = Progress { bar };
    let checkpoint = trainer.run(&mut observer, a.stop_after)?;
    observer.bar.finish_and_clear();
    tracing::info!(
        "step {}: checkpoint {} (metrics in {})",
        trainer.step(),
        checkpoint.display(),
        out.join("metrics.jsonl").display()
    );
    Ok(())
}
