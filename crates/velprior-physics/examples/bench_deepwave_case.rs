//! Benchmark: the case of `bench/reference/deepwave_bench.py` (100×300 grid, dx 10 m, nt 1000,
//! 10 shots × 300 receivers, 4th order, C-PML 20, 10 Hz Ricker) — forward and forward+gradient
//! — one misfit+gradient evaluation of the Marmousi 70×190 FWI (5 shots, nt 1000), and one
//! OpenFWI-preset forward of a 70×70 model (data generation).
//!
//! Run: `cargo run --release -p velprior-physics --example bench_deepwave_case [reps]`

use std::time::Instant;
use velprior_physics::{
    Acquisition, Boundary, GradientOptions, Misfit, ModelShape, Shot, SolverConfig, Storage,
    forward, misfit_and_gradient, ricker,
};

const NZ: usize = 100;
const NX: usize = 300;

fn true_model() -> Vec<f32> {
    let mut v = vec![0.0f32; NZ * NX];
    for iz in 0..NZ {
        for ix in 0..NX {
            let (z, x) = (iz as f32 * 10.0, ix as f32 * 10.0);
            let mut val = 1500.0 + 1.5 * z;
            for (depth, dv) in [(300.0, 300.0), (550.0, 500.0), (800.0, 700.0)] {
                if z >= depth + 0.05 * (x - 1500.0) {
                    val += dv;
                }
            }
            v[iz * NX + ix] = val.clamp(1500.0, 4500.0);
        }
    }
    v
}

/// Box smoothing of half-width n with replicate padding (as the Python script).
fn smooth(v: &[f32], n: isize) -> Vec<f32> {
    let mut out = vec![0.0f32; v.len()];
    for iz in 0..NZ as isize {
        for ix in 0..NX as isize {
            let mut s = 0.0;
            for dz in -n..=n {
                for dx in -n..=n {
                    let z = (iz + dz).clamp(0, NZ as isize - 1) as usize;
                    let x = (ix + dx).clamp(0, NX as isize - 1) as usize;
                    s += v[z * NX + x];
                }
            }
            out[iz as usize * NX + ix as usize] = s / ((2 * n + 1) * (2 * n + 1)) as f32;
        }
    }
    out
}

fn median(mut t: Vec<f64>) -> f64 {
    t.sort_by(f64::total_cmp);
    t[t.len() / 2]
}

fn time<T>(reps: usize, mut f: impl FnMut() -> T) -> (f64, f64) {
    f();
    let t: Vec<f64> = (0..reps)
        .map(|_| {
            let s = Instant::now();
            std::hint::black_box(f());
            s.elapsed().as_secs_f64()
        })
        .collect();
    let min = t.iter().copied().fold(f64::INFINITY, f64::min);
    (median(t), min)
}

fn main() {
    let reps: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    println!("rayon threads: {}", rayon::current_num_threads());
    let shape = ModelShape::new(NZ, NX);
    let (vt, v0) = (true_model(), smooth(&true_model(), 8));
    let nt = 1000;
    let shots = (0..10)
        .map(|i| {
            let ix = (15.0 + i as f64 * (NX as f64 - 31.0) / 9.0).round() as usize;
            Shot {
                source: (1, ix),
                receivers: (0..NX).map(|j| (1, j)).collect(),
            }
        })
        .collect();
    let acq = Acquisition {
        shots,
        wavelet: ricker(10.0, 1e-3, nt, 0.15),
    };
    let cfg = SolverConfig {
        dx: 10.0,
        dt: 1e-3,
        order: 4,
        freq: 10.0,
        boundary: Boundary::Cpml {
            width: 20,
            reflection: 1e-3,
            max_velocity: Some(4500.0),
        },
        free_surface: false,
    };
    let d_obs = forward(&vt, shape, &cfg, &acq).unwrap();
    let cells = (NZ * NX * nt * 10) as f64;
    let only = std::env::args().nth(2).unwrap_or_default();
    // CPU-time modes for `perf stat -e task-clock` on a busy machine: only forwards, or only
    // forward+gradient evaluations (the reference data forward runs once in both).
    if only == "forward" {
        for _ in 0..reps {
            std::hint::black_box(forward(&v0, shape, &cfg, &acq).unwrap());
        }
        return;
    }
    if only == "gradient" {
        let opts = GradientOptions {
            misfit: Misfit::L2,
            storage: Storage::All,
        };
        for _ in 0..reps {
            std::hint::black_box(
                misfit_and_gradient(&v0, shape, &cfg, &acq, &d_obs, opts).unwrap(),
            );
        }
        return;
    }
    let (fm, fmin) = time(reps, || forward(&v0, shape, &cfg, &acq).unwrap());
    println!(
        "deepwave case forward: median {fm:.3} s (min {fmin:.3} s), {:.2e} interior updates/s; deepwave reference 0.38 s -> ratio {:.2}x",
        cells / fm,
        0.38 / fm
    );
    for storage in [Storage::All, Storage::Checkpointed { every: 32 }] {
        let opts = GradientOptions {
            misfit: Misfit::L2,
            storage,
        };
        let (gm, gmin) = time(reps, || {
            misfit_and_gradient(&v0, shape, &cfg, &acq, &d_obs, opts).unwrap()
        });
        println!(
            "deepwave case forward+gradient ({storage:?}): median {gm:.3} s (min {gmin:.3} s); deepwave reference 3.98 s -> ratio {:.2}x",
            3.98 / gm
        );
    }
    // One Marmousi FWI iteration (misfit + gradient), 70×190, 5 shots, 190 receivers, C-PML 20.
    let ms = ModelShape::new(70, 190);
    let vm: Vec<f32> = (0..ms.len())
        .map(|i| 1500.0 + 40.0 * (i / 190) as f32)
        .collect();
    let acq_m = Acquisition::surface(190, 5, 1, velprior_physics::ricker_openfwi(15.0, 1e-3, nt));
    let cfg_m = SolverConfig {
        freq: 15.0,
        ..cfg.clone()
    };
    let d_m = forward(
        &vm.iter().map(|v| v * 1.05).collect::<Vec<_>>(),
        ms,
        &cfg_m,
        &acq_m,
    )
    .unwrap();
    let opts = GradientOptions {
        misfit: Misfit::L1,
        storage: Storage::default(),
    };
    let (mm, mmin) = time(reps, || {
        misfit_and_gradient(&vm, ms, &cfg_m, &acq_m, &d_m, opts).unwrap()
    });
    println!(
        "Marmousi 70x190 FWI iteration (5 shots, nt 1000, misfit+gradient): median {mm:.3} s (min {mmin:.3} s)"
    );
    // OpenFWI data generation: the exact preset (120-cell damping border) on a 70×70 model.
    let (mo, mo_min) = time(reps, || {
        forward(
            &vm[..70 * 70],
            ModelShape::new(70, 70),
            &SolverConfig::openfwi(),
            &Acquisition::surface(70, 5, 1, velprior_physics::ricker_openfwi(15.0, 1e-3, nt)),
        )
        .unwrap()
    });
    println!(
        "OpenFWI preset forward 70x70 (5 shots, nt 1000, 310x310 padded): median {mo:.3} s (min {mo_min:.3} s)"
    );
}
