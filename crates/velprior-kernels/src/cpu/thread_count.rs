//! Fixes candle's CPU thread count once per process.

/// Sets `RAYON_NUM_THREADS` to candle's default thread count unless it is set: candle 0.11
/// otherwise works the count out from the CPU affinity mask and sysfs on every matrix
/// product, which on small products (a flow's coupling networks) costs five times the product
/// itself (a flow's training: 15 s → 2.5 s). Call once at start-up, before other threads run
/// (it writes the process environment). Returns the count in force.
pub fn fix_thread_count() -> usize {
    if let Some(n) = std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|&n| n > 0)
    {
        return n;
    }
    let n = candle_core::utils::get_num_threads();
    // SAFETY: the caller runs this before any other thread exists, so nothing reads the
    // environment concurrently.
    unsafe { std::env::set_var("RAYON_NUM_THREADS", n.to_string()) };
    n
}
