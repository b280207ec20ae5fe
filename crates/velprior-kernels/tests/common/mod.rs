//! Independent f64 reference formulas shared by the tests (they never call the crate's helpers).
#![allow(dead_code)]

pub mod against_candle;

use candle_core::{Device, Tensor};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

/// A value with the sum of the magnitudes of the terms that formed it: the natural scale for the
/// rounding error of a floating-point linear combination (relative error is measured against it).
#[derive(Clone, Copy, Debug)]
pub struct V {
    pub v: f64,
    pub m: f64,
}

pub fn inp(x: f32) -> V {
    V {
        v: x as f64,
        m: (x as f64).abs(),
    }
}

/// Σ c_k x_k.
pub fn lin(terms: &[(f64, V)]) -> V {
    V {
        v: terms.iter().map(|(c, x)| c * x.v).sum(),
        m: terms.iter().map(|(c, x)| c.abs() * x.m).sum(),
    }
}

pub fn clamp(x: V, lo: f64, hi: f64) -> V {
    V {
        v: x.v.max(lo).min(hi),
        m: x.m,
    }
}

/// Reference ᾱ_t, t = 0..T, by the textbook formulas (plain products, f64).
pub fn ref_betas(kind: &str, t: usize) -> Vec<f64> {
    let n = t as f64;
    let from_abar = |f: &dyn Fn(f64) -> f64| -> Vec<f64> {
        (0..t)
            .map(|i| {
                let b = 1.0 - f((i + 1) as f64 / n) / f(i as f64 / n);
                b.min(0.999)
            })
            .collect()
    };
    match kind {
        "linear" => (0..t)
            .map(|i| {
                if t == 1 {
                    1e-4
                } else {
                    1e-4 + (0.02 - 1e-4) * i as f64 / (n - 1.0)
                }
            })
            .collect(),
        "cosine" => from_abar(&|u| {
            ((u + 0.008) / 1.008 * std::f64::consts::PI / 2.0)
                .cos()
                .powi(2)
        }),
        "sigmoid" => {
            let sig = |x: f64| 1.0 / (1.0 + (-x).exp());
            from_abar(&|u| (sig(3.0) - sig(6.0 * u - 3.0)) / (sig(3.0) - sig(-3.0)))
        }
        _ => unreachable!(),
    }
}

pub fn ref_abar(betas: &[f64]) -> Vec<f64> {
    let mut p = 1.0;
    betas
        .iter()
        .map(|b| {
            p *= 1.0 - b;
            p
        })
        .collect()
}

pub const KINDS: [&str; 3] = ["linear", "cosine", "sigmoid"];

pub fn schedule(kind: &str, t: usize) -> velprior_kernels::Schedule {
    match kind {
        "linear" => velprior_kernels::Schedule::linear(t),
        "cosine" => velprior_kernels::Schedule::cosine(t),
        "sigmoid" => velprior_kernels::Schedule::sigmoid(t),
        _ => unreachable!(),
    }
    .unwrap()
}

pub fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

pub fn randn(rng: &mut ChaCha8Rng, shape: &[usize]) -> (Vec<f32>, Tensor) {
    let n: usize = shape.iter().product();
    let v: Vec<f32> = (0..n).map(|_| StandardNormal.sample(rng)).collect();
    let t = Tensor::from_vec(v.clone(), shape, &Device::Cpu).unwrap();
    (v, t)
}

pub fn flat(t: &Tensor) -> Vec<f32> {
    t.flatten_all().unwrap().to_vec1::<f32>().unwrap()
}

/// Asserts |got − want.v| ≤ rel · want.m (+ 1e-30) everywhere; returns the worst ratio.
pub fn assert_close(what: &str, got: &[f32], want: &[V], rel: f64) -> f64 {
    assert_eq!(got.len(), want.len(), "{what}: length");
    let mut worst = 0.0f64;
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let err = (*g as f64 - w.v).abs();
        let ratio = err / (w.m + 1e-30);
        assert!(
            err <= rel * w.m + 1e-30,
            "{what}: element {i}: got {g}, want {} (scale {}, error {err:e}, relative {ratio:e})",
            w.v,
            w.m
        );
        worst = worst.max(ratio);
    }
    worst
}
