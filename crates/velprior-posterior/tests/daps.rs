//! DAPS against a closed-form Gaussian posterior: with the exact (Gaussian-oracle) denoiser on
//! a 4-D linear-Gaussian problem, its samples must leave the prior for the posterior.

mod common;

use candle_core::Tensor;
use common::*;
use nalgebra::{DMatrix, DVector};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use velprior_diffusion::Denoiser;
use velprior_diffusion::denoiser::NoiseLevel;
use velprior_posterior::daps::{Preconditioner, X0Step, tweedie_x0_variance};

/// DAPS is approximate (x_0 | x_t is taken as N(x̂_0, r_t² I)), so the bounds are those any
/// posterior sampler must meet, not exactness: the samples' mean nearer the exact posterior
/// mean than a quarter of the prior mean's distance, and their total variance nearer the
/// posterior's than the prior's. Catches DAPS that ignores the data (a prior sampler), a
/// likelihood gradient of the wrong sign or scale, and re-noising that forgets x_0.
#[test]
fn daps_moves_from_the_prior_to_the_exact_gaussian_posterior() {
    moves_to_the_exact_gaussian_posterior(X0Step::Langevin);
}

/// The same with the Gauss–Newton x_0 step (4 CG iterations: exact in 4-D). Catches a step that
/// returns its anchor (no data: mean 1.04 posterior std off).
#[test]
fn gauss_newton_daps_moves_from_the_prior_to_the_exact_gaussian_posterior() {
    moves_to_the_exact_gaussian_posterior(X0Step::GaussNewton {
        cg_iterations: 4,
        linearise_at: Default::default(),
        preconditioner: None,
    });
}

/// A diagonal operator that sees the four cells with precisions four orders of magnitude apart,
/// and one CG iteration per level: preconditioned by the estimated diag(JᵀJ) / s, DAPS still
/// reaches the exact posterior. Catches the estimate not reaching the draws (plain CG after one
/// iteration: mean 11 posterior std off, against 0.1).
#[test]
fn preconditioned_gauss_newton_daps_moves_to_the_exact_gaussian_posterior() {
    let scales = DVector::from_vec(vec![1.0, 0.1, 0.03, 0.01]);
    let case = GaussianProblem::with_operator(DMatrix::from_diagonal(&scales) * 0.3);
    moves_to_the_exact_gaussian_posterior_of(
        &case,
        X0Step::GaussNewton {
            cg_iterations: 1,
            linearise_at: Default::default(),
            preconditioner: Some(Preconditioner {
                probes: 64,
                smooth: 0.0,
            }),
        },
    );
}

fn moves_to_the_exact_gaussian_posterior(x0_step: X0Step) {
    moves_to_the_exact_gaussian_posterior_of(&GaussianProblem::new(), x0_step);
}

fn moves_to_the_exact_gaussian_posterior_of(case: &GaussianProblem, x0_step: X0Step) {
    let (pm, pc) = &case.posterior;
    let (prior, cov0) = (&case.prior, &case.prior.cov);
    let problem = case.problem();
    let oracle = case.oracle();
    let d = 4;
    let cfg = daps_config(x0_step);
    let samples = run_daps(&oracle, &problem, &cfg, &[0.0; 4], 5).unwrap();
    let (m, cv) = moments(&samples, d);
    let mean_bias = mean_error(&m, pm, pc);
    let prior_gap = mean_error(&prior.mean, pm, pc);
    eprintln!(
        "DAPS: mean {mean_bias:.3} posterior std from the posterior mean (prior mean {prior_gap:.3}), \
         total variance {:.4} (posterior {:.4}, prior {:.4})",
        cv.trace(),
        pc.trace(),
        cov0.trace()
    );
    assert!(mean_bias < 0.25 * prior_gap, "mean {mean_bias:.3} std off");
    let midpoint = 0.5 * (pc.trace() + cov0.trace());
    assert!(cv.trace() < midpoint, "total variance {}", cv.trace());
}

/// The Tweedie variance of x_0 | x_t against its closed form for the Gaussian prior N(μ₀, Σ₀):
/// tr((Σ₀⁻¹ + ᾱ/(1 − ᾱ) I)⁻¹) / D, the same for every x_t. The mean of 4,000 one-probe estimates
/// at ᾱ = 0.95, 0.5 and 0.05, each within 5 standard errors of the Hutchinson estimate
/// (Var zᵀCz = 2 tr C²). Catches the factor (1 − ᾱ) without its 1/√ᾱ (0.97, 0.71 and 0.22 of
/// the truth) and the unit-data variance 1 − ᾱ in its place (0.05 against 0.036 at ᾱ = 0.95).
#[test]
fn tweedie_variance_is_the_exact_posterior_variance_of_x0_given_xt() {
    let case = GaussianProblem::new();
    let oracle = case.oracle();
    let d = 4;
    let prior_precision = case.prior.cov.clone().try_inverse().unwrap();
    let x_t =
        Tensor::from_vec(vec![0.3f32, -0.5, 1.2, 0.1], (1, 1, 2, 2), oracle.device()).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    for alpha_bar in [0.95, 0.5, 0.05] {
        let lvl = NoiseLevel { alpha_bar, t: 0.5 };
        let precision =
            &prior_precision + DMatrix::identity(d, d) * (alpha_bar / (1.0 - alpha_bar));
        let cov = precision.try_inverse().unwrap();
        let exact = cov.trace() / d as f64;
        let n = 4000;
        let mean = (0..n)
            .map(|_| tweedie_x0_variance(&oracle, &x_t, lvl, &mut rng).unwrap())
            .sum::<f64>()
            / n as f64;
        let se = (2.0 * (&cov * &cov).trace() / n as f64).sqrt() / d as f64;
        eprintln!("alpha_bar {alpha_bar}: {mean:.5} vs exact {exact:.5} (se {se:.5})");
        assert!(
            (mean - exact).abs() <= 5.0 * se,
            "alpha_bar {alpha_bar}: {mean:.5} vs exact {exact:.5} (se {se:.5})"
        );
    }
}
