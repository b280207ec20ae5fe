//! Every sampler against closed-form truth: samples drawn with the exact Gaussian oracle have
//! the mean and covariance of N(μ, Σ), and with the two-component mixture oracle the mode
//! weights (and per-mode moments) of the mixture, within statistical tolerance.
//!
//! Tolerance: moments are compared in whitened coordinates w = Σ^{-1/2}(x − μ), which are
//! N(0, I) under the truth, so with n samples the standard errors are 1/√n for a mean,
//! √(2/n) for a variance and 1/√n for a covariance; a mode weight p has √(p(1−p)/n). Every
//! statistic must lie within Z_MAX = 4.5 standard errors (14 statistics per check: a
//! Bonferroni-corrected false-alarm rate ~1e-4 for an exact sampler; seeds are fixed, so the
//! tests are deterministic). `checker_rejects_wrong_moments` shows the check has the power to
//! see a 30% error in the smallest variance or a 0.15σ shift of the mean.
//!
//! Known sampler biases, all from the closed-form variance recursion of each chain for a 1-D
//! Gaussian of variance λ with exact ε̂ (ratio of the chain's final variance to λ, linear
//! schedule, T = 1000):
//!
//! | sampler                          | λ = 1  | λ = 0.2 | λ = 0.05 |
//! |----------------------------------|--------|---------|----------|
//! | DDPM 1000, σ² = β̃                | 0.991  | 0.983   | 0.967    |
//! | DDPM respaced 500 (= DDIM η = 1) | 0.983  | 0.967   | 0.940    |
//! | DDPM respaced 100                | 0.921  | 0.866   | 0.780    |
//! | DDIM η = 0, 250 steps            | 0.985  | 0.975   | 0.954    |
//! | DDIM η = 0, 100 steps            | 0.964  | 0.939   | 0.891    |
//! | Euler–Maruyama 1000 (+ Tweedie)  | 1.001  | 1.001   | 1.000    |
//! | Euler–Maruyama 100 (+ Tweedie)   | 1.014  | 1.015   | 1.024    |
//!
//! (β̃ ignores the uncertainty of x̂_0, Bao et al. 2022 "Analytic-DPM"; DDIM is an Euler step
//! of the probability-flow ODE, whose per-step contraction is second order.) Variances shrink
//! most in low-variance directions, so the tests use Σ with eigenvalues ≥ 0.2 (mixture
//! components ≥ 0.05) and enough steps that the bias stays under ~1.5 standard errors of
//! n = 4000 samples (2.2% of a variance). The predictor–corrector adds the unadjusted-Langevin
//! excess of at most r² (2.6% at r = 0.16) to the Euler–Maruyama bias.
//! The measured largest |z| of each run is printed with `--nocapture`.

use candle_core::{DType, Device, Tensor};
use nalgebra::{DMatrix, DVector, SymmetricEigen};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use velprior_diffusion::Denoiser;
use velprior_diffusion::oracles::{GaussianMixtureOracle, GaussianOracle};
use velprior_diffusion::samplers::{NoObserver, SamplerConfig, sample, sample_dpm_solver_pp};
use velprior_kernels::DdpmVariance;
use velprior_kernels::Schedule;
use velprior_kernels::respacing::log_snr_timesteps;

const Z_MAX: f64 = 4.5;
const N: usize = 4000;
const D: usize = 4;

/// μ and Σ = Q diag(1, 0.6, 0.35, 0.2) Qᵀ with a fixed random rotation Q, row-major.
fn truth() -> (Vec<f64>, Vec<f64>) {
    let mut rng = ChaCha8Rng::seed_from_u64(99);
    let a = DMatrix::<f64>::from_fn(D, D, |_, _| StandardNormal.sample(&mut rng));
    let q = a.qr().q();
    let cov =
        &q * DMatrix::from_diagonal(&DVector::from_vec(vec![1.0, 0.6, 0.35, 0.2])) * q.transpose();
    (
        vec![0.3, -0.2, 0.1, 0.5],
        cov.transpose().as_slice().to_vec(),
    )
}

