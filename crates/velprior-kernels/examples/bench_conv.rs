//! Benchmark: the CPU conv2d kernels (forward, input gradient, weight gradient) on the 3×3
//! shapes of the `unet_bench.py` UNet at batch 16, in GFLOP/s (2·N·cout·cin·9·H·W per pass).
//!
//! Run: `cargo run --release -p velprior-kernels --example bench_conv` (prefix
//! `RAYON_NUM_THREADS=1` for one core).

use std::time::Instant;

use candle_core::{Device, Tensor, Var};
use velprior_kernels::cpu::conv2d;

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

fn main() -> candle_core::Result<()> {
    let dev = Device::Cpu;
    let n = 16;
    println!("rayon threads: {}", rayon::current_num_threads());
    println!("shape (cin, cout, HxW)      fwd GF/s   fwd+bwd GF/s   bwd/fwd time");
    let shapes = [
        (32, 32, 64),
        (64, 64, 32),
        (128, 128, 16),
        (96, 32, 64),
        (192, 64, 32),
    ];
    let only: Option<usize> = std::env::args().nth(1).and_then(|s| s.parse().ok());
    for &(cin, cout, hw) in shapes
        .iter()
        .skip(only.unwrap_or(0))
        .take(if only.is_some() { 1 } else { 5 })
    {
        let x = Var::from_tensor(&Tensor::randn(0f32, 1.0, (n, cin, hw, hw), &dev)?)?;
        let w = Var::from_tensor(&Tensor::randn(0f32, 0.1, (cout, cin, 3, 3), &dev)?)?;
        let b = Var::from_tensor(&Tensor::zeros(cout, candle_core::DType::F32, &dev)?)?;
        let flops = 2.0 * (n * cout * cin * 9 * hw * hw) as f64;
        let tf = best(5, || {
            conv2d(x.as_tensor(), w.as_tensor(), Some(b.as_tensor()), 1, 1).expect("conv2d");
        });
        let tfb = best(3, || {
            let y =
                conv2d(x.as_tensor(), w.as_tensor(), Some(b.as_tensor()), 1, 1).expect("conv2d");
            y.sum_all().unwrap().backward().unwrap();
        });
        // Input gradient only (w, b constants) and weight gradient only (x constant).
        let (wc, bc) = (w.as_tensor().detach(), b.as_tensor().detach());
        let tdx = best(3, || {
            let y = conv2d(x.as_tensor(), &wc, Some(&bc), 1, 1).expect("conv2d");
            y.sum_all().unwrap().backward().unwrap();
        });
        let xc = x.as_tensor().detach();
        let tdw = best(3, || {
            let y = conv2d(&xc, w.as_tensor(), Some(b.as_tensor()), 1, 1).expect("conv2d");
            y.sum_all().unwrap().backward().unwrap();
        });
        println!(
            "({cin:3}, {cout:3}, {hw:2}x{hw:2})        {:7.1}      {:7.1}        {:.2}   dx {:6.1} GF/s  dW {:6.1} GF/s",
            flops / tf / 1e9,
            3.0 * flops / tfb / 1e9,
            (tfb - tf) / tf,
            flops / (tdx - tf) / 1e9,
            flops / (tdw - tf) / 1e9,
        );
    }
    Ok(())
}
