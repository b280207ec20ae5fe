//! GPU check (not a test; run by `scripts/gpu-check.sh` on a machine with an NVIDIA GPU, from a
//! `--features cuda` build): every fused op and a UNet forward + backward on the GPU against the
//! CPU, memorization's nearest-neighbour search with its products on the GPU against the CPU's,
//! and the fused sampler step's bandwidth against a device-to-device copy.
//!
//! ```text
//! gpu_check [--device cuda:0] [--batch 4]
//! ```
//! Prints one line per check and `gpu_check: N passed, M failed`; exits non-zero on a failure.
//! TF32 stays off (candle's default, set explicitly), so the GPU computes in plain f32.

use std::time::Instant;

use anyhow::{Context, Result};
use candle_core::{Device, Tensor, Var};
use velprior_kernels::device_check::compare_fused_ops;
use velprior_kernels::{DdimStep, DeviceSpec, Schedule, ddim_step};
use velprior_memorization::{InMemory, KnnOptions, Metric, knn};
use velprior_nn::{UNet, UNetConfig, with_candle_ops};

fn arg<T: std::str::FromStr>(name: &str, default: T) -> T {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// ‖a − b‖ / ‖b‖ over two tensors' values (b the CPU reference).
fn relative_l2(a: &Tensor, b: &Tensor) -> Result<f64> {
    let a = a.flatten_all()?.to_vec1::<f32>()?;
    let b = b.flatten_all()?.to_vec1::<f32>()?;
    let (mut num, mut den) = (0f64, 0f64);
    for (x, y) in a.iter().zip(&b) {
        num += (f64::from(*x) - f64::from(*y)).powi(2);
        den += f64::from(*y).powi(2);
    }
    Ok((num / den.max(f64::MIN_POSITIVE)).sqrt())
}

/// One forward + backward: the output, the named parameter gradients and the seconds taken.
type Pass = (Tensor, Vec<(String, Tensor)>, f64);

struct Tally {
    passed: usize,
    failed: usize,
}

impl Tally {
    fn check(&mut self, ok: bool, line: String) {
        println!("{} {line}", if ok { "PASS" } else { "FAIL" });
        if ok {
            self.passed += 1;
        } else {
            self.failed += 1;
        }
    }
}

/// The unet_bench UNet with the same seeded weights on both devices: forward on a random batch,
/// backward of Σ out·r; output and every parameter gradient compared (relative L2 per tensor).
/// The GPU runs its default conv (im2col + matmul), or candle's own with `candle_conv`.
fn unet_forward_backward(
    gpu: &Device,
    batch: usize,
    candle_conv: bool,
    tally: &mut Tally,
) -> Result<()> {
    let path = if candle_conv {
        "candle's conv"
    } else {
        "im2col conv"
    };
    let cfg = UNetConfig::unet_bench();
    let host = Device::Cpu;
    let x = Tensor::randn(0f32, 1., (batch, 1, 64, 64), &host)?;
    let r = Tensor::randn(0f32, 1., (batch, 1, 64, 64), &host)?;
    let t = Tensor::new(
        (0..batch)
            .map(|i| (i * 997 % 1000) as f32)
            .collect::<Vec<_>>(),
        &host,
    )?;
    let run = |device: &Device| -> Result<Pass> {
        let (net, varmap) = UNet::new_seeded(&cfg, 0, device)?;
        let (x, r, t) = (
            x.to_device(device)?,
            r.to_device(device)?,
            t.to_device(device)?,
        );
        let t0 = Instant::now();
        let out = net.forward(&x, &t, false)?;
        let loss = (&out * &r)?.sum_all()?;
        let grads = loss.backward()?;
        device.synchronize()?;
        let secs = t0.elapsed().as_secs_f64();
        let data = varmap.data().lock().expect("varmap lock");
        let mut named: Vec<(String, Var)> =
            data.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        named.sort_by(|a, b| a.0.cmp(&b.0));
        let g = named
            .into_iter()
            .filter_map(|(k, v)| grads.get(&v).map(|g| (k, g.clone())))
            .collect();
        Ok((out, g, secs))
    };
    let (out_c, grads_c, _) = run(&host)?;
    let on_gpu = || {
        if candle_conv {
            with_candle_ops(|| run(gpu))
        } else {
            run(gpu)
        }
    };
    on_gpu()?; // warm-up: module loads and cuBLAS handles
    let (out_g, grads_g, secs) = on_gpu()?;
    let e = relative_l2(&out_g, &out_c)?;
    tally.check(
        e <= 1e-4,
        format!(
            "UNet forward ({path}, unet_bench, batch {batch}, 64x64): relative L2 {e:.2e} (limit 1e-4)"
        ),
    );
    let mut worst = (0.0f64, String::new());
    for ((name, gc), (_, gg)) in grads_c.iter().zip(&grads_g) {
        let e = relative_l2(gg, gc)?;
        if e > worst.0 || e.is_nan() {
            worst = (e, name.clone());
        }
    }
    tally.check(
        grads_c.len() == grads_g.len() && worst.0 <= 1e-4,
        format!(
            "UNet backward ({path}): {} parameter gradients, worst relative L2 {:.2e} ({}) (limit 1e-4); GPU forward+backward {:.1} ms",
            grads_g.len(),
            worst.0,
            worst.1,
            secs * 1e3
        ),
    );
    Ok(())
}

/// Median seconds of `reps` calls of `f`, each synchronised.
fn median_time(device: &Device, reps: usize, mut f: impl FnMut() -> Result<Tensor>) -> Result<f64> {
    f()?;
    device.synchronize()?;
    let mut times = Vec::with_capacity(reps);
    for _ in 0..reps {
        let t0 = Instant::now();
        let y = f()?;
        device.synchronize()?;
        times.push(t0.elapsed().as_secs_f64());
        drop(y);
    }
    times.sort_by(f64::total_cmp);
    Ok(times[reps / 2])
}

/// DDIM step with noise (reads x, ε, z; writes x': 4 × 4 bytes per element) against a
/// device-to-device copy (2 × 4 bytes per element), both on 2^26 elements (256 MiB a tensor).
fn sampler_bandwidth(gpu: &Device, tally: &mut Tally) -> Result<()> {
    let n = 64usize;
    let shape = (n, 1, 1024, 1024);
    let x = Tensor::randn(0f32, 1., shape, gpu)?;
    let e = Tensor::randn(0f32, 1., shape, gpu)?;
    let z = Tensor::randn(0f32, 1., shape, gpu)?;
    let elems = (n * 1024 * 1024) as f64;
    let copy = median_time(gpu, 20, || Ok(x.copy()?))?;
    let sched = Schedule::cosine(1000)?
        .respace(&velprior_kernels::respacing::uniform_timesteps(1000, 50)?)?;
    let t: Vec<usize> = (0..n).map(|i| 1 + i % 49).collect();
    let opts = DdimStep {
        eta: 1.0,
        clip_x0: Some((-1.0, 1.0)),
    };
    let step = median_time(gpu, 20, || {
        Ok(ddim_step(&x, &e, Some(&z), &t[..], &sched, &opts)?)
    })?;
    let copy_bw = 2.0 * 4.0 * elems / copy / 1e9;
    let step_bw = 4.0 * 4.0 * elems / step / 1e9;
    tally.check(
        step_bw >= 0.8 * copy_bw,
        format!(
            "fused DDIM step: {step_bw:.0} GB/s ({:.3} ms) vs device copy {copy_bw:.0} GB/s ({:.3} ms): {:.0} % (target >= 80 %)",
            step * 1e3,
            copy * 1e3,
            100.0 * step_bw / copy_bw
        ),
    );
    Ok(())
}

/// 512 query models against 8,192 training models of 70×70 (L2, k = 5, and NCC, k = 1) with the
/// products on the GPU and on the CPU: the same neighbours (the f64 re-rank decides near ties on
/// both), and the time of each.
fn knn_on_gpu(gpu: &Device, tally: &mut Tally) -> Result<()> {
    let d = 70 * 70;
    let cpu = Device::Cpu; // host: the reference search
    let draw =
        |n: usize| -> Result<Vec<f32>> { Ok(Tensor::rand(-1f32, 1., n * d, &cpu)?.to_vec1()?) };
    let (queries, train) = (draw(512)?, draw(8192)?);
    let train = InMemory::new(&train, d)?;
    for (metric, k) in [(Metric::L2, 5), (Metric::Ncc, 1)] {
        let t0 = Instant::now();
        let on_cpu = knn(&queries, &train, &KnnOptions::new(k, metric))?;
        let t_cpu = t0.elapsed().as_secs_f64();
        let t0 = Instant::now();
        let on_gpu = knn(&queries, &train, &KnnOptions::new(k, metric).on(gpu))?;
        let t_gpu = t0.elapsed().as_secs_f64();
        let same = on_cpu
            .indices
            .iter()
            .zip(&on_gpu.indices)
            .filter(|(a, b)| a == b)
            .count();
        tally.check(
            same == on_cpu.indices.len(),
            format!(
                "k-NN {metric:?} k={k}, 512 x 8192 models of 4900: {same}/{} neighbours as on the CPU; GPU {t_gpu:.2} s, CPU {t_cpu:.2} s",
                on_cpu.indices.len()
            ),
        );
    }
    Ok(())
}

fn main() -> Result<()> {
    let spec: String = arg("--device", "cuda:0".to_string());
    let batch: usize = arg("--batch", 4);
    let gpu = spec
        .parse::<DeviceSpec>()?
        .open()
        .context("gpu_check needs a GPU")?;
    candle_core::cuda::set_gemm_reduced_precision_f32(false);
    let mut tally = Tally {
        passed: 0,
        failed: 0,
    };
    for c in compare_fused_ops(&gpu)? {
        tally.check(
            c.on_device && c.max_abs_diff <= 1e-5 * c.scale,
            format!(
                "fused op {}: max |GPU - CPU| {:.2e} (scale {:.2}, limit 1e-5 x scale){}",
                c.name,
                c.max_abs_diff,
                c.scale,
                if c.on_device {
                    ""
                } else {
                    "; result left the GPU"
                }
            ),
        );
    }
    unet_forward_backward(&gpu, batch, false, &mut tally)?;
    unet_forward_backward(&gpu, batch, true, &mut tally)?;
    knn_on_gpu(&gpu, &mut tally)?;
    sampler_bandwidth(&gpu, &mut tally)?;
    println!(
        "gpu_check: {} passed, {} failed",
        tally.passed, tally.failed
    );
    if tally.failed > 0 {
        std::process::exit(1);
    }
    Ok(())
}
