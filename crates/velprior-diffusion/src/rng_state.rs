//! The trainer's random-stream position, as stored in checkpoints so a resumed run draws the
//! same numbers.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::error::{DiffusionError, Result};

/// Position of the trainer's random stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RngState {
    /// ChaCha seed, hex.
    pub seed: String,
    /// Stream number.
    pub stream: u64,
    /// Word position (decimal string: it is a u128).
    pub word_pos: String,
}

impl RngState {
    /// The position of `rng`.
    pub(crate) fn capture(rng: &ChaCha8Rng) -> RngState {
        let seed: String = rng.get_seed().iter().map(|b| format!("{b:02x}")).collect();
        RngState {
            seed,
            stream: rng.get_stream(),
            word_pos: rng.get_word_pos().to_string(),
        }
    }

    /// A generator at this position (an error for a malformed state).
    pub(crate) fn restore(&self) -> Result<ChaCha8Rng> {
        let bad = || DiffusionError::Checkpoint("checkpoint RNG state is malformed".into());
        let bytes: Vec<u8> = (0..self.seed.len())
            .step_by(2)
            .map(|i| {
                u8::from_str_radix(self.seed.get(i..i + 2).unwrap_or("zz"), 16).map_err(|_| bad())
            })
            .collect::<Result<_>>()?;
        let seed: [u8; 32] = bytes.try_into().map_err(|_| bad())?;
        let mut rng = ChaCha8Rng::from_seed(seed);
        rng.set_stream(self.stream);
        rng.set_word_pos(self.word_pos.parse().map_err(|_| bad())?);
        Ok(rng)
    }
}
