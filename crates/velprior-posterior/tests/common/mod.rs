//! Shared pieces of the posterior tests: a dense linear operator, a Gaussian log-density, the
//! closed-form posterior of a linear-Gaussian problem, and a noise-free linear case.

#![allow(dead_code)]

use nalgebra::{DMatrix, DVector};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use velprior_physics::misfit::Misfit;
use velprior_physics::{ForwardOperator, ModelShape};
use velprior_posterior::LogDensity;

/// d = A v (v in m/s), L2 misfit ½‖A v − d‖².
pub struct MatrixOperator {
    pub shape: ModelShape,
    pub a: DMatrix<f64>,
}

impl ForwardOperator for MatrixOperator {
    fn model_shape(&self) -> ModelShape {
        self.shape
    }
    fn data_len(&self) -> usize {
        self.a.nrows()
    }
    fn forward(&self, m: &[f32]) -> velprior_physics::Result<Vec<f32>> {
        let v = DVector::from_iterator(m.len(), m.iter().map(|&x| f64::from(x)));
        Ok((&self.a * v).iter().map(|&x| x as f32).collect())
    }
    fn misfit_and_gradient(
        &self,
        m: &[f32],
        d_obs: &[f32],
    ) -> velprior_physics::Result<(f64, Vec<f32>)> {
        let d = self.forward(m)?;
        let (f, r) = Misfit::L2.value_and_residual(&d, d_obs);
        let r = DVector::from_iterator(r.len(), r.iter().map(|&x| f64::from(x)));
        Ok((
            f,
            (self.a.transpose() * r).iter().map(|&x| x as f32).collect(),
        ))
    }
    fn l2_misfit(&self) -> bool {
        true
    }
    /// Every data value is a "shot" (its row of A).
    fn shots(&self) -> usize {
        self.a.nrows()
    }
    fn shot_misfit_and_gradient(
        &self,
        m: &[f32],
        d_obs: &[f32],
        shots: &[usize],
    ) -> velprior_physics::Result<(f64, Vec<f32>)> {
        let d = self.forward(m)?;
        let mut f = 0.0;
        let mut g = DVector::zeros(self.a.ncols());
        for &s in shots {
            let r = f64::from(d[s] - d_obs[s]);
            f += 0.5 * r * r;
            g += self.a.row(s).transpose() * r;
        }
        Ok((f, g.iter().map(|&x| x as f32).collect()))
    }
}

/// N(μ, Σ) as a [`LogDensity`] (precision precomputed).
pub struct Gaussian {
    pub mean: DVector<f64>,
    pub cov: DMatrix<f64>,
    pub precision: DMatrix<f64>,
}

impl Gaussian {
    pub fn new(mean: DVector<f64>, cov: DMatrix<f64>) -> Self {
        let precision = cov.clone().try_inverse().expect("covariance is invertible");
        Gaussian {
            mean,
            cov,
            precision,
        }
    }
}

impl LogDensity for Gaussian {
    fn dim(&self) -> usize {
        self.mean.len()
    }
    fn log_density(&self, x: &[f32]) -> velprior_density::Result<f64> {
        let r = vec64(x) - &self.mean;
        Ok(-0.5 * r.dot(&(&self.precision * &r)))
    }
    fn grad_log_density(&self, x: &[f32]) -> velprior_density::Result<Vec<f32>> {
        let r = vec64(x) - &self.mean;
        Ok((-(&self.precision * r)).iter().map(|&g| g as f32).collect())
    }
}

pub fn vec64(x: &[f32]) -> DVector<f64> {
    DVector::from_iterator(x.len(), x.iter().map(|&v| f64::from(v)))
}

/// A random D × D covariance with eigenvalues spread in [0.05, 0.3] (seeded).
pub fn random_cov(d: usize, seed: u64) -> DMatrix<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let g: DMatrix<f64> = DMatrix::from_fn(d, d, |_, _| StandardNormal.sample(&mut rng));
    let q = g.qr().q();
    let vals = DVector::from_fn(d, |i, _| 0.05 + 0.25 * i as f64 / (d.max(2) - 1) as f64);
    &q * DMatrix::from_diagonal(&vals) * q.transpose()
}

