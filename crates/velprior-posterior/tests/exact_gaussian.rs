//! MCMC baselines (MALA, random-walk Metropolis, ULA) against a closed-form posterior: linear
//! operator (m/s), Gaussian prior in normalised units, Gaussian noise. Tolerances (stated): every posterior mean within 0.1
//! posterior std, every covariance entry within 0.1 √(Σ_ii Σ_jj) of the exact values; with
//! the chains below the Monte-Carlo standard error of a mean is ≈ 0.02–0.03 std, so a failure
//! is a real bias, not noise.

mod common;

use common::*;
use nalgebra::DVector;
use velprior_data::Normalisation;
use velprior_physics::ModelShape;
use velprior_posterior::langevin::langevin;
use velprior_posterior::linear_gaussian::{LinearGaussianConfig, linear_gaussian};
use velprior_posterior::map::{MapConfig, map_estimate};
use velprior_posterior::method::{MethodConfig, PriorModel};
use velprior_posterior::metropolis::random_walk_metropolis;
use velprior_posterior::sgld::{SgldConfig, sgld};
use velprior_posterior::two_stage::first_stage_start;
use velprior_posterior::variational::{ViConfig, variational};
use velprior_posterior::{ChainConfig, NoObserver, PosteriorTarget, Problem};

const D: usize = 4;
const SIGMA2: f64 = 0.05;

struct Case {
    op: MatrixOperator,
    prior: Gaussian,
    data: Vec<f32>,
    exact: (DVector<f64>, nalgebra::DMatrix<f64>),
}

/// x ~ N(μ0, Σ0) (normalised), v = 1000 x + 2000 m/s (vmin 1000, vmax 3000), d = A v + noise.
fn case() -> Case {
    let a = random_matrix(3, D, 1) / 1000.0;
    let prior = Gaussian::new(
        DVector::from_vec(vec![0.1, -0.2, 0.0, 0.3]),
        random_cov(D, 2),
    );
    let x_true = DVector::from_vec(vec![0.4, -0.1, 0.2, 0.0]);
    let b = &a * 1000.0;
    let c = &a * DVector::from_element(D, 2000.0);
    let noise = DVector::from_vec(vec![0.1, -0.2, 0.15]);
    let d = &b * &x_true + &c + noise;
    let exact = linear_gaussian_posterior(&prior, &b, &c, &d, SIGMA2);
    Case {
        op: MatrixOperator {
            shape: ModelShape::new(2, 2),
            a,
        },
        prior,
        data: d.iter().map(|&v| v as f32).collect(),
        exact,
    }
}

/// The case's likelihood: velocities 1000–3000 m/s, noise variance SIGMA2.
fn problem(c: &Case) -> Problem<'_> {
    problem_1000_to_3000(&c.op, &c.data, SIGMA2)
}

fn check(samples: &[f32], exact: &(DVector<f64>, nalgebra::DMatrix<f64>), what: &str) {
    let (mean, cov) = moments(samples, D);
    let (em, ec) = (
        mean_error(&mean, &exact.0, &exact.1),
        cov_error(&cov, &exact.1),
    );
    eprintln!("{what}: mean error {em:.3} std, covariance error {ec:.3}");
    assert!(
        em < 0.1,
        "{what}: posterior mean off by {em:.3} std (tolerance 0.1)"
    );
    assert!(
        ec < 0.1,
        "{what}: posterior covariance off by {ec:.3} (tolerance 0.1)"
    );
}

#[test]
fn mala_matches_the_closed_form_posterior() {
    let c = case();
    let problem = problem(&c);
    let target = PosteriorTarget {
        prior: &c.prior,
        problem: &problem,
    };
    let cfg = ChainConfig {
        step: 0.02,
        samples: 40_000,
        burn_in: 1000,
        thin: 2,
    };
    let chain = langevin(&target, &[0.0; D], &cfg, true, 7, &mut NoObserver).unwrap();
    eprintln!("MALA acceptance {:.3}", chain.acceptance_rate);
    check(&chain.samples, &c.exact, "MALA");
}

