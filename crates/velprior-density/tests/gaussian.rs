//! Gaussian/PCA prior against closed forms: the fit converges to a known low-rank +
//! isotropic Gaussian, the Gram (N < D) route matches a dense eigen-decomposition, the
//! log-density equals a dense Cholesky log-pdf, the gradient matches central finite
//! differences, samples have the model's moments.

use candle_core::Device;
use nalgebra::{DMatrix, DVector, SymmetricEigen};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use velprior_density::{DensityModel, GaussianPrior, LogDensity};

/// A known PPCA Gaussian: mean, orthonormal U (k × D), λ, σ²; dense Σ.
struct Truth {
    mean: DVector<f64>,
    cov: DMatrix<f64>,
}

fn truth(d: usize, lambdas: &[f64], s2: f64, seed: u64) -> Truth {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let a: DMatrix<f64> =
        DMatrix::from_fn(d, lambdas.len(), |_, _| StandardNormal.sample(&mut rng));
    let q = a.qr().q(); // D × k, orthonormal columns
    let mut cov: DMatrix<f64> = DMatrix::identity(d, d) * s2;
    for (i, l) in lambdas.iter().enumerate() {
        let u: DVector<f64> = q.column(i).into_owned();
        cov += (&u * u.transpose()) * (l - s2);
    }
    let mean = DVector::from_fn(d, |i, _| 0.3 * i as f64 - 0.5);
    Truth { mean, cov }
}

/// N draws μ + L ε with Σ = L Lᵀ (Cholesky): independent of the code under test.
fn draw(t: &Truth, n: usize, seed: u64) -> Vec<f32> {
    let d = t.mean.len();
    let l = t.cov.clone().cholesky().unwrap().l();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut out = Vec::with_capacity(n * d);
    for _ in 0..n {
        let e = DVector::from_fn(d, |_, _| StandardNormal.sample(&mut rng));
        out.extend((&t.mean + &l * e).iter().map(|&v| v as f32));
    }
    out
}

/// Σ = σ² I + Uᵀ diag(λ − σ²) U assembled here from the prior's parts.
fn dense_cov(p: &GaussianPrior) -> DMatrix<f64> {
    let d = p.dim();
    let s2 = p.residual_variance();
    let mut cov = DMatrix::identity(d, d) * s2;
    for (k, l) in p.eigenvalues().iter().enumerate() {
        let u = DVector::from_iterator(
            d,
            p.components()[k * d..(k + 1) * d].iter().map(|&v| v as f64),
        );
        cov += (&u * u.transpose()) * (l - s2);
    }
    cov
}

fn errors(p: &GaussianPrior, t: &Truth) -> (f64, f64) {
    let mean = DVector::from_iterator(p.dim(), p.mean().iter().map(|&v| v as f64));
    let mean_err = (mean - &t.mean).norm();
    let cov_err = (dense_cov(p) - &t.cov).norm() / t.cov.norm();
    (mean_err, cov_err)
}

#[test]
fn fit_converges_to_a_known_low_rank_gaussian() {
    let t = truth(6, &[4.0, 2.0], 0.1, 1);
    let small = GaussianPrior::fit(&draw(&t, 500, 2), 6, 2).unwrap();
    let large = GaussianPrior::fit(&draw(&t, 16_000, 3), 6, 2).unwrap();
    let (m_small, c_small) = errors(&small, &t);
    let (m_large, c_large) = errors(&large, &t);
    // Errors shrink like 1/√N: 32× more data → ~5.7× smaller; require 2.5× and absolute
    // tolerances of ~4 standard errors at N = 16000.
    assert!(m_large < m_small / 2.5, "mean {m_small} -> {m_large}");
    assert!(c_large < c_small / 2.5, "cov {c_small} -> {c_large}");
    assert!(m_large < 0.06, "mean error {m_large}");
    assert!(c_large < 0.04, "relative covariance error {c_large}");
    assert!((large.residual_variance() - 0.1).abs() < 0.01);
    let l = large.eigenvalues();
    assert!(
        (l[0] - 4.0).abs() < 0.2 && (l[1] - 2.0).abs() < 0.1,
        "{l:?}"
    );
    assert_eq!((large.dim(), large.rank()), (6, 2));
}

#[test]
fn gram_route_matches_a_dense_eigendecomposition() {
    // N = 12 < D = 30 takes the Gram route; compare with the D × D covariance here.
    let (n, d, k) = (12, 30, 4);
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let x: Vec<f32> = (0..n * d)
        .map(|i| {
            let e: f32 = StandardNormal.sample(&mut rng);
            e * (1.0 + (i % d) as f32 / 10.0)
        })
        .collect();
    let p = GaussianPrior::fit(&x, d, k).unwrap();
    let xm = DMatrix::from_fn(n, d, |i, j| x[i * d + j] as f64);
    let mean = xm.row_mean();
    let xc = DMatrix::from_fn(n, d, |i, j| xm[(i, j)] - mean[j]);
    let cov = xc.tr_mul(&xc) / (n - 1) as f64;
    let eig = SymmetricEigen::new(cov.clone());
    let mut order: Vec<usize> = (0..d).collect();
    order.sort_by(|&a, &b| eig.eigenvalues[b].total_cmp(&eig.eigenvalues[a]));
    let mut projector = DMatrix::zeros(d, d);
    for (r, &i) in order[..k].iter().enumerate() {
        assert!(
            (p.eigenvalues()[r] - eig.eigenvalues[i]).abs() < 1e-4 * eig.eigenvalues[i],
            "eigenvalue {r}"
        );
        let u = eig.eigenvectors.column(i);
        projector += u * u.transpose();
    }
    let residual: f64 =
        order[k..].iter().map(|&i| eig.eigenvalues[i]).sum::<f64>() / (d - k) as f64;
    assert!((p.residual_variance() - residual).abs() < 1e-5 * residual);
    let mut fitted = DMatrix::zeros(d, d);
    for r in 0..k {
        let u = DVector::from_iterator(
            d,
            p.components()[r * d..(r + 1) * d].iter().map(|&v| v as f64),
        );
        assert!((u.norm() - 1.0).abs() < 1e-5);
        fitted += &u * u.transpose();
    }
    assert!(
        (fitted - projector).norm() < 1e-4,
        "component subspaces differ"
    );
    assert!(
        GaussianPrior::fit(&x, d, n).is_err(),
        "rank must stay below N"
    );
}

