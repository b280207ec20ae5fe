//! Benchmark of exact top-2 L2 nearest neighbours, matching `bench/reference/nn_bench.py`:
//! 1,000 queries × 10,000 training models of 64×64 f32 (D = 4,096), 100 planted
//! near-duplicates, whole pipeline (norms + product + top-2 + exact re-rank), 1 warm-up +
//! median of 7. Prints wall and process CPU seconds per run.
//!
//! `cargo run --release -p velprior-memorization --example bench_knn [-- --chunk C --block B]`

use std::time::Instant;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use velprior_memorization::{InMemory, KnnOptions, Metric, knn};

fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let (n, q, d) = (10_000, 1_000, 64 * 64);
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let train: Vec<f32> = (0..n * d).map(|_| rng.sample(StandardNormal)).collect();
    let mut queries: Vec<f32> = (0..q * d).map(|_| rng.sample(StandardNormal)).collect();
    let dup: Vec<usize> = (0..100).map(|i| (i * 97 + 13) % n).collect();
    for (i, &j) in dup.iter().enumerate() {
        for c in 0..d {
            let e: f32 = rng.sample(StandardNormal);
            queries[i * d + c] = train[j * d + c] + 0.01 * e;
        }
    }
    let source = InMemory::new(&train, d).expect("whole models");
    let mut opts = KnnOptions::new(2, Metric::L2);
    opts.chunk = arg("--chunk", opts.chunk);
    opts.query_block = arg("--block", opts.query_block);
    let run = || knn(&queries, &source, &opts).expect("search");
    let nn = run();
    assert!(
        (0..100).all(|i| nn.row(i).0[0] == dup[i]),
        "planted duplicates not recovered"
    );
    let (mut wall, mut cpu) = (Vec::new(), Vec::new());
    for _ in 0..7 {
        let (t0, c0) = (Instant::now(), cpu_seconds());
        std::hint::black_box(run());
        wall.push(t0.elapsed().as_secs_f64());
        cpu.push(cpu_seconds() - c0);
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let min_wall = wall.iter().cloned().fold(f64::INFINITY, f64::min);
    println!(
        "knn top-2 {q}x{n}x{d}: median {:.3} s, min {min_wall:.3} s wall; median {:.2} s CPU; \
         {} threads; chunk {} block {}; {:.0} GFLOP/s (median)",
        median(&mut wall.clone()),
        median(&mut cpu),
        rayon::current_num_threads(),
        opts.chunk,
        opts.query_block,
        2.0 * (q * n * d) as f64 / median(&mut wall) / 1e9
    );
}