#[test]
fn random_walk_metropolis_matches_the_closed_form_posterior() {
    let c = case();
    let problem = problem(&c);
    let target = PosteriorTarget {
        prior: &c.prior,
        problem: &problem,
    };
    let cfg = ChainConfig {
        step: 0.15,
        samples: 40_000,
        burn_in: 2000,
        thin: 4,
    };
    let chain = random_walk_metropolis(&target, &[0.0; D], &cfg, 11, &mut NoObserver).unwrap();
    eprintln!("RWM acceptance {:.3}", chain.acceptance_rate);
    check(&chain.samples, &c.exact, "RWM");
}

/// A Gaussian/PCA prior of velprior-density fitted to draws of the case's prior (rank 3 of 4 plus
/// an isotropic residual), and the closed-form posterior under it (mean and covariance read
/// from the fitted prior, inverted densely).
fn fitted_case(
    c: &Case,
) -> (
    velprior_density::GaussianPrior,
    (DVector<f64>, nalgebra::DMatrix<f64>),
) {
    let draws: Vec<f32> = {
        let l = c.prior.cov.clone().cholesky().unwrap().l();
        let z = random_matrix(D, 500, 11) * (500f64).sqrt();
        (0..500)
            .flat_map(|j| {
                (&c.prior.mean + &l * z.column(j))
                    .iter()
                    .map(|&v| v as f32)
                    .collect::<Vec<_>>()
            })
            .collect()
    };
    let fitted = velprior_density::GaussianPrior::fit(&draws, D, 3).unwrap();
    let fitted_gaussian = Gaussian::new(
        DVector::from_iterator(D, fitted.mean().iter().map(|&v| f64::from(v))),
        nalgebra::DMatrix::from_row_slice(D, D, &fitted.covariance()),
    );
    let a = &c.op.a;
    let b = a * 1000.0;
    let cvec = a * DVector::from_element(D, 2000.0);
    let d = DVector::from_iterator(c.data.len(), c.data.iter().map(|&v| f64::from(v)));
    let exact = linear_gaussian_posterior(&fitted_gaussian, &b, &cvec, &d, SIGMA2);
    (fitted, exact)
}

/// MALA with the fitted Gaussian/PCA prior of velprior-density (through its `LogDensity`): the chain
/// matches the closed-form posterior of that fitted Gaussian.
#[test]
fn mala_with_the_fitted_gaussian_prior_matches_its_closed_form_posterior() {
    let c = case();
    let (fitted, exact) = fitted_case(&c);
    let problem = problem(&c);
    let target = PosteriorTarget {
        prior: &fitted,
        problem: &problem,
    };
    let cfg = ChainConfig {
        step: 0.02,
        samples: 40_000,
        burn_in: 1000,
        thin: 2,
    };
    let chain = langevin(&target, &[0.0; D], &cfg, true, 8, &mut NoObserver).unwrap();
    eprintln!(
        "MALA (fitted Gaussian prior) acceptance {:.3}",
        chain.acceptance_rate
    );
    check(&chain.samples, &exact, "MALA, fitted Gaussian prior");
}

/// MALA with a Gaussian-process prior of velprior-density (exponential kernel, depth trend,
/// nugget, on the case's 2 × 2 grid): the chain matches the closed-form posterior of that
/// Gaussian, its covariance written out from the kernel's definition. Catches a GP whose
/// `LogDensity` gradient disagrees with its density (wrong Σ⁻¹ or trend), which biases the
/// chain.
#[test]
fn mala_with_a_gaussian_process_prior_matches_its_closed_form_posterior() {
    use velprior_density::{GaussianProcess, Kernel};
    let c = case();
    let (trend, s2, t2, [lz, lx]) = ([0.1f32, -0.2], 0.5, 0.05, [1.0, 2.0]);
    let gp =
        GaussianProcess::new(Kernel::Exponential, trend.to_vec(), 2, s2, t2, [lz, lx]).unwrap();
    let cov = nalgebra::DMatrix::from_fn(D, D, |p, q| {
        let (dz, dx) = (
            (p / 2) as f64 - (q / 2) as f64,
            (p % 2) as f64 - (q % 2) as f64,
        );
        s2 * (-dz.abs() / lz - dx.abs() / lx).exp() + if p == q { t2 } else { 0.0 }
    });
    let mean = DVector::from_fn(D, |p, _| f64::from(trend[p / 2]));
    let a = &c.op.a;
    let d = DVector::from_iterator(c.data.len(), c.data.iter().map(|&v| f64::from(v)));
    let exact = linear_gaussian_posterior(
        &Gaussian::new(mean, cov),
        &(a * 1000.0),
        &(a * DVector::from_element(D, 2000.0)),
        &d,
        SIGMA2,
    );
    let problem = problem(&c);
    let target = PosteriorTarget {
        prior: &gp,
        problem: &problem,
    };
    let cfg = ChainConfig {
        step: 0.02,
        samples: 40_000,
        burn_in: 1000,
        thin: 2,
    };
    let chain = langevin(&target, &[0.0; D], &cfg, true, 9, &mut NoObserver).unwrap();
    eprintln!("MALA (GP prior) acceptance {:.3}", chain.acceptance_rate);
    check(&chain.samples, &exact, "MALA, Gaussian-process prior");
}

