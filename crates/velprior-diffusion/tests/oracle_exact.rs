//! The oracles' ε̂ against brute-force formulas computed independently here (dense f64 inverses
//! and determinants, explicit densities, naive distance loops), and their input checks.

use candle_core::{DType, Device, Tensor};
use nalgebra::{DMatrix, DVector};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use velprior_diffusion::denoiser::{eps_from_x0, score_from_eps, x0_from_eps};
use velprior_diffusion::oracles::{EmpiricalOracle, GaussianMixtureOracle, GaussianOracle};
use velprior_diffusion::{Denoiser, NoiseLevel};

/// A random symmetric positive-definite d × d matrix A Aᵀ/d + 0.05 I, row-major.
fn random_spd(rng: &mut ChaCha8Rng, d: usize) -> Vec<f64> {
    let a = DMatrix::<f64>::from_fn(d, d, |_, _| rng.sample(StandardNormal));
    let s = &a * a.transpose() / d as f64 + DMatrix::identity(d, d) * 0.05;
    s.transpose().as_slice().to_vec()
}

fn randn(rng: &mut ChaCha8Rng, n: usize) -> Vec<f64> {
    (0..n).map(|_| rng.sample(StandardNormal)).collect()
}

/// Random batch x_t (N, 1, 3, 3) as f64 rows and as an f32 tensor, with random levels.
fn batch(rng: &mut ChaCha8Rng, n: usize, d: usize) -> (Vec<Vec<f64>>, Tensor, Vec<NoiseLevel>) {
    let rows: Vec<Vec<f64>> = (0..n)
        .map(|_| randn(rng, d).iter().map(|v| 1.5 * v).collect())
        .collect();
    let flat: Vec<f32> = rows.iter().flatten().map(|&v| v as f32).collect();
    // Rows are compared against the f32 values the oracle actually sees.
    let rows = flat
        .chunks(d)
        .map(|r| r.iter().map(|&v| v as f64).collect())
        .collect();
    let x = Tensor::from_vec(flat, (n, 1, 3, 3), &Device::Cpu).unwrap();
    let levels = [0.999, 0.9, 0.5, 0.1, 1e-3, 0.0]
        .iter()
        .cycle()
        .take(n)
        .enumerate()
        .map(|(i, &ab)| NoiseLevel {
            alpha_bar: ab,
            t: (i + 1) as f64 / n as f64,
        })
        .collect();
    (rows, x, levels)
}

fn rows_of(t: &Tensor) -> Vec<Vec<f64>> {
    t.to_dtype(DType::F64)
        .unwrap()
        .flatten_from(1)
        .unwrap()
        .to_vec2()
        .unwrap()
}

/// max |a − b| / (1 + |b|).
fn max_rel(a: &[Vec<f64>], b: &[Vec<f64>]) -> f64 {
    a.iter()
        .flatten()
        .zip(b.iter().flatten())
        .map(|(x, y)| (x - y).abs() / (1.0 + y.abs()))
        .fold(0.0, f64::max)
}

/// ε̂ = √(1−ᾱ) (ᾱΣ + (1−ᾱ)I)⁻¹ (x − √ᾱ μ) with a dense inverse.
fn gaussian_eps(mu: &[f64], cov: &[f64], x: &[f64], ab: f64) -> Vec<f64> {
    let d = mu.len();
    let c = DMatrix::from_row_slice(d, d, cov) * ab + DMatrix::identity(d, d) * (1.0 - ab);
    let r = DVector::from_column_slice(x) - DVector::from_column_slice(mu) * ab.sqrt();
    let e = c.try_inverse().unwrap() * r * (1.0 - ab).sqrt();
    e.as_slice().to_vec()
}

#[test]
fn gaussian_oracle_matches_dense_inverse() {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let d = 9;
    let mu = randn(&mut rng, d);
    let cov = random_spd(&mut rng, d);
    let oracle = GaussianOracle::new(&mu, &cov).unwrap();
    let (rows, x, levels) = batch(&mut rng, 12, d);
    let got = rows_of(&oracle.predict_eps(&x, &levels).unwrap());
    let want: Vec<Vec<f64>> = rows
        .iter()
        .zip(&levels)
        .map(|(r, l)| gaussian_eps(&mu, &cov, r, l.alpha_bar))
        .collect();
    // f32 output: 1e-6 relative.
    assert!(
        max_rel(&got, &want) < 2e-6,
        "max rel err {}",
        max_rel(&got, &want)
    );
}

