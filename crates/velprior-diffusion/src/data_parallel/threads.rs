//! [`AllReduce`] among threads of one process: a shared slot per rank and a barrier.

use std::sync::{Arc, Barrier, Mutex};

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
    fn all_reduce_sum(&mut self, buf: &mut [f32]) -> Result<()> {
        self.slots()?[self.rank] = buf.to_vec();
        self.shared.barrier.wait();
        {
            let slots = self.slots()?;
            if slots.iter().any(|s| s.len() != buf.len()) {
                return Err(DiffusionError::invalid(
                    "all-reduce: ranks passed buffers of different lengths",
                ));
            }
            buf.copy_from_slice(&slots[0]);
            for s in &slots[1..] {
                buf.iter_mut().zip(s).for_each(|(b, v)| *b += v);
            }
        }
        // Nobody refills a slot before every rank has read them all.
        self.shared.barrier.wait();
        Ok(())
    }

    fn broadcast(&mut self, buf: &mut [f32]) -> Result<()> {
        if self.rank == 0 {
            self.slots()?[0] = buf.to_vec();
        }
        self.shared.barrier.wait();
        {
            let slots = self.slots()?;
            if slots[0].len() != buf.len() {
                return Err(DiffusionError::invalid(
                    "broadcast: ranks passed buffers of different lengths",
                ));
            }
            buf.copy_from_slice(&slots[0]);
        }
        self.shared.barrier.wait();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sum_and_broadcast_across_three_threads() {
        let out: Vec<(Vec<f32>, Vec<f32>)> = std::thread::scope(|s| {
            let hs: Vec<_> = ThreadAllReduce::group(3)
                .into_iter()
                .map(|mut c| {
                    s.spawn(move || {
                        let r = c.rank() as f32;
                        let mut a = vec![r, 10.0 * r, 1.0];
                        c.all_reduce_sum(&mut a).unwrap();
                        let mut b = vec![r + 1.0; 2];
                        c.broadcast(&mut b).unwrap();
                        c.all_reduce_mean(&mut b).unwrap();
                        (a, b)
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        for (a, b) in out {
            assert_eq!(a, vec![3.0, 30.0, 3.0]);
            assert_eq!(b, vec![1.0, 1.0]);
        }
    }
}