/// The largest |z| of the whitened sample mean and covariance against N(μ, Σ), with the name of
/// the statistic.
fn max_z(samples: &[Vec<f64>], mu: &[f64], cov: &[f64]) -> (f64, String) {
    let (n, d) = (samples.len() as f64, mu.len());
    let eig = SymmetricEigen::new(DMatrix::from_row_slice(d, d, cov));
    let w = &eig.eigenvectors
        * DMatrix::from_diagonal(&eig.eigenvalues.map(|l| 1.0 / l.sqrt()))
        * eig.eigenvectors.transpose();
    let m = DVector::from_column_slice(mu);
    let white: Vec<DVector<f64>> = samples
        .iter()
        .map(|s| &w * (DVector::from_column_slice(s) - &m))
        .collect();
    let mean = white.iter().fold(DVector::zeros(d), |a, v| a + v) / n;
    let c = white.iter().fold(DMatrix::zeros(d, d), |a, v| {
        a + (v - &mean) * (v - &mean).transpose()
    }) / (n - 1.0);
    let mut worst = (0.0, String::new());
    let mut see = |z: f64, what: String| {
        if z.abs() > worst.0 {
            worst = (z.abs(), what);
        }
    };
    for i in 0..d {
        see(mean[i] * n.sqrt(), format!("mean[{i}]"));
        for j in i..d {
            let (want, se) = if i == j {
                (1.0, (2.0 / n).sqrt())
            } else {
                (0.0, (1.0 / n).sqrt())
            };
            see((c[(i, j)] - want) / se, format!("cov[{i},{j}]"));
        }
    }
    worst
}

fn assert_gaussian(name: &str, samples: &[Vec<f64>], mu: &[f64], cov: &[f64]) {
    let (z, what) = max_z(samples, mu, cov);
    eprintln!("{name}: n = {}, max |z| = {z:.2} ({what})", samples.len());
    assert!(
        z <= Z_MAX,
        "{name}: {what} is {z:.2} standard errors off (tolerance {Z_MAX})"
    );
}

fn draw(
    model: &dyn Denoiser,
    cfg: &SamplerConfig,
    schedule: &Schedule,
    seed: u64,
) -> Vec<Vec<f64>> {
    let x = sample(
        model,
        cfg,
        schedule,
        &[N, 1, 2, 2],
        &Device::Cpu,
        seed,
        &mut NoObserver,
    )
    .unwrap();
    x.flatten_from(1)
        .unwrap()
        .to_vec2::<f32>()
        .unwrap()
        .into_iter()
        .map(|r| r.into_iter().map(f64::from).collect())
        .collect()
}

fn gaussian_case(name: &str, cfg: SamplerConfig, schedule: Schedule) {
    let (mu, cov) = truth();
    let oracle = GaussianOracle::new(&mu, &cov).unwrap();
    assert_gaussian(name, &draw(&oracle, &cfg, &schedule, 7), &mu, &cov);
}

fn linear() -> Schedule {
    Schedule::linear(1000).unwrap()
}

#[test]
fn checker_rejects_wrong_moments() {
    let (mu, cov) = truth();
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let exact = |rng: &mut ChaCha8Rng, cov: &DMatrix<f64>, shift: &DVector<f64>| -> Vec<Vec<f64>> {
        let l = cov.clone().cholesky().unwrap().l();
        (0..N)
            .map(|_| {
                let z = DVector::from_fn(D, |_, _| StandardNormal.sample(rng));
                (&l * z + DVector::from_column_slice(&mu) + shift)
                    .as_slice()
                    .to_vec()
            })
            .collect()
    };
    let sigma = DMatrix::from_row_slice(D, D, &cov);
    let zero = DVector::zeros(D);
    assert_gaussian("exact draws", &exact(&mut rng, &sigma, &zero), &mu, &cov);
    // Smallest variance (0.05) 30% too large.
    let eig = SymmetricEigen::new(sigma.clone());
    let i = eig.eigenvalues.imin();
    let u = eig.eigenvectors.column(i);
    let wrong = &sigma + u * u.transpose() * (0.3 * eig.eigenvalues[i]);
    assert!(max_z(&exact(&mut rng, &wrong, &zero), &mu, &cov).0 > Z_MAX);
    // Mean shifted by 0.15 standard deviations along the largest-variance direction.
    let j = eig.eigenvalues.imax();
    let shift = eig.eigenvectors.column(j) * (0.15 * eig.eigenvalues[j].sqrt());
    assert!(max_z(&exact(&mut rng, &sigma, &shift), &mu, &cov).0 > Z_MAX);
}

