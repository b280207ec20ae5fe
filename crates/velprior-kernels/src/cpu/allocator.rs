//! Process-wide allocator setting for the CPU kernels' allocation pattern: every op returns a
//! fresh output tensor of up to tens of MiB, freed a few ops later.

/// Largest buffer glibc keeps in its heap instead of mapping it on its own (its ceiling).
const HEAP_BUFFER_MAX: i32 = 32 << 20;

/// Keeps freed buffers of up to 32 MiB in the heap for reuse instead of unmapping them: by
/// default glibc maps each large tensor freshly, so every output page is faulted in and zeroed
/// by the kernel on first write (about a tenth of a UNet training step on 2 cores). Costs
/// resident memory (the peak stays mapped). glibc only (returns false elsewhere); call once at
/// start-up, before other threads allocate. Returns whether the settings took.
pub fn keep_freed_buffers() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes thresholds of the allocator; both values are in range.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, HEAP_BUFFER_MAX) == 1
            && libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX) == 1
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}

#[cfg(test)]
mod tests {
    #[test]
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    fn glibc_accepts_the_thresholds() {
        assert!(super::keep_freed_buffers());
    }
}