#[test]
fn log_density_equals_a_dense_cholesky_log_pdf() {
    let t = truth(5, &[3.0, 0.5], 0.05, 4);
    let p = GaussianPrior::fit(&draw(&t, 200, 5), 5, 2).unwrap();
    let cov = dense_cov(&p);
    let fitted: Vec<f64> = p.covariance();
    assert!(
        fitted
            .iter()
            .zip(cov.iter())
            .all(|(a, b)| (a - b).abs() < 1e-6),
        "covariance() differs from the assembled Σ"
    );
    let chol = cov.clone().cholesky().unwrap();
    let log_det = 2.0 * chol.l().diagonal().iter().map(|v| v.ln()).sum::<f64>();
    for (i, x) in draw(&t, 4, 6).chunks(5).enumerate() {
        let r = DVector::from_iterator(
            5,
            x.iter().zip(p.mean()).map(|(&a, &m)| a as f64 - m as f64),
        );
        let quad = r.dot(&chol.solve(&r));
        let expect = -0.5 * (5.0 * (2.0 * std::f64::consts::PI).ln() + log_det + quad);
        let got = p.log_density(x).unwrap();
        assert!(
            (got - expect).abs() < 1e-6 * expect.abs().max(1.0),
            "{i}: {got} vs {expect}"
        );
    }
}

#[test]
fn gradient_matches_central_finite_differences() {
    let t = truth(10, &[2.0, 1.0, 0.4], 0.02, 8);
    let p = GaussianPrior::fit(&draw(&t, 300, 9), 10, 3).unwrap();
    let x: Vec<f32> = draw(&t, 1, 10);
    let g = p.grad_log_density(&x).unwrap();
    let h = 1e-2f32;
    let fd: Vec<f64> = (0..10)
        .map(|j| {
            let (mut plus, mut minus) = (x.clone(), x.clone());
            plus[j] += h;
            minus[j] -= h;
            // the step actually taken in f32
            let step = (plus[j] - minus[j]) as f64;
            (p.log_density(&plus).unwrap() - p.log_density(&minus).unwrap()) / step
        })
        .collect();
    // Relative error per component, floored at 1 % of the largest component (not at an
    // absolute 1): catches a component zeroed or scaled even where the true gradient is small.
    let scale = fd.iter().fold(0f64, |m, v| m.max(v.abs()));
    for (j, fd) in fd.iter().enumerate() {
        assert!(
            (g[j] as f64 - fd).abs() < 1e-3 * fd.abs().max(1e-2 * scale),
            "d/dx{j}: {} vs {fd}",
            g[j]
        );
    }
}

#[test]
fn samples_have_the_model_moments_and_are_seeded() {
    let t = truth(4, &[1.5], 0.2, 11);
    let p = GaussianPrior::fit(&draw(&t, 100, 12), 4, 1).unwrap();
    let n = 40_000;
    let s = p.sample(n, 3).unwrap();
    assert_eq!(s, p.sample(n, 3).unwrap());
    assert_ne!(s[..4], p.sample(1, 4).unwrap()[..]);
    let xs = DMatrix::from_fn(n, 4, |i, j| s[i * 4 + j] as f64);
    let mean = xs.row_mean();
    for j in 0..4 {
        assert!((mean[j] - p.mean()[j] as f64).abs() < 0.03, "mean {j}");
    }
    let xc = DMatrix::from_fn(n, 4, |i, j| xs[(i, j)] - mean[j]);
    let cov = xc.tr_mul(&xc) / (n - 1) as f64;
    let rel = (cov - dense_cov(&p)).norm() / dense_cov(&p).norm();
    assert!(rel < 0.03, "sample covariance off by {rel}");
}

#[test]
fn tensors_round_trip_and_bad_input_is_an_error() {
    let t = truth(5, &[1.0, 0.5], 0.1, 13);
    let p = GaussianPrior::fit(&draw(&t, 50, 14), 5, 2).unwrap();
    let map = p.to_tensors(&Device::Cpu).unwrap().into_iter().collect();
    let back = GaussianPrior::from_tensors(&map).unwrap();
    assert_eq!(back.mean(), p.mean());
    assert_eq!(back.components(), p.components());
    assert!((back.residual_variance() - p.residual_variance()).abs() < 1e-7);
    assert!(GaussianPrior::fit(&[1.0; 7], 5, 1).is_err());
    assert!(GaussianPrior::fit(&[1.0; 5], 5, 1).is_err());
    assert!(GaussianPrior::fit(&draw(&t, 50, 14), 5, 6).is_err());
    // a corpus of identical models spans no direction: asking for one fails by name
    let flat = vec![0.5f32; 4 * 10];
    let err = GaussianPrior::fit(&flat, 10, 1).unwrap_err().to_string();
    assert!(err.contains("lower the rank"), "{err}");
}