#[test]
fn ddpm_full_schedule_samples_the_gaussian() {
    let cfg = SamplerConfig::Ddpm {
        steps: None,
        variance: DdpmVariance::Posterior,
        clip: None,
    };
    gaussian_case("ddpm 1000 posterior variance", cfg, linear());
}

#[test]
fn ddpm_beta_variance_samples_the_gaussian() {
    let cfg = SamplerConfig::Ddpm {
        steps: None,
        variance: DdpmVariance::Beta,
        clip: None,
    };
    gaussian_case("ddpm 1000 beta variance", cfg, linear());
}

#[test]
fn ddpm_respaced_samples_the_gaussian() {
    let cfg = SamplerConfig::Ddpm {
        steps: Some(500),
        variance: DdpmVariance::Posterior,
        clip: None,
    };
    gaussian_case("ddpm respaced 500", cfg, linear());
}

#[test]
fn ddim_deterministic_samples_the_gaussian() {
    gaussian_case("ddim 250 eta 0", SamplerConfig::ddim(250), linear());
}

#[test]
fn ddim_eta_one_samples_the_gaussian() {
    let cfg = SamplerConfig::Ddim {
        steps: 500,
        eta: 1.0,
        clip: None,
    };
    gaussian_case("ddim 500 eta 1", cfg, linear());
}

#[test]
fn ddim_on_cosine_schedule_samples_the_gaussian() {
    gaussian_case(
        "ddim 100 eta 0 cosine",
        SamplerConfig::ddim(100),
        Schedule::cosine(1000).unwrap(),
    );
}

#[test]
fn dpm_solver_samples_the_gaussian() {
    let cfg = SamplerConfig::DpmSolver {
        steps: 50,
        clip: None,
        dynamic_threshold: None,
    };
    gaussian_case(
        "dpm-solver++ 50 cosine",
        cfg,
        Schedule::cosine(1000).unwrap(),
    );
}

/// DPM-Solver++(2M) is a second-order solver of the probability-flow ODE: on a 1-D Gaussian
/// N(0, λ), whose ODE is linear with the exact solution x_0 = g·x_T, g = α₀λ/√((α₀²λ + σ₀²)
/// (ᾱ_Tλ + 1 − ᾱ_T)) (ending, like the sampler, with x̂_0 at t = 0), doubling the steps must cut
/// the error of g about fourfold. Catches a first-order update (D = x̂_0 every step, i.e. DDIM:
/// the error only halves), a wrong multistep weight r, and a wrong exponential factor.
#[test]
fn dpm_solver_error_falls_at_second_order() {
    let lambda = 0.2;
    let schedule = Schedule::cosine(1000).unwrap();
    let ab = &schedule.tables_f64().alphas_cumprod;
    let (a0, top) = (ab[0], ab[999]);
    let exact = a0.sqrt() * lambda / ((a0 * lambda + 1.0 - a0) * (top * lambda + 1.0 - top)).sqrt();
    let oracle = GaussianOracle::new(&[0.0], &[lambda]).unwrap();
    let error = |steps: usize| {
        let grid = schedule
            .respace(&log_snr_timesteps(&schedule, steps).unwrap())
            .unwrap();
        let x_t = Tensor::ones((1, 1, 1, 1), DType::F32, &Device::Cpu).unwrap();
        let x0 = sample_dpm_solver_pp(&oracle, x_t, &grid, None, &mut NoObserver).unwrap();
        let g = f64::from(x0.flatten_all().unwrap().to_vec1::<f32>().unwrap()[0]);
        (g - exact).abs() / exact
    };
    let (e20, e40, e80) = (error(20), error(40), error(80));
    eprintln!("dpm-solver++ gain error: 20 steps {e20:.2e}, 40 {e40:.2e}, 80 {e80:.2e}");
    assert!(e20 < 0.05, "20 steps: relative error {e20:.2e}");
    assert!(
        e20 / e40 > 3.0 && e40 / e80 > 3.0,
        "error ratios {:.2} and {:.2} (second order: ~4)",
        e20 / e40,
        e40 / e80
    );
}

