//! DAPS against a closed-form Gaussian posterior: with the exact (Gaussian-oracle) denoiser on
//! a 4-D linear-Gaussian problem, its samples must leave the prior for the posterior.

mod common;

use common::*;
use velprior_kernels::Schedule;
use velprior_posterior::NoObserver;
use velprior_posterior::daps::{DapsConfig, X0Step, daps};

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
    moves_to_the_exact_gaussian_posterior(X0Step::GaussNewton { cg_iterations: 4 });
}

fn moves_to_the_exact_gaussian_posterior(x0_step: X0Step) {
    let case = GaussianProblem::new();
    let (pm, pc) = &case.posterior;
    let (prior, cov0) = (&case.prior, &case.prior.cov);
    let problem = case.problem();
    let oracle = case.oracle();
    let d = 4;
    let cfg = DapsConfig {
        steps: 50,
        langevin_steps: 50,
        lr: 0.05,
        rho: 1.0,
        t0: 1.0,
        samples: 1000,
        clip_x0: false,
        candidates: 0,
        candidate_steps: 25,
        x0_step,
    };
    let schedule = Schedule::cosine(1000).unwrap();
    let samples = daps(
        &oracle,
        &problem,
        &schedule,
        &cfg,
        &[0.0; 4],
        5,
        &mut NoObserver,
    )
    .unwrap();
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
