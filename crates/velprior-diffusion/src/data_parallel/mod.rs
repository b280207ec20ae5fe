//! Data-parallel training: N workers (threads here, one process per GPU with NCCL) each take
//! a 1/N slice of every batch, all-reduce their gradients, and take the same AdamW step, so
//! they hold the same weights and EMA as one worker on the whole batch.
//!
//! The collective operations live behind [`AllReduce`]: [`ThreadAllReduce`] (threads of one
//! process, always available, what the tests use) and, with the `nccl` feature (part of
//! `cuda`), [`nccl::NcclAllReduce`] over cudarc's NCCL bindings. Every worker draws the whole
//! batch's randomness (indices, flips, timesteps, noise) from the shared seed and keeps its
//! rows ([`batch_rows`]), so the random stream — and the checkpoint — does not depend on the
//! number of workers: a run can resume on a different number of them.

#[cfg(feature = "nccl")]
pub mod nccl;
mod threads;

use std::path::{Path, PathBuf};

pub use threads::ThreadAllReduce;

pub use crate::all_reduce::{AllReduce, batch_rows};

use crate::config::TrainConfig;
use crate::error::{DiffusionError, Result};
use crate::trainer::{Silent, Trainer};

/// Trains `cfg` with `workers` threads in data parallel (resuming from `resume` when given,
/// with any number of workers), stopping after `stop_after` steps when given; rank 0 writes
/// the run folder. Returns the checkpoint path.
pub fn train_on_threads(
    cfg: &TrainConfig,
    workers: usize,
    resume: Option<&Path>,
    stop_after: Option<usize>,
) -> Result<PathBuf> {
    if workers == 0 || workers > cfg.train.batch_size {
        return Err(DiffusionError::invalid(format!(
            "{workers} workers for train.batch_size = {}: use 1 to batch_size workers",
            cfg.train.batch_size
        )));
    }
    let results: Vec<Result<PathBuf>> = std::thread::scope(|scope| {
        let handles: Vec<_> = ThreadAllReduce::group(workers)
            .into_iter()
            .map(|comm| {
                scope.spawn(move || {
                    let device = cfg.device.open()?;
                    let trainer = match resume {
                        Some(path) => Trainer::resume(cfg.clone(), path, &device)?,
                        None => Trainer::new(cfg.clone(), &device)?,
                    };
                    trainer
                        .with_data_parallel(Box::new(comm))?
                        .run(&mut Silent, stop_after)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(DiffusionError::invalid("a data-parallel worker panicked"))
                })
            })
            .collect()
    });
    results.into_iter().next().expect("at least one worker")
}
