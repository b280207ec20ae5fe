//! Whether an allocation of model data fits the machine: checked before reading or generating,
//! so an absurd request is an error that says what it needs instead of an aborted process.

use crate::error::{DataError, Result};

/// The memory this process may still take: Linux's `MemAvailable`, or `None` where unknown.
pub fn available_bytes() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Errors when `count` models of `h`×`w` f32 values (for `what`, e.g. a file name) need more
/// memory than the machine has available; `fix` says how to ask for less.
pub fn check_models_fit(what: &str, count: usize, h: usize, w: usize, fix: &str) -> Result<()> {
    let bytes = count
        .checked_mul(h)
        .and_then(|v| v.checked_mul(w))
        .and_then(|v| v.checked_mul(4))
        .map(|b| b as u64);
    let available = available_bytes();
    match (bytes, available) {
        (Some(b), Some(a)) if b <= a => Ok(()),
        (Some(_), None) => Ok(()),
        (b, a) => Err(DataError::invalid(format!(
            "{what}: {count} models of {h}x{w} need {} but the machine has {} available; {fix}",
            b.map_or("more than 16 EiB".to_string(), gib),
            a.map_or("less".to_string(), gib),
        ))),
    }
}

fn gib(bytes: u64) -> String {
    format!("{:.1} GiB", bytes as f64 / (1u64 << 30) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Catches a check that multiplies in a wrapping integer (a huge request passing) or that
    /// refuses small ones.
    #[test]
    fn absurd_requests_are_refused_and_small_ones_pass() {
        if available_bytes().is_none() {
            return; // not Linux: the check is off
        }
        let e = check_models_fit("x.h5", 1, 100_000, 100_000, "read fewer models")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("37.3 GiB") && e.contains("read fewer models"),
            "{e}"
        );
        let e = check_models_fit("x.h5", usize::MAX, 2, 2, "fix")
            .unwrap_err()
            .to_string();
        assert!(e.contains("more than 16 EiB"), "{e}");
        check_models_fit("x.h5", 10, 70, 70, "fix").unwrap();
    }
}
