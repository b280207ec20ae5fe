//! [`AllReduce`] among threads of one process: a shared slot per rank and a barrier (the
//! values pass through host memory).

use std::sync::{Arc, Barrier, Mutex};

use candle_core::Tensor;

use super::AllReduce;
use crate::error::{DiffusionError, Result};

struct Shared {
    barrier: Barrier,
    slots: Mutex<Vec<Vec<f32>>>,
}

/// One rank of a group of threads; make the group with [`ThreadAllReduce::group`] and move
/// one handle into each worker thread.
pub struct ThreadAllReduce {
    rank: usize,
    world: usize,
    shared: Arc<Shared>,
}

impl ThreadAllReduce {
    /// Handles for ranks 0..`world` (at least 1).
    pub fn group(world: usize) -> Vec<ThreadAllReduce> {
        let world = world.max(1);
        let shared = Arc::new(Shared {
            barrier: Barrier::new(world),
            slots: Mutex::new(vec![Vec::new(); world]),
        });
        (0..world)
            .map(|rank| ThreadAllReduce {
                rank,
                world,
                shared: Arc::clone(&shared),
            })
            .collect()
    }

    fn slots(&self) -> Result<std::sync::MutexGuard<'_, Vec<Vec<f32>>>> {
        self.shared
            .slots
            .lock()
            .map_err(|_| DiffusionError::invalid("all-reduce: another worker panicked"))
    }
}

impl AllReduce for ThreadAllReduce {
    fn rank(&self) -> usize {
        self.rank
    }

    fn world_size(&self) -> usize {
        self.world
    }

    /// Sums in rank order on every rank, so all ranks get the same bits.
    fn all_reduce_sum(&mut self, flat: &Tensor) -> Result<Tensor> {
        let mine = flat.to_vec1::<f32>()?;
        let n = mine.len();
        self.slots()?[self.rank] = mine;
        self.shared.barrier.wait();
        let sum = {
            let slots = self.slots()?;
            if slots.iter().any(|s| s.len() != n) {
                return Err(DiffusionError::invalid(
                    "all-reduce: ranks passed buffers of different lengths",
                ));
            }
            let mut sum = slots[0].clone();
            for s in &slots[1..] {
                sum.iter_mut().zip(s).for_each(|(b, v)| *b += v);
            }
            sum
        };
        // Nobody refills a slot before every rank has read them all.
        self.shared.barrier.wait();
        Ok(Tensor::from_vec(sum, n, flat.device())?)
    }

    fn broadcast(&mut self, flat: &Tensor) -> Result<Tensor> {
        let n = flat.dim(0)?;
        if self.rank == 0 {
            self.slots()?[0] = flat.to_vec1::<f32>()?;
        }
        self.shared.barrier.wait();
        let first = {
            let slots = self.slots()?;
            if slots[0].len() != n {
                return Err(DiffusionError::invalid(
                    "broadcast: ranks passed buffers of different lengths",
                ));
            }
            slots[0].clone()
        };
        self.shared.barrier.wait();
        Ok(Tensor::from_vec(first, n, flat.device())?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Catches a sum that misses a rank or a broadcast that returns a rank's own values.
    #[test]
    fn sum_and_broadcast_across_three_threads() {
        let cpu = candle_core::Device::Cpu; // host: thread ranks share host memory
        let out: Vec<(Vec<f32>, Vec<f32>)> = std::thread::scope(|s| {
            let hs: Vec<_> = ThreadAllReduce::group(3)
                .into_iter()
                .map(|mut c| {
                    let cpu = cpu.clone();
                    s.spawn(move || {
                        let r = c.rank() as f32;
                        let a = Tensor::new(&[r, 10.0 * r, 1.0], &cpu).unwrap();
                        let a = c.all_reduce_sum(&a).unwrap().to_vec1().unwrap();
                        let b = Tensor::new(&[r + 1.0, r + 2.0], &cpu).unwrap();
                        let b = c.broadcast(&b).unwrap().to_vec1().unwrap();
                        (a, b)
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        for (a, b) in out {
            assert_eq!(a, vec![3.0, 30.0, 3.0]);
            assert_eq!(b, vec![1.0, 2.0]);
        }
    }
}
