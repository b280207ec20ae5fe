//! Seeded dropout: masks drawn from a ChaCha8 stream, so training runs are reproducible
//! (candle's own `dropout` uses the unseedable CPU RNG).

use std::sync::Mutex;

use candle_core::Tensor;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::error::{NnError, Result};

/// Inverted dropout with probability `p`; identity when `p == 0` or when not training.
#[derive(Debug)]
pub struct Dropout {
    p: f32,
    rng: Mutex<ChaCha8Rng>,
}

impl Dropout {
    /// Dropout with probability `p` in [0, 1), masks from a stream seeded by `seed`.
    pub fn new(p: f32, seed: u64) -> Self {
        Self {
            p,
            rng: Mutex::new(ChaCha8Rng::seed_from_u64(seed)),
        }
    }

    /// Re-seed the mask stream (e.g. from a resumed checkpoint's RNG state).
    pub fn reseed(&self, seed: u64) {
        if let Ok(mut r) = self.rng.lock() {
            *r = ChaCha8Rng::seed_from_u64(seed);
        }
    }

    /// Whether [`Dropout::forward`] returns its input unchanged.
    pub fn is_identity(&self, train: bool) -> bool {
        !train || self.p == 0.0
    }

    /// `x` of any shape; in training keeps each element with probability 1 − p, scaled by
    /// 1/(1 − p).
    pub fn forward(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        if self.is_identity(train) {
            return Ok(x.clone());
        }
        let scale = 1.0 / (1.0 - self.p);
        let n = x.elem_count();
        let mask: Vec<f32> = {
            let mut rng = self
                .rng
                .lock()
                .map_err(|_| NnError::Shape("dropout RNG lock poisoned".into()))?;
            (0..n)
                .map(|_| {
                    if rng.random::<f32>() < self.p {
                        0.0
                    } else {
                        scale
                    }
                })
                .collect()
        };
        let mask = Tensor::from_vec(mask, x.shape(), x.device())?.to_dtype(x.dtype())?;
        Ok(x.mul(&mask)?)
    }
}