/// SGLD drawing one of the three data values ("shots") per step, constant small step: matches
/// the closed-form posterior. Catches a subset gradient not rescaled by S/|B| (the likelihood
/// weighted by 1/3, a posterior too wide and pulled to the prior) and a noise term of the
/// wrong size.
#[test]
fn sgld_with_shot_subsampling_matches_the_closed_form_posterior() {
    let c = case();
    let problem = problem(&c);
    let cfg = SgldConfig {
        step: 0.002,
        decay: 0.0,
        shots_per_step: 1,
        samples: 250_000,
        burn_in: 5000,
        thin: 4,
        chains: 1,
    };
    let samples = sgld(&c.prior, &problem, &[0.0; D], &cfg, 14, &mut NoObserver).unwrap();
    check(&samples, &c.exact, "SGLD, 1 of 3 shots per step");
}

/// MAP with λ = D and s = σ² minimises the negative log posterior; for a Gaussian prior and a
/// linear operator that is the exact posterior mean. Catches a prior term of the wrong sign or
/// weight (λ without the 1/D) and a misfit gradient without the chain rule to normalised units:
/// each moves the minimiser by far more than the 0.01 posterior std tolerated.
#[test]
fn map_with_lambda_d_is_the_exact_posterior_mean() {
    let c = case();
    let problem = problem(&c);
    let cfg = MapConfig {
        space: Default::default(),
        iterations: 4000,
        lr: 0.01,
        lambda: D as f64,
    };
    let x = map_estimate(&c.prior, &problem, &[0.0; D], &cfg, &mut NoObserver).unwrap();
    for (i, &xi) in x.iter().enumerate() {
        let std = c.exact.1[(i, i)].sqrt();
        let off = (f64::from(xi) - c.exact.0[i]).abs() / std;
        assert!(off < 0.01, "x[{i}] off the posterior mean by {off:.4} std");
    }
}

/// Latent MAP (latent FWI) through a linear decoder D(z) = W z + b (an MLP autoencoder with no
/// hidden layer): J(z) = f/s + λ‖z‖²/(2s²k) is quadratic, its minimiser the solution of
/// (BᵀB/σ² + λ/(k s²) I) z = Bᵀ(d − c)/σ² with B = A·1000·W, c = A(1000 b + 2000). Catches a
/// prior weight without its 1/k, a decoder gradient of the wrong sign and a likelihood
/// gradient without the chain rule through the decoder.
#[test]
fn latent_map_through_a_linear_decoder_is_the_closed_form_minimiser() {
    use candle_core::{DType, Device};
    use candle_nn::VarMap;
    use velprior_nn::{MlpAeConfig, MlpAutoencoder, seeded_var_builder};
    use velprior_posterior::map::latent_map_estimate;
    use velprior_posterior::metropolis::LatentTarget;
    use velprior_posterior::target::ChainSpace;
    let c = case();
    let problem = problem(&c);
    let dev = Device::Cpu; // host: test tensors
    let vm = VarMap::new();
    let cfg = MlpAeConfig {
        input_dim: D,
        hidden: vec![],
        latent_dim: 2,
        lambda: 0.0,
        variational: false,
    };
    let ae = MlpAutoencoder::new(&cfg, seeded_var_builder(&vm, 5, DType::F32, &dev)).unwrap();
    let get = |name: &str| -> Vec<f64> {
        let data = vm.data().lock().unwrap();
        let t = data[name].as_tensor().flatten_all().unwrap();
        t.to_vec1::<f32>()
            .unwrap()
            .into_iter()
            .map(f64::from)
            .collect()
    };
    let w = nalgebra::DMatrix::from_row_slice(D, 2, &get("decoder.0.weight"));
    let b = DVector::from_vec(get("decoder.0.bias"));
    let (latent_std, lambda) = (0.7, 2.0);
    let bm = &c.op.a * 1000.0 * &w;
    let cv = &c.op.a * (b * 1000.0 + DVector::from_element(D, 2000.0));
    let d = DVector::from_iterator(c.data.len(), c.data.iter().map(|&v| f64::from(v)));
    let lhs = bm.transpose() * &bm / SIGMA2
        + nalgebra::DMatrix::identity(2, 2) * (lambda / 2.0 / (latent_std * latent_std));
    let z = lhs
        .lu()
        .solve(&(bm.transpose() * (d - cv) / SIGMA2))
        .unwrap();
    let target = LatentTarget {
        decoder: &ae,
        latent_std,
        problem: &problem,
    };
    let map = MapConfig {
        space: ChainSpace::Latent,
        iterations: 6000,
        lr: 0.01,
        lambda,
    };
    let x = latent_map_estimate(&target, &[0.0, 0.0], &map, &mut NoObserver).unwrap();
    let want = target
        .decode(&z.iter().map(|&v| v as f32).collect::<Vec<_>>())
        .unwrap();
    for (got, want) in x.iter().zip(&want) {
        assert!(
            (got - want).abs() < 1e-3,
            "decoded MAP {x:?} vs closed form {want:?}"
        );
    }
}

