//! The collectives of data-parallel training ([`AllReduce`]), the rows of a batch each rank
//! trains on ([`batch_rows`]), and the gradient all-reduce of a training step on tensors
//! flattened for them. Implementations (threads, NCCL) live in `data_parallel`.

mod flat;

use std::ops::Range;

use candle_core::Tensor;

pub(crate) use flat::{all_reduce_grads, flatten, unflatten};

use crate::error::Result;

/// Collective operations among the `world_size` ranks of a data-parallel run (not `Send`: an
/// NCCL communicator stays on the thread that made it). Every rank calls each operation in the
/// same order with 1-D f32 tensors of the same length, on the device it trains on; the result
/// stays there (NCCL reduces GPU tensors in place on the GPU, without a host copy).
pub trait AllReduce {
    /// This worker's rank, 0-based.
    fn rank(&self) -> usize;
    /// Number of workers.
    fn world_size(&self) -> usize;
    /// The element-wise sum of `flat` over ranks (the same bits on every rank).
    fn all_reduce_sum(&mut self, flat: &Tensor) -> Result<Tensor>;
    /// Rank 0's `flat`, on every rank.
    fn broadcast(&mut self, flat: &Tensor) -> Result<Tensor>;
}

/// The rows of a batch of `batch` that rank `rank` of `world` trains on:
/// [batch·rank/world, batch·(rank+1)/world).
pub fn batch_rows(batch: usize, rank: usize, world: usize) -> Range<usize> {
    (batch * rank / world)..(batch * (rank + 1) / world)
}
