//! Gaussian-process prior against closed forms: the Kronecker-factored log-density equals
//! the dense multivariate normal's, the gradient matches central differences, the sample
//! covariance matches the kernel, and the fit recovers known correlation lengths and trend.

use nalgebra::{DMatrix, DVector};
use velprior_density::{DensityModel, GaussianProcess, GpFit, Kernel, LogDensity};

/// The dense covariance of an exponential-kernel process on an h × w grid, written out from
/// its definition: σ² exp(−|Δz|/ℓ_z) exp(−|Δx|/ℓ_x) + τ² δ.
fn dense_exponential(h: usize, w: usize, s2: f64, t2: f64, [lz, lx]: [f64; 2]) -> DMatrix<f64> {
    DMatrix::from_fn(h * w, h * w, |p, q| {
        let (dz, dx) = (
            (p / w) as f64 - (q / w) as f64,
            (p % w) as f64 - (q % w) as f64,
        );
        s2 * (-dz.abs() / lz - dx.abs() / lx).exp() + if p == q { t2 } else { 0.0 }
    })
}

fn trend(h: usize) -> Vec<f32> {
    (0..h).map(|z| -0.5 + z as f32 / h as f32).collect()
}

/// Catches a wrong eigen-basis product (Q_z C Q_x instead of Q_z C Q_xᵀ), a spectrum that
/// forgets the nugget or σ², or a missing log-determinant or 2π term.
#[test]
fn log_density_equals_the_dense_gaussian() {
    let (h, w) = (6, 5);
    let gp = GaussianProcess::new(Kernel::Exponential, trend(h), w, 0.7, 0.05, [1.5, 3.0]).unwrap();
    let cov = dense_exponential(h, w, 0.7, 0.05, [1.5, 3.0]);
    let chol = cov.cholesky().unwrap();
    let log_det = 2.0 * chol.l().diagonal().iter().map(|v| v.ln()).sum::<f64>();
    for seed in 0..5u64 {
        let x: Vec<f32> = (0..h * w)
            .map(|i| ((i as f64 * 0.37 + seed as f64).sin() * 1.3) as f32)
            .collect();
        let r = DVector::from_fn(h * w, |p, _| x[p] as f64 - trend(h)[p / w] as f64);
        let want = -0.5
            * (r.dot(&chol.solve(&r))
                + log_det
                + (h * w) as f64 * (2.0 * std::f64::consts::PI).ln());
        let got = gp.log_density(&x).unwrap();
        assert!(
            (got - want).abs() < 1e-6 * (1.0 + want.abs()),
            "{got} vs {want}"
        );
    }
}

/// Catches a sign error or a transposed factor in −Σ⁻¹(x − μ).
#[test]
fn gradient_matches_central_differences() {
    let (h, w) = (5, 7);
    let gp = GaussianProcess::new(Kernel::Matern32, trend(h), w, 1.0, 0.1, [2.0, 4.0]).unwrap();
    let x: Vec<f32> = (0..h * w).map(|i| (i as f32 * 0.61).cos()).collect();
    let g = gp.grad_log_density(&x).unwrap();
    let step = 1e-3f32;
    for i in 0..h * w {
        let (mut up, mut down) = (x.clone(), x.clone());
        up[i] += step;
        down[i] -= step;
        let fd =
            (gp.log_density(&up).unwrap() - gp.log_density(&down).unwrap()) / (2.0 * step as f64);
        assert!(
            (g[i] as f64 - fd).abs() < 1e-2 * (1.0 + fd.abs()),
            "∂{i}: {} vs {fd}",
            g[i]
        );
    }
}

/// Catches a sampler that scales by the spectrum instead of its square root, transposes a
/// factor or swaps the lateral and vertical lengths: the sample covariance of every pair of
/// cells against the kernel, within five standard errors.
#[test]
fn sample_covariance_matches_the_kernel() {
    let (h, w) = (6, 8);
    let (s2, t2, lengths) = (0.8, 0.02, [1.0, 4.0]);
    let gp = GaussianProcess::new(Kernel::Exponential, trend(h), w, s2, t2, lengths).unwrap();
    let cov = dense_exponential(h, w, s2, t2, lengths);
    let n = 20_000;
    let samples = gp.sample(n, 7).unwrap();
    let d = h * w;
    let mut got = DMatrix::<f64>::zeros(d, d);
    for x in samples.chunks_exact(d) {
        let r = DVector::from_fn(d, |p, _| x[p] as f64 - trend(h)[p / w] as f64);
        got += &r * r.transpose();
    }
    got /= n as f64;
    for p in 0..d {
        for q in 0..d {
            let se = ((cov[(p, p)] * cov[(q, q)] + cov[(p, q)].powi(2)) / n as f64).sqrt();
            assert!(
                (got[(p, q)] - cov[(p, q)]).abs() < 5.0 * se,
                "cells {p},{q}: {} vs {}",
                got[(p, q)],
                cov[(p, q)]
            );
        }
    }
}

/// Catches a fit that confuses the lateral and vertical lags, estimates the correlation at
/// the wrong lag, or forgets the depth trend: on 400 draws of a process with ℓ_z = 3 and
/// ℓ_x = 8 cells the fitted lengths are within 10 % and the trend within 0.05.
#[test]
fn fit_recovers_known_lengths_and_trend() {
    let (h, w) = (24, 32);
    let truth =
        GaussianProcess::new(Kernel::Exponential, trend(h), w, 0.25, 0.0025, [3.0, 8.0]).unwrap();
    let models = truth.sample(400, 3).unwrap();
    let fit = GpFit {
        kernel: Kernel::Exponential,
        nugget: 0.01,
        max_lag: 12,
    };
    let gp = GaussianProcess::fit(&models, [h, w], &fit).unwrap();
    let [lz, lx] = gp.lengths();
    assert!((lz / 3.0 - 1.0).abs() < 0.1, "ℓ_z = {lz}");
    assert!((lx / 8.0 - 1.0).abs() < 0.1, "ℓ_x = {lx}");
    assert!(
        (gp.variance() + gp.nugget() - 0.2525).abs() < 0.03,
        "variance {}",
        gp.variance() + gp.nugget()
    );
    // The fitted mean at each depth is the trend: sample a model's mean from the fit.
    let mean = gp
        .sample(2000, 4)
        .unwrap()
        .chunks_exact(h * w)
        .fold(vec![0f64; h], |mut m, x| {
            for (z, row) in x.chunks_exact(w).enumerate() {
                m[z] += row.iter().map(|&v| v as f64).sum::<f64>() / (2000 * w) as f64;
            }
            m
        });
    for (z, (got, want)) in mean.iter().zip(trend(h)).enumerate() {
        assert!(
            (got - want as f64).abs() < 0.05,
            "trend at depth {z}: {got} vs {want}"
        );
    }
}

/// Catches a fit that accepts a nugget it cannot use instead of saying what to change.
#[test]
fn a_nugget_outside_zero_one_is_a_clear_error() {
    let fit = GpFit {
        kernel: Kernel::Gaussian,
        nugget: 1.5,
        max_lag: 5,
    };
    let e = GaussianProcess::fit(&[0.0; 12], [3, 4], &fit)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("nugget 1.5 must lie strictly between 0 and 1"),
        "{e}"
    );
}