/// A random m × d matrix with N(0, 1/d) entries (seeded).
pub fn random_matrix(m: usize, d: usize, seed: u64) -> DMatrix<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    DMatrix::from_fn(m, d, |_, _| {
        let z: f64 = StandardNormal.sample(&mut rng);
        z / (d as f64).sqrt()
    })
}

/// Exact posterior of x ~ N(μ0, Σ0), d = B x + c + N(0, σ² I): (mean, covariance).
pub fn linear_gaussian_posterior(
    prior: &Gaussian,
    b: &DMatrix<f64>,
    c: &DVector<f64>,
    d: &DVector<f64>,
    sigma2: f64,
) -> (DVector<f64>, DMatrix<f64>) {
    let prec = &prior.precision + b.transpose() * b / sigma2;
    let cov = prec
        .try_inverse()
        .expect("posterior precision is invertible");
    let mean = &cov * (&prior.precision * &prior.mean + b.transpose() * (d - c) / sigma2);
    (mean, cov)
}

/// Sample mean and covariance of N samples of dimension D, concatenated.
pub fn moments(samples: &[f32], d: usize) -> (DVector<f64>, DMatrix<f64>) {
    let n = samples.len() / d;
    let x = DMatrix::from_fn(n, d, |i, j| f64::from(samples[i * d + j]));
    let mean = DVector::from_fn(d, |j, _| x.column(j).mean());
    let mut cov = DMatrix::zeros(d, d);
    for i in 0..n {
        let r = DVector::from_fn(d, |j, _| x[(i, j)] - mean[j]);
        cov += &r * r.transpose();
    }
    (mean, cov / (n - 1) as f64)
}

/// Largest |a − b| relative to the posterior std scale √(Σ_ii Σ_jj) (means: √Σ_ii).
pub fn mean_error(a: &DVector<f64>, b: &DVector<f64>, cov: &DMatrix<f64>) -> f64 {
    (0..a.len())
        .map(|i| (a[i] - b[i]).abs() / cov[(i, i)].sqrt())
        .fold(0.0, f64::max)
}

pub fn cov_error(a: &DMatrix<f64>, b: &DMatrix<f64>) -> f64 {
    let d = a.nrows();
    let mut worst: f64 = 0.0;
    for i in 0..d {
        for j in 0..d {
            let scale = (b[(i, i)] * b[(j, j)]).sqrt();
            worst = worst.max((a[(i, j)] - b[(i, j)]).abs() / scale);
        }
    }
    worst
}

/// A well-posed linear problem with a known answer: 2×2 models observed through A = I/1000 (each
/// cell in km/s), noise-free data of `truth` (normalised units, range 1000–3000 m/s), and a
/// Gaussian prior (oracle) centred elsewhere, at `start`.
pub struct LinearCase {
    pub op: MatrixOperator,
    pub observed: Vec<f32>,
    pub truth: [f32; 4],
    pub oracle: velprior_diffusion::oracles::GaussianOracle,
    pub start: Vec<f32>,
}

pub fn linear_case() -> LinearCase {
    let op = MatrixOperator {
        shape: ModelShape::new(2, 2),
        a: DMatrix::identity(4, 4) / 1000.0,
    };
    let truth = [0.5f32, -0.3, 0.2, 0.6];
    let mut v = truth.to_vec();
    velprior_data::Normalisation::new(1000.0, 3000.0)
        .unwrap()
        .denormalise(&mut v);
    let mean0 = [0.0f64, 0.1, -0.1, 0.0];
    LinearCase {
        op,
        observed: v.iter().map(|x| x / 1000.0).collect(),
        truth,
        oracle: velprior_diffusion::oracles::GaussianOracle::new(
            &mean0,
            random_cov(4, 3).transpose().as_slice(),
        )
        .unwrap(),
        start: mean0.iter().map(|&m| m as f32).collect(),
    }
}

/// The likelihood of data `observed` through `op` with noise variance `likelihood_scale`, for
/// models normalised from 1000–3000 m/s (the tests' velocity range).
pub fn problem_1000_to_3000<'a>(
    op: &'a dyn ForwardOperator,
    observed: &'a [f32],
    likelihood_scale: f64,
) -> velprior_posterior::Problem<'a> {
    velprior_posterior::Problem::new(
        op,
        observed,
        velprior_data::Normalisation::new(1000.0, 3000.0).unwrap(),
        likelihood_scale,
    )
    .unwrap()
}