#[test]
fn gaussian_oracle_x0_is_the_closed_form_posterior_mean() {
    // E[x_0 | x_t] = μ + √ᾱ Σ (ᾱΣ + (1−ᾱ)I)⁻¹ (x_t − √ᾱ μ) (Gaussian conditioning).
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let d = 9;
    let mu = randn(&mut rng, d);
    let cov = random_spd(&mut rng, d);
    let oracle = GaussianOracle::new(&mu, &cov).unwrap();
    let (rows, x, levels) = batch(&mut rng, 5, d);
    let got = rows_of(&oracle.predict_x0(&x, &levels).unwrap());
    let s = DMatrix::from_row_slice(d, d, &cov);
    let want: Vec<Vec<f64>> = rows
        .iter()
        .zip(&levels)
        .map(|(r, l)| {
            let ab = l.alpha_bar;
            let c = &s * ab + DMatrix::identity(d, d) * (1.0 - ab);
            let m = DVector::from_column_slice(&mu);
            let res = DVector::from_column_slice(r) - &m * ab.sqrt();
            (m + &s * c.try_inverse().unwrap() * res * ab.sqrt())
                .as_slice()
                .to_vec()
        })
        .collect();
    // Level ᾱ = 0 has no x̂_0 (division by √ᾱ): batch() puts it at index 5, beyond these 5 rows.
    assert!(
        max_rel(&got, &want) < 1e-4,
        "max rel err {}",
        max_rel(&got, &want)
    );
}

#[test]
fn mixture_oracle_matches_explicit_densities() {
    // score = Σ_k w_k N_k(x) (−C_k⁻¹ r_k) / Σ_k w_k N_k(x), densities with dense det and inverse.
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let d = 9;
    let w = [0.2, 0.5, 0.3];
    let mus: Vec<Vec<f64>> = (0..3)
        .map(|_| randn(&mut rng, d).iter().map(|v| 0.7 * v).collect())
        .collect();
    let covs: Vec<Vec<f64>> = (0..3).map(|_| random_spd(&mut rng, d)).collect();
    let oracle = GaussianMixtureOracle::new(&[2.0, 5.0, 3.0], &mus, &covs).unwrap();
    assert!(
        oracle
            .weights()
            .iter()
            .zip(w)
            .all(|(a, b)| (a - b).abs() < 1e-15)
    );
    let (rows, x, levels) = batch(&mut rng, 12, d);
    let got = rows_of(&oracle.predict_eps(&x, &levels).unwrap());
    let want: Vec<Vec<f64>> = rows
        .iter()
        .zip(&levels)
        .map(|(r, l)| {
            let ab = l.alpha_bar;
            let xv = DVector::from_column_slice(r);
            let (mut num, mut den) = (DVector::zeros(d), 0.0);
            for k in 0..3 {
                let c = DMatrix::from_row_slice(d, d, &covs[k]) * ab
                    + DMatrix::identity(d, d) * (1.0 - ab);
                let ci = c.clone().try_inverse().unwrap();
                let res = &xv - DVector::from_column_slice(&mus[k]) * ab.sqrt();
                let dens = w[k] * (-0.5 * res.dot(&(&ci * &res))).exp() / c.determinant().sqrt();
                num += ci * res * dens;
                den += dens;
            }
            (num / den * (1.0 - ab).sqrt()).as_slice().to_vec()
        })
        .collect();
    assert!(
        max_rel(&got, &want) < 2e-6,
        "max rel err {}",
        max_rel(&got, &want)
    );
}

#[test]
fn mixture_of_one_component_is_the_gaussian_oracle() {
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let mu = randn(&mut rng, 9);
    let cov = random_spd(&mut rng, 9);
    let (_, x, levels) = batch(&mut rng, 6, 9);
    let a = GaussianOracle::new(&mu, &cov)
        .unwrap()
        .predict_eps(&x, &levels)
        .unwrap();
    let b = GaussianMixtureOracle::new(&[1.0], &[mu], &[cov])
        .unwrap()
        .predict_eps(&x, &levels)
        .unwrap();
    assert!(max_rel(&rows_of(&a), &rows_of(&b)) < 1e-6);
}

