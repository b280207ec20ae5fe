//! Benchmark: the CPU conv2d kernels alone — forward, input gradient and weight (+bias)
//! gradient, without autograd — on the 3×3 shapes of the `unet_bench.py` UNet at batch 16 (and
//! its 70×70 counterparts), with the direct kernel and with Winograd, in GFLOP/s counted as the
//! direct convolution's 2·N·cout·cin·9·H·W per pass.
//!
//! Run: `cargo run --release -p velprior-kernels --example bench_conv [shape index]` (prefix
//! `RAYON_NUM_THREADS=1` for one core).

use std::time::Instant;

use candle_core::{Device, Tensor};
use velprior_kernels::cpu::{conv2d, conv2d_backward, force_winograd};

fn best(reps: usize, mut f: impl FnMut()) -> f64 {
    f();
    (0..reps)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dev = Device::Cpu;
    let n = 16;
    let shapes = [
        (32, 32, 64),
        (64, 64, 32),
        (128, 128, 16),
        (96, 32, 64),
        (192, 64, 32),
        (32, 32, 70),
        (64, 64, 35),
        (128, 128, 18),
    ];
    let only: Option<usize> = std::env::args().nth(1).and_then(|s| s.parse().ok());
    println!("rayon threads: {}", rayon::current_num_threads());
    println!(
        "shape (cin, cout, H×W)   GFLOP/s: forward direct, Winograd   dx + dW + db direct, Winograd"
    );
    for (i, &(cin, cout, hw)) in shapes.iter().enumerate() {
        if only.is_some_and(|k| k != i) {
            continue;
        }
        let x = Tensor::randn(0f32, 1.0, (n, cin, hw, hw), &dev)?;
        let w = Tensor::randn(0f32, 0.1, (cout, cin, 3, 3), &dev)?;
        let b = Tensor::zeros(cout, candle_core::DType::F32, &dev)?;
        let dy = Tensor::randn(0f32, 1.0, (n, cout, hw, hw), &dev)?;
        let flops = 2.0 * (n * cout * cin * 9 * hw * hw) as f64;
        let mut rates = [[0.0; 2]; 2];
        for (p, winograd) in [false, true].into_iter().enumerate() {
            force_winograd(Some(winograd));
            let tf = best(5, || {
                conv2d(&x, &w, Some(&b), 1, 1).expect("conv2d");
            });
            let tb = best(5, || {
                conv2d_backward(&x, &w, &dy, 1, 1).expect("conv2d_backward");
            });
            rates[0][p] = flops / tf / 1e9;
            rates[1][p] = 2.0 * flops / tb / 1e9;
        }
        force_winograd(None);
        println!(
            "({cin:3}, {cout:3}, {hw:2}×{hw:2})              {:7.1} {:7.1}             {:7.1} {:7.1}",
            rates[0][0], rates[0][1], rates[1][0], rates[1][1]
        );
    }
    Ok(())
}
