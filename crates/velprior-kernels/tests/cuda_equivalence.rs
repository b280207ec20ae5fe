//! CUDA against CPU for every op. Runs where the crate is built with `--features cuda` and a GPU
//! is present (`VELPRIOR_REQUIRE_CUDA=1` makes a missing GPU a failure); prints why it was
//! skipped otherwise. Catches a kernel that reads the wrong coefficient row or element, drops
//! the noise term or the clip, or a result copied back to the host.

#[cfg(not(feature = "cuda"))]
#[test]
fn cuda_matches_cpu() {
    println!("cuda_matches_cpu: skipped: built without the `cuda` feature");
}

#[cfg(feature = "cuda")]
#[test]
fn cuda_matches_cpu() {
    use candle_core::Device;
    use velprior_kernels::device_check::compare_fused_ops;

    let required = std::env::var("VELPRIOR_REQUIRE_CUDA").is_ok_and(|v| v == "1");
    let gpu = match Device::new_cuda(0) {
        Ok(d) => d,
        Err(e) if !required => {
            println!("cuda_matches_cpu: skipped: no CUDA device ({e})");
            return;
        }
        Err(e) => panic!("VELPRIOR_REQUIRE_CUDA=1 but no CUDA device: {e}"),
    };
    for c in compare_fused_ops(&gpu).unwrap() {
        assert!(c.on_device, "{}: result left the GPU", c.name);
        // The GPU contracts a·x + b·y into FMAs: equal up to a few f32 roundings of the largest
        // term.
        assert!(
            c.max_abs_diff <= 1e-5 * c.scale,
            "{}: CPU and CUDA differ by {} (scale {})",
            c.name,
            c.max_abs_diff,
            c.scale
        );
        println!(
            "{}: CUDA == CPU (max difference {:e})",
            c.name, c.max_abs_diff
        );
    }
}