#[test]
fn empirical_oracle_with_one_model_is_exact() {
    // softmax over one model is exactly 1: ε̂ = (x_t − √ᾱ x_1)/√(1−ᾱ), bit for bit in f32.
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let x1: Vec<f32> = (0..9).map(|_| rng.random_range(-1.0..1.0)).collect();
    let oracle =
        EmpiricalOracle::new(&Tensor::from_vec(x1.clone(), (1, 1, 3, 3), &Device::Cpu).unwrap())
            .unwrap();
    let (rows, x, levels) = batch(&mut rng, 12, 9);
    let got = oracle
        .predict_eps(&x, &levels)
        .unwrap()
        .flatten_from(1)
        .unwrap()
        .to_vec2::<f32>()
        .unwrap();
    for ((g, r), l) in got.iter().zip(&rows).zip(&levels) {
        let (sab, sigma) = (l.alpha_bar.sqrt(), (1.0 - l.alpha_bar).sqrt());
        let want: Vec<f32> = r
            .iter()
            .zip(&x1)
            .map(|(x, k)| ((x - sab * *k as f64) / sigma) as f32)
            .collect();
        assert_eq!(g, &want, "level {l:?}");
    }
}

#[test]
fn empirical_oracle_matches_naive_softmax() {
    let mut rng = ChaCha8Rng::seed_from_u64(6);
    let (k, d) = (40, 9);
    let train: Vec<f64> = (0..k * d).map(|_| rng.random_range(-1.0..1.0)).collect();
    let t32: Vec<f32> = train.iter().map(|&v| v as f32).collect();
    let oracle =
        EmpiricalOracle::new(&Tensor::from_vec(t32.clone(), (k, 9), &Device::Cpu).unwrap())
            .unwrap();
    assert_eq!((oracle.len(), oracle.dim()), (k, d));
    let (rows, x, levels) = batch(&mut rng, 600, d); // > one chunk of 256 rows
    let got = rows_of(&oracle.predict_eps(&x, &levels).unwrap());
    let models: Vec<Vec<f64>> = t32
        .chunks(d)
        .map(|r| r.iter().map(|&v| v as f64).collect())
        .collect();
    let want: Vec<Vec<f64>> = rows
        .iter()
        .zip(&levels)
        .map(|(r, l)| {
            let (sab, var) = (l.alpha_bar.sqrt(), 1.0 - l.alpha_bar);
            let logits: Vec<f64> = models
                .iter()
                .map(|m| {
                    -r.iter()
                        .zip(m)
                        .map(|(a, b)| (a - sab * b).powi(2))
                        .sum::<f64>()
                        / (2.0 * var)
                })
                .collect();
            let max = logits.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let p: Vec<f64> = logits.iter().map(|v| (v - max).exp()).collect();
            let z: f64 = p.iter().sum();
            (0..d)
                .map(|i| {
                    let x0: f64 = p.iter().zip(&models).map(|(p, m)| p * m[i]).sum::<f64>() / z;
                    (r[i] - sab * x0) / var.sqrt()
                })
                .collect()
        })
        .collect();
    assert!(
        max_rel(&got, &want) < 1e-5,
        "max rel err {}",
        max_rel(&got, &want)
    );
    // And E[x_0 | x_t] agrees with predict_x0 where ᾱ > 0.
    let pm = rows_of(&oracle.posterior_mean(&x, &levels).unwrap());
    let n = levels.iter().position(|l| l.alpha_bar == 0.0).unwrap();
    let px0 = rows_of(
        &oracle
            .predict_x0(&x.narrow(0, 0, n).unwrap(), &levels[..n])
            .unwrap(),
    );
    assert!(
        max_rel(&px0, &pm[..n]) < 1e-3,
        "{}",
        max_rel(&px0, &pm[..n])
    );
}

#[test]
fn eps_helpers_invert_each_other() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let (_, x, levels) = batch(&mut rng, 5, 9);
    let (_, eps, _) = batch(&mut rng, 5, 9);
    let x0 = x0_from_eps(&x, &eps, &levels).unwrap();
    let back = eps_from_x0(&x, &x0, &levels).unwrap();
    assert!(max_rel(&rows_of(&back), &rows_of(&eps)) < 1e-3);
    let s = score_from_eps(&eps, &levels).unwrap();
    let want: Vec<Vec<f64>> = rows_of(&eps)
        .iter()
        .zip(&levels)
        .map(|(e, l)| e.iter().map(|v| -v / l.sigma()).collect())
        .collect();
    assert!(max_rel(&rows_of(&s), &want) < 1e-6);
}