#[test]
fn euler_maruyama_samples_the_gaussian() {
    let cfg = SamplerConfig::EulerMaruyama {
        steps: 1000,
        t_min: 1e-3,
        clip: None,
    };
    gaussian_case("euler-maruyama 1000", cfg, linear());
}

#[test]
fn predictor_corrector_samples_the_gaussian() {
    let cfg = SamplerConfig::Pc {
        steps: 500,
        snr: 0.16,
        corrector_steps: 1,
        t_min: 1e-3,
        clip: None,
    };
    gaussian_case("pc 500 snr 0.16", cfg, linear());
}

/// w = (0.3, 0.7), μ = ∓0.75·(1, 1, 1, 1) (3.0 apart), component variances 0.05 … 0.1 (the
/// midpoint is ≥ 4.7 standard deviations from either mean, so nearest-mean labels are exact).
fn mixture() -> (Vec<f64>, Vec<Vec<f64>>, Vec<Vec<f64>>) {
    let diag = |v: [f64; 4]| {
        DMatrix::from_diagonal(&DVector::from_row_slice(&v))
            .as_slice()
            .to_vec()
    };
    let mut c2 = DMatrix::from_row_slice(4, 4, &diag([0.09, 0.06, 0.07, 0.05]));
    c2[(0, 1)] = 0.02;
    c2[(1, 0)] = 0.02;
    (
        vec![0.3, 0.7],
        vec![vec![-0.75; 4], vec![0.75; 4]],
        vec![diag([0.05; 4]), c2.as_slice().to_vec()],
    )
}

fn mixture_case(name: &str, cfg: SamplerConfig) {
    let (w, mus, covs) = mixture();
    let oracle = GaussianMixtureOracle::new(&w, &mus, &covs).unwrap();
    let xs = draw(&oracle, &cfg, &linear(), 11);
    let mut modes: [Vec<Vec<f64>>; 2] = [vec![], vec![]];
    for x in xs {
        let d = |m: &[f64]| x.iter().zip(m).map(|(a, b)| (a - b).powi(2)).sum::<f64>();
        modes[usize::from(d(&mus[1]) < d(&mus[0]))].push(x);
    }
    let p = modes[0].len() as f64 / N as f64;
    let z = (p - w[0]) / (w[0] * w[1] / N as f64).sqrt();
    eprintln!("{name}: weight of mode 0 = {p:.4} (truth 0.3), z = {z:.2}");
    assert!(
        z.abs() <= Z_MAX,
        "{name}: mode weight {p} is {z:.2} standard errors from 0.3"
    );
    for k in 0..2 {
        assert_gaussian(&format!("{name} mode {k}"), &modes[k], &mus[k], &covs[k]);
    }
}

#[test]
fn ddpm_recovers_mixture_weights() {
    mixture_case(
        "mixture ddpm 1000",
        SamplerConfig::Ddpm {
            steps: None,
            variance: DdpmVariance::Posterior,
            clip: None,
        },
    );
}

#[test]
fn ddim_recovers_mixture_weights() {
    mixture_case("mixture ddim 250 eta 0", SamplerConfig::ddim(250));
}

#[test]
fn euler_maruyama_recovers_mixture_weights() {
    mixture_case(
        "mixture euler-maruyama 1000",
        SamplerConfig::EulerMaruyama {
            steps: 1000,
            t_min: 1e-3,
            clip: None,
        },
    );
}

#[test]
fn predictor_corrector_recovers_mixture_weights() {
    let cfg = SamplerConfig::Pc {
        steps: 500,
        snr: 0.16,
        corrector_steps: 1,
        t_min: 1e-3,
        clip: None,
    };
    mixture_case("mixture pc 500", cfg);
}
