//! Gaussian mixture on PCA coordinates against closed forms: the log-density equals a dense
//! mixture of D-dimensional Gaussians, the gradient matches central differences, samples have
//! the mixture's moments, and EM recovers a known mixture (KL to the truth near the
//! parameter-count floor).

mod common;

use common::*;
use nalgebra::{DMatrix, DVector};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use velprior_density::{DensityModel, GaussianMixture, GmmFit, LogDensity};

/// Catches a wrong normalising constant (a missing ½ log det Cⱼ, k/2 log 2π or the residual's
/// (D − k)/2 log 2πσ²), a wrong projection or a responsibility computed without log-sum-exp.
#[test]
fn log_density_equals_the_dense_mixture() {
    let t = truth();
    let gmm = GaussianMixture::from_tensors(&t.tensors()).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    for _ in 0..20 {
        let x: Vec<f32> = (0..D)
            .map(|_| 2.0 * Distribution::<f64>::sample(&StandardNormal, &mut rng) as f32)
            .collect();
        let want = t.log_density(&as_vector(&x));
        let got = gmm.log_density(&x).unwrap();
        assert!(
            (got - want).abs() < 1e-4 * (1.0 + want.abs()),
            "log p: {got} vs dense {want}"
        );
    }
}

/// Catches a sign error or a missing term (the residual's −r⊥/σ², the subspace's Uᵀ∇ₐ).
#[test]
fn gradient_matches_central_differences() {
    let gmm = GaussianMixture::from_tensors(&truth().tensors()).unwrap();
    let x: Vec<f32> = vec![0.4, -0.7, 1.1, 0.2, -0.3];
    let g = gmm.grad_log_density(&x).unwrap();
    let h = 1e-3f32;
    for i in 0..D {
        let (mut up, mut down) = (x.clone(), x.clone());
        up[i] += h;
        down[i] -= h;
        let fd =
            (gmm.log_density(&up).unwrap() - gmm.log_density(&down).unwrap()) / (2.0 * h as f64);
        assert!(
            (g[i] as f64 - fd).abs() < 1e-2 * (1.0 + fd.abs()),
            "∂{i}: {} vs finite difference {fd}",
            g[i]
        );
    }
}

/// Catches a sampler that ignores the weights, draws with Lᵀ instead of L or drops the
/// residual off the subspace: the components are far apart (≥ 6 std), so each sample's
/// nearest component mean identifies it; per component, the frequency, the mean and the
/// covariance of the coordinates, and the residual variance, against the truth within five
/// standard errors.
#[test]
fn samples_have_the_mixture_moments() {
    let t = truth();
    let gmm = GaussianMixture::from_tensors(&t.tensors()).unwrap();
    let n = 40_000;
    let s = gmm.sample(n, 11).unwrap();
    let mut groups: Vec<Vec<DVector<f64>>> = vec![Vec::new(); 3];
    let mut off = 0.0;
    for x in s.chunks_exact(D) {
        let r = as_vector(x) - &t.mean;
        let a = &t.basis * &r;
        off += (r.norm_squared() - a.norm_squared()) / (D - K) as f64;
        let j = (0..3)
            .min_by(|&i, &j| {
                (&a - &t.means[i])
                    .norm()
                    .total_cmp(&(&a - &t.means[j]).norm())
            })
            .unwrap();
        groups[j].push(a);
    }
    let off = off / n as f64;
    // The residual's variance estimate has n(D − k) degrees of freedom.
    let se = t.residual * (2.0 / (n * (D - K)) as f64).sqrt();
    assert!(
        (off - t.residual).abs() < 5.0 * se,
        "residual variance {off}"
    );
    for (j, g) in groups.iter().enumerate() {
        let m = g.len() as f64;
        let w = t.weights[j];
        let se = (w * (1.0 - w) / n as f64).sqrt();
        assert!(
            (m / n as f64 - w).abs() < 5.0 * se,
            "weight {j}: {}",
            m / n as f64
        );
        let c = &t.covs[j];
        let mean = g.iter().fold(DVector::zeros(K), |s, a| s + a) / m;
        let cov = g.iter().fold(DMatrix::zeros(K, K), |s, a| {
            let d = a - &mean;
            s + &d * d.transpose()
        }) / (m - 1.0);
        for p in 0..K {
            let se = (c[(p, p)] / m).sqrt();
            assert!((mean[p] - t.means[j][p]).abs() < 5.0 * se, "mean {j}/{p}");
            for q in 0..K {
                let se = ((c[(p, p)] * c[(q, q)] + c[(p, q)].powi(2)) / m).sqrt();
                assert!(
                    (cov[(p, q)] - c[(p, q)]).abs() < 5.0 * se,
                    "covariance {j} ({p},{q}): {} vs {}",
                    cov[(p, q)],
                    c[(p, q)]
                );
            }
        }
    }
}

/// Catches an E or M step that does not maximise the likelihood (uniform responsibilities,
/// weights never updated, covariances about the pooled mean): the fitted mixture's KL
/// divergence from the truth, estimated on fresh draws. With 6,000 models and ~30 free
/// parameters the expected excess KL is about 30 / (2 · 6,000) ≈ 0.003 nats; the tolerance
/// is 0.02; a single Gaussian (K = 1) fitted to the same data scores 2.4.
#[test]
fn em_recovers_a_known_mixture() {
    let t = truth();
    let train = t.sample(6000, 21);
    let fit = GmmFit {
        rank: K,
        components: 3,
        iterations: 500,
        tolerance: 1e-9,
        regularisation: 1e-6,
        seed: 2,
    };
    let gmm = GaussianMixture::fit(&train, D, &fit).unwrap();
    let test = t.sample(4000, 22);
    let kl = test
        .chunks_exact(D)
        .map(|x| t.log_density(&as_vector(x)) - gmm.log_density(x).unwrap())
        .sum::<f64>()
        / 4000.0;
    assert!(kl.abs() < 0.02, "KL(truth ‖ fit) ≈ {kl}");
    let mut w = gmm.weights();
    w.sort_by(f64::total_cmp);
    for (got, want) in w.iter().zip([0.2, 0.3, 0.5]) {
        assert!((got - want).abs() < 0.03, "weights {w:?}");
    }
}

/// Catches a fit that accepts an impossible request instead of saying what to change.
#[test]
fn more_components_than_models_is_a_clear_error() {
    let t = truth();
    let train = t.sample(5, 1);
    let fit = GmmFit {
        rank: 2,
        components: 9,
        iterations: 10,
        tolerance: 1e-6,
        regularisation: 1e-3,
        seed: 0,
    };
    let e = GaussianMixture::fit(&train, D, &fit)
        .unwrap_err()
        .to_string();
    assert!(e.contains("9 components for 5 models"), "{e}");
}
