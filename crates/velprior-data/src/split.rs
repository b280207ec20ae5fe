//! Seeded train/test splits of a corpus.

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use crate::error::{DataError, Result};

/// Shuffles `0..n` with `seed` and returns (train, test) index lists, each sorted, with
/// round(`test_fraction`·n) test models (at least one of each when n ≥ 2).
pub fn train_test_split(
    n: usize,
    test_fraction: f64,
    seed: u64,
) -> Result<(Vec<usize>, Vec<usize>)> {
    if !(0.0..1.0).contains(&test_fraction) || test_fraction == 0.0 {
        return Err(DataError::invalid(format!(
            "test fraction {test_fraction} must lie in (0, 1), e.g. 0.1"
        )));
    }
    if n < 2 {
        return Err(DataError::invalid(format!(
            "cannot split {n} model(s); need at least 2"
        )));
    }
    let n_test = ((test_fraction * n as f64).round() as usize).clamp(1, n - 1);
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    let mut test = order[..n_test].to_vec();
    let mut train = order[n_test..].to_vec();
    test.sort_unstable();
    train.sort_unstable();
    Ok((train, test))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_is_a_seeded_partition() {
        let (train, test) = train_test_split(100, 0.2, 7).unwrap();
        assert_eq!((train.len(), test.len()), (80, 20));
        let mut all: Vec<usize> = train.iter().chain(&test).copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..100).collect::<Vec<_>>());
        assert_eq!(train_test_split(100, 0.2, 7).unwrap().1, test);
        assert_ne!(train_test_split(100, 0.2, 8).unwrap().1, test);
        assert!(train_test_split(100, 1.5, 7).is_err());
    }
}