/// Variational inference with a RealNVP q: its draws match the closed-form posterior, as MALA's
/// do on the same problem (`mala_matches_the_closed_form_posterior`: mean error 0.021 std,
/// covariance 0.058; VI 0.008 and 0.029). Catches a missing entropy term (q collapses onto the
/// MAP: covariance error 0.998, measured), a data or prior gradient of the wrong sign, and
/// draws that do not go through the fitted flow.
#[test]
fn variational_inference_with_a_flow_matches_the_closed_form_posterior() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    // Before any candle work of this test binary; the other tests use no candle matmul.
    ONCE.call_once(|| {
        velprior_kernels::cpu::fix_thread_count();
    });
    let c = case();
    let problem = problem(&c);
    let cfg = ViConfig {
        iterations: 4000,
        batch: 32,
        lr: 3e-3,
        init_std: 0.3,
        blocks: 4,
        hidden: 16,
        samples: 20_000,
    };
    let samples = variational(&c.prior, &problem, &[0.0; D], &cfg, 4, &mut NoObserver).unwrap();
    check(&samples, &c.exact, "VI, RealNVP q");
}

/// The exact sampler (Matheron's rule in data space, low-rank prior covariance) against the
/// dense information-form posterior (Σ⁻¹ + BᵀB/σ²)⁻¹. Independent draws, so 20,000 of them
/// put the Monte-Carlo error near 0.01 std. Catches a missing prior term (Σ Gᵀ without the
/// residual variance), a wrong noise scale (σ instead of σ²), a sign error in the update, or
/// data ignored (prior draws).
#[test]
fn linear_gaussian_sampler_matches_the_closed_form_posterior() {
    let c = case();
    let (fitted, exact) = fitted_case(&c);
    let problem = problem(&c);
    let samples = linear_gaussian(&fitted, &problem, 20_000, 3).unwrap();
    check(&samples, &exact, "linear-gaussian");
}

/// A nonlinear operator (d = v²) is refused with the way out.
#[test]
fn linear_gaussian_refuses_nonlinear_operators() {
    struct Squares(ModelShape);
    impl velprior_physics::ForwardOperator for Squares {
        fn model_shape(&self) -> ModelShape {
            self.0
        }
        fn data_len(&self) -> usize {
            self.0.len()
        }
        fn forward(&self, m: &[f32]) -> velprior_physics::Result<Vec<f32>> {
            Ok(m.iter().map(|v| v * v / 1000.0).collect())
        }
        fn misfit_and_gradient(
            &self,
            m: &[f32],
            d_obs: &[f32],
        ) -> velprior_physics::Result<(f64, Vec<f32>)> {
            let (f, r) =
                velprior_physics::misfit::Misfit::L2.value_and_residual(&self.forward(m)?, d_obs);
            Ok((f, r.iter().zip(m).map(|(r, v)| r * v / 500.0).collect()))
        }
    }
    let c = case();
    let (fitted, _) = fitted_case(&c);
    let op = Squares(ModelShape::new(2, 2));
    let data = [4.0f32; D];
    let norm = Normalisation::new(1000.0, 3000.0).unwrap();
    let nonlinear = Problem::new(&op, &data, norm, SIGMA2).unwrap();
    let err = linear_gaussian(&fitted, &nonlinear, 2, 0)
        .unwrap_err()
        .to_string();
    assert!(err.contains("linear forward operator"), "{err}");
}

