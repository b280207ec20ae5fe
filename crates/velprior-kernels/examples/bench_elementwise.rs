//! CPU throughput of the fused ops against a plain copy of the same bytes.
//!
//! `cargo run --release -p velprior-kernels --example bench_elementwise [-- N H W [ROUNDS]]`
//! (default 64 × 1 × 128 × 128 f32, 40 rounds). Bytes counted = every input read + the output
//! written. Baselines: a parallel (rayon, all threads) `copy_from_slice` of one tensor into a
//! preallocated buffer, and the same copy into a freshly allocated buffer (what every op pays:
//! candle ops return a new tensor). The measurements are interleaved round by round and each
//! figure is the best round (20 calls each), so that load from other processes hits all alike.

use std::hint::black_box;
use std::time::Instant;

use candle_core::{Device, Tensor};
use rayon::prelude::*;
use velprior_kernels::{DdpmStep, Schedule, ddpm_step, q_sample};

const CALLS: usize = 20;

/// (name, bytes moved per call, the call).
type Case<'a> = (&'static str, f64, Box<dyn FnMut() + 'a>);

fn secs_per_call(f: &mut dyn FnMut()) -> f64 {
    let t = Instant::now();
    for _ in 0..CALLS {
        f();
    }
    t.elapsed().as_secs_f64() / CALLS as f64
}

/// Minor page faults of this process so far (Linux; 0 elsewhere).
fn minor_faults() -> u64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            let rest = &s[s.rfind(')')? + 2..];
            rest.split(' ').nth(7)?.parse().ok()
        })
        .unwrap_or(0)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse())
        .collect::<Result<_, _>>()?;
    let (n, h, w, rounds) = match args[..] {
        [n, h, w, r] => (n, h, w, r),
        [n, h, w] => (n, h, w, 40),
        [] => (64, 128, 128, 40),
        _ => return Err("usage: bench_elementwise [N H W [ROUNDS]]".into()),
    };
    let shape = (n, 1, h, w);
    let numel = n * h * w;
    let bytes = (numel * 4) as f64;
    let dev = Device::Cpu;
    let x = Tensor::randn(0f32, 1., shape, &dev)?;
    let e = Tensor::randn(0f32, 1., shape, &dev)?;
    let z = Tensor::randn(0f32, 1., shape, &dev)?;
    let s = Schedule::linear(1000)?;
    let t: Vec<usize> = (0..n).map(|i| (i * 997) % 1000).collect();
    println!(
        "batch {n}x1x{h}x{w} f32 ({:.1} MiB per tensor), {} rayon threads, best of {rounds} rounds x {CALLS} calls",
        bytes / (1 << 20) as f64,
        rayon::current_num_threads()
    );

    let src = x.flatten_all()?.to_vec1::<f32>()?;
    let mut dst = vec![0f32; numel];
    let chunk = numel.div_ceil(rayon::current_num_threads()).max(1);
    let opts = DdpmStep::default();
    let clip = DdpmStep {
        clip_x0: Some((-1.0, 1.0)),
        ..Default::default()
    };
    let mut cases: Vec<Case> = vec![
        (
            "copy (preallocated)",
            2.0 * bytes,
            Box::new(|| {
                dst.par_chunks_mut(chunk)
                    .zip(src.par_chunks(chunk))
                    .for_each(|(d, s)| d.copy_from_slice(s));
                black_box(&dst);
            }),
        ),
        (
            "copy (fresh buffer)",
            2.0 * bytes,
            Box::new(|| {
                let mut v: Vec<f32> = Vec::with_capacity(numel);
                v.spare_capacity_mut()[..numel]
                    .par_chunks_mut(chunk)
                    .zip(src.par_chunks(chunk))
                    .for_each(|(d, s)| {
                        for (o, &x) in d.iter_mut().zip(s) {
                            o.write(x);
                        }
                    });
                // SAFETY: every element was written above.
                unsafe { v.set_len(numel) };
                black_box(v);
            }),
        ),
        (
            "q_sample",
            3.0 * bytes,
            Box::new(|| {
                black_box(q_sample(&x, &e, &t[..], &s).unwrap());
            }),
        ),
        (
            "ddpm_step",
            4.0 * bytes,
            Box::new(|| {
                black_box(ddpm_step(&x, &e, Some(&z), &t[..], &s, &opts).unwrap());
            }),
        ),
        (
            "ddpm_step clip",
            4.0 * bytes,
            Box::new(|| {
                black_box(ddpm_step(&x, &e, Some(&z), &t[..], &s, &clip).unwrap());
            }),
        ),
    ];
    let mut best = vec![f64::INFINITY; cases.len()];
    let mut faults = vec![0u64; cases.len()];
    for round in 0..=rounds {
        for (i, (_, _, f)) in cases.iter_mut().enumerate() {
            let f0 = minor_faults();
            let sec = secs_per_call(f.as_mut());
            faults[i] += minor_faults() - f0;
            if round > 0 {
                best[i] = best[i].min(sec);
            }
        }
    }
    let copy_gbs = cases[0].1 / best[0] / 1e9;
    for (((name, moved, _), sec), flt) in cases.iter().zip(&best).zip(&faults) {
        let gbs = moved / sec / 1e9;
        println!(
            "{name:<20} {gbs:7.2} GB/s  {:7.3} ms  {:6.1} % of preallocated copy  ({:.0} page faults/call)",
            sec * 1e3,
            100.0 * gbs / copy_gbs,
            *flt as f64 / ((rounds + 1) * CALLS) as f64
        );
    }
    Ok(())
}