/// Euclidean distance of two models.
pub fn distance(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).powi(2))
        .sum::<f32>()
        .sqrt()
}

/// The 4-D linear-Gaussian problem of the diffusion-sampler tests: prior N(μ0, Σ0) in
/// normalised units, v = 1000 x + 2000 m/s, d = A v + fixed noise, noise variance σ² = 0.05,
/// and its exact posterior.
pub struct GaussianProblem {
    pub op: MatrixOperator,
    pub observed: Vec<f32>,
    pub prior: Gaussian,
    pub sigma2: f64,
    /// Exact posterior mean and covariance.
    pub posterior: (DVector<f64>, DMatrix<f64>),
}

impl GaussianProblem {
    pub fn new() -> GaussianProblem {
        GaussianProblem::with_operator(random_matrix(3, 4, 1) / 1000.0)
    }

    /// The same prior and truth seen through `a` (rows × 4, acting on m/s), noise
    /// (0.1, −0.2, 0.15, …) on its data.
    pub fn with_operator(a: DMatrix<f64>) -> GaussianProblem {
        let d = 4;
        let prior = Gaussian::new(
            DVector::from_vec(vec![0.1, -0.2, 0.0, 0.3]),
            random_cov(d, 2),
        );
        let b = &a * 1000.0;
        let c = &a * DVector::from_element(d, 2000.0);
        let x_true = DVector::from_vec(vec![0.4, -0.1, 0.2, 0.0]);
        let noise = [0.1, -0.2, 0.15];
        let noise = DVector::from_fn(a.nrows(), |i, _| noise[i % 3]);
        let data = &b * &x_true + &c + noise;
        let sigma2 = 0.05;
        let posterior = linear_gaussian_posterior(&prior, &b, &c, &data, sigma2);
        GaussianProblem {
            op: MatrixOperator {
                shape: ModelShape::new(2, 2),
                a,
            },
            observed: data.iter().map(|&v| v as f32).collect(),
            prior,
            sigma2,
            posterior,
        }
    }

    /// The likelihood as a [`velprior_posterior::Problem`] (velocities 1000–3000 m/s).
    pub fn problem(&self) -> velprior_posterior::Problem<'_> {
        problem_1000_to_3000(&self.op, &self.observed, self.sigma2)
    }

    /// The exact denoiser of the prior.
    pub fn oracle(&self) -> velprior_diffusion::oracles::GaussianOracle {
        let mean: Vec<f64> = self.prior.mean.iter().copied().collect();
        velprior_diffusion::oracles::GaussianOracle::new(
            &mean,
            self.prior.cov.transpose().as_slice(),
        )
        .unwrap()
    }
}

/// DAPS on the small linear cases: 50 levels × 50 Langevin steps (lr 0.05) from pure noise,
/// 1000 unclamped samples, x_0 drawn by `x0_step`; tests change what they examine with `..`.
pub fn daps_config(
    x0_step: velprior_posterior::daps::X0Step,
) -> velprior_posterior::daps::DapsConfig {
    velprior_posterior::daps::DapsConfig {
        steps: 50,
        langevin_steps: 50,
        lr: 0.05,
        rho: 1.0,
        t0: 1.0,
        start_error: None,
        samples: 1000,
        clip_x0: false,
        candidates: 0,
        candidate_steps: 25,
        x0_step,
        x0_variance: Default::default(),
    }
}

/// `cfg`'s DAPS samples from `start` on the cosine schedule of 1000 steps, chains seeded from
/// `seed`.
pub fn run_daps(
    oracle: &dyn velprior_diffusion::Denoiser,
    problem: &velprior_posterior::Problem,
    cfg: &velprior_posterior::daps::DapsConfig,
    start: &[f32],
    seed: u64,
) -> velprior_posterior::Result<Vec<f32>> {
    let schedule = velprior_kernels::Schedule::cosine(1000).unwrap();
    velprior_posterior::daps::daps(
        oracle,
        problem,
        &schedule,
        cfg,
        start,
        seed,
        &mut velprior_posterior::NoObserver,
    )
}