/// ULA's stationary law on a Gaussian target N(μ, Σ) is known: with x' = x + h∇log π + √(2h)ξ
/// the mean stays μ and, along each eigenvector of Σ (eigenvalue λ), the variance becomes
/// λ / (1 − h/(2λ)): an O(h) bias. At h = λ_min (twice the variance along that eigenvector) the
/// chain must match that biased law and miss the exact posterior by more than the tolerance; at
/// h = λ_min/32 the bias is within it. Catches a ULA
/// that secretly corrects itself (MALA), a wrong noise scale (√h instead of √(2h)) or drift.
#[test]
fn ula_has_the_closed_form_o_h_bias_that_shrinks_with_the_step() {
    let c = case();
    let problem = problem(&c);
    let target = PosteriorTarget {
        prior: &c.prior,
        problem: &problem,
    };
    let (mu, sigma) = &c.exact;
    let eig = nalgebra::SymmetricEigen::new(sigma.clone());
    let lambda_min = eig.eigenvalues.min();
    let ula_cov = |h: f64| {
        let inflated = eig.eigenvalues.map(|l| l / (1.0 - h / (2.0 * l)));
        &eig.eigenvectors
            * nalgebra::DMatrix::from_diagonal(&inflated)
            * eig.eigenvectors.transpose()
    };
    for (h, biased) in [(lambda_min, true), (lambda_min / 32.0, false)] {
        // Steps scale with the slowest direction's relaxation time λ_max / h.
        let relax = (eig.eigenvalues.max() / h).ceil() as usize;
        let cfg = ChainConfig {
            step: h,
            samples: 20_000,
            burn_in: 20 * relax,
            thin: relax.div_ceil(4).max(1),
        };
        let chain = langevin(&target, &[0.0; D], &cfg, false, 13, &mut NoObserver).unwrap();
        assert_eq!(chain.acceptance_rate, 1.0, "ULA takes every proposal");
        let law = (mu.clone(), ula_cov(h));
        check(
            &chain.samples,
            &law,
            &format!("ULA h = {h:.2e} vs its stationary law"),
        );
        let (_, cov) = moments(&chain.samples, D);
        let off = cov_error(&cov, sigma);
        if biased {
            assert!(
                off > 0.1,
                "ULA at h = {h:.2e} shows no O(h) bias ({off:.3})"
            );
        } else {
            assert!(off < 0.1, "ULA at h = {h:.2e} still biased by {off:.3}");
        }
    }
}

/// A two-stage sampler's first stage ([`first_stage_start`]) is the mean of its chains: with the
/// exact sampler as first stage (2,000 chains of one draw) that mean is the closed-form
/// posterior mean within 0.1 posterior std (its Monte-Carlo error is 0.02). Catches chains that
/// share a seed (the mean of one draw repeated: about one std off), a mean over the last chain
/// only, and a start returned unchanged.
#[test]
fn the_first_stage_of_a_two_stage_sampler_is_its_chains_mean() {
    let c = case();
    let (fitted, exact) = fitted_case(&c);
    let problem = problem(&c);
    let first = MethodConfig::LinearGaussian(LinearGaussianConfig { samples: 2000 });
    let start = first_stage_start(
        &first,
        &PriorModel::Density(&fitted),
        &problem,
        &[0.0; D],
        7,
    )
    .unwrap();
    let mean = DVector::from_iterator(D, start.iter().map(|&v| f64::from(v)));
    let err = mean_error(&mean, &exact.0, &exact.1);
    assert!(err < 0.1, "first stage mean off by {err:.3} posterior std");
}