#[test]
fn oracles_reject_bad_inputs() {
    let g = GaussianOracle::isotropic(&[0.0; 4], 1.0).unwrap();
    let x = Tensor::zeros((2, 1, 2, 2), DType::F32, &Device::Cpu).unwrap();
    let l = NoiseLevel {
        alpha_bar: 0.5,
        t: 0.5,
    };
    assert!(
        g.predict_eps(&x, &[l]).is_err(),
        "one level for two samples"
    );
    assert!(
        g.predict_eps(
            &x,
            &[
                l,
                NoiseLevel {
                    alpha_bar: 1.0,
                    t: 0.0
                }
            ]
        )
        .is_err(),
        "ᾱ = 1"
    );
    assert!(
        g.predict_eps(
            &x,
            &[
                l,
                NoiseLevel {
                    alpha_bar: f64::NAN,
                    t: 0.5
                }
            ]
        )
        .is_err()
    );
    let x9 = Tensor::zeros((2, 1, 3, 3), DType::F32, &Device::Cpu).unwrap();
    assert!(g.predict_eps(&x9, &[l, l]).is_err(), "wrong D");
    assert!(
        GaussianOracle::new(&[0.0; 2], &[1.0, 0.5, 0.0, 1.0]).is_err(),
        "asymmetric"
    );
    assert!(
        GaussianOracle::new(&[0.0; 2], &[1.0, 2.0, 2.0, 1.0]).is_err(),
        "indefinite"
    );
    assert!(
        GaussianOracle::new(&[0.0; 2], &[1.0; 3]).is_err(),
        "wrong size"
    );
    assert!(
        GaussianMixtureOracle::new(
            &[0.5, -0.5],
            &[vec![0.0], vec![1.0]],
            &[vec![1.0], vec![1.0]]
        )
        .is_err()
    );
    assert!(
        GaussianMixtureOracle::new(
            &[0.5, 0.5],
            &[vec![0.0], vec![1.0, 1.0]],
            &[vec![1.0], vec![1.0, 0.0, 0.0, 1.0]]
        )
        .is_err()
    );
    let e =
        EmpiricalOracle::new(&Tensor::zeros((3, 4), DType::F32, &Device::Cpu).unwrap()).unwrap();
    assert!(e.predict_eps(&x9, &[l, l]).is_err());
    assert!(EmpiricalOracle::new(&Tensor::zeros(4, DType::F32, &Device::Cpu).unwrap()).is_err());
    // A singular Σ (a point mass) is fine for ᾱ < 1.
    let point = GaussianOracle::new(&[0.5; 4], &[0.0; 16]).unwrap();
    let eps = point.predict_eps(&x, &[l, l]).unwrap();
    let want = ((0.0 - 0.5f64.sqrt() * 0.5) / 0.5f64.sqrt()) as f32;
    assert!(
        eps.flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap()
            .iter()
            .all(|v| (v - want).abs() < 1e-6)
    );
}

/// Timing at the intended scale (K = 3000 models of 70 × 70, a batch of 16): `cargo test -p
/// velprior-diffusion --test oracle_exact -- --ignored --nocapture`.
#[test]
#[ignore]
fn empirical_oracle_at_scale() {
    let (k, n) = (3000, 16);
    let train = Tensor::rand(-1f32, 1f32, (k, 1, 70, 70), &Device::Cpu).unwrap();
    let t0 = std::time::Instant::now();
    let oracle = EmpiricalOracle::new(&train).unwrap();
    let build = t0.elapsed();
    // x_t near model 7 at a small noise level: the posterior is (nearly) one-hot on it.
    let ab = 0.99f64;
    let noise = Tensor::randn(0f32, 1f32, (n, 1, 70, 70), &Device::Cpu).unwrap();
    let x = ((train.narrow(0, 7, 1).unwrap().repeat((n, 1, 1, 1)).unwrap() * ab.sqrt()).unwrap()
        + (noise * (1.0 - ab).sqrt()).unwrap())
    .unwrap();
    let levels = vec![
        NoiseLevel {
            alpha_bar: ab,
            t: 0.05
        };
        n
    ];
    let t1 = std::time::Instant::now();
    let x0 = oracle.posterior_mean(&x, &levels).unwrap();
    let call = t1.elapsed();
    let err = (x0 - train.narrow(0, 7, 1).unwrap().repeat((n, 1, 1, 1)).unwrap())
        .unwrap()
        .abs()
        .unwrap()
        .max_all()
        .unwrap()
        .to_scalar::<f32>()
        .unwrap();
    // High noise: every weight non-zero (the dense gemm path).
    let high = vec![
        NoiseLevel {
            alpha_bar: 0.01,
            t: 0.9
        };
        n
    ];
    let t2 = std::time::Instant::now();
    oracle.predict_eps(&x, &high).unwrap();
    eprintln!("one call at alpha_bar = 0.01 (dense): {:?}", t2.elapsed());
    eprintln!(
        "K = {k}, D = 4900: build {build:?}, one call with N = {n}: {call:?}, max |x̂0 − x_7| = {err:e}"
    );
    assert!(err < 1e-5);
}
