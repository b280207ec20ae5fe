//! Wavefield storage for the adjoint: keep every step in memory, or keep every k-th state and
//! recompute the steps in between (chosen from a memory budget). Both give identical gradients.

/// How forward wavefields are kept for the adjoint pass.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case", deny_unknown_fields)]
pub enum Storage {
    /// Store W(uⁿ) of every step (nt fields per shot).
    All,
    /// Store the full state every `every` steps and recompute each segment during the adjoint.
    Checkpointed { every: usize },
    /// `All` if it fits into `budget_mib` MiB (for all concurrently running shots), otherwise
    /// checkpointing with the segment length that minimises memory.
    Auto { budget_mib: usize },
}

impl Default for Storage {
    fn default() -> Self {
        Storage::Auto { budget_mib: 2048 }
    }
}

/// Resolve `Auto` into `All` or `Checkpointed`.
///
/// `step_floats`: floats stored per step; `snapshot_floats`: floats per checkpoint;
/// `concurrent`: shots held in memory at the same time.
pub fn plan(
    storage: Storage,
    nt: usize,
    step_floats: usize,
    snapshot_floats: usize,
    concurrent: usize,
) -> Storage {
    match storage {
        Storage::Auto { budget_mib } => {
            let budget = (budget_mib as f64) * 1024.0 * 1024.0 / 4.0 / concurrent.max(1) as f64;
            if (nt * step_floats) as f64 <= budget {
                Storage::All
            } else {
                // memory(k) = ceil(nt/k)·snapshot + k·step is minimal near k = sqrt(nt·snapshot/step).
                let k = ((nt as f64 * snapshot_floats as f64 / step_floats.max(1) as f64)
                    .sqrt()
                    .round() as usize)
                    .clamp(1, nt.max(1));
                Storage::Checkpointed { every: k }
            }
        }
        Storage::Checkpointed { every } => Storage::Checkpointed {
            every: every.clamp(1, nt.max(1)),
        },
        Storage::All => Storage::All,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_picks_all_when_it_fits_and_sqrt_checkpoints_otherwise() {
        assert_eq!(
            plan(Storage::Auto { budget_mib: 1 }, 10, 100, 600, 1),
            Storage::All
        );
        assert_eq!(
            plan(Storage::Auto { budget_mib: 1 }, 1000, 100_000, 600_000, 2),
            Storage::Checkpointed { every: 77 }
        );
        assert_eq!(
            plan(Storage::Checkpointed { every: 0 }, 10, 1, 1, 1),
            Storage::Checkpointed { every: 1 }
        );
    }
}
