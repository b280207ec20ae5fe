//! DAPS against a closed-form Gaussian posterior: with the exact (Gaussian-oracle) denoiser on
//! a 4-D linear-Gaussian problem, its samples must leave the prior for the posterior.

mod common;

use common::*;
use nalgebra::DVector;
use velprior_data::Normalisation;
use velprior_diffusion::oracles::GaussianOracle;
use velprior_kernels::Schedule;
use velprior_physics::ModelShape;
use velprior_posterior::daps::{DapsConfig, daps};
use velprior_posterior::{NoObserver, Problem};

/// DAPS is approximate (x_0 | x_t is taken as N(x̂_0, r_t² I)), so the bounds are those any
/// posterior sampler must meet, not exactness: the samples' mean nearer the exact posterior
/// mean than a quarter of the prior mean's distance, and their total variance nearer the
/// posterior's than the prior's. Catches DAPS that ignores the data (a prior sampler), a
/// likelihood gradient of the wrong sign or scale, and re-noising that forgets x_0.
#[test]
fn daps_moves_from_the_prior_to_the_exact_gaussian_posterior() {
    let d = 4;
    let a = random_matrix(3, d, 1) / 1000.0;
    let mean0 = vec![0.1, -0.2, 0.0, 0.3];
    let cov0 = random_cov(d, 2);
    let prior = Gaussian::new(DVector::from_vec(mean0.clone()), cov0.clone());
    let b = &a * 1000.0;
    let c = &a * DVector::from_element(d, 2000.0);
    let x_true = DVector::from_vec(vec![0.4, -0.1, 0.2, 0.0]);
    let data = &b * &x_true + &c + DVector::from_vec(vec![0.1, -0.2, 0.15]);
    let sigma2 = 0.05;
    let (pm, pc) = linear_gaussian_posterior(&prior, &b, &c, &data, sigma2);
    let op = MatrixOperator {
        shape: ModelShape::new(2, 2),
        a,
    };
    let observed: Vec<f32> = data.iter().map(|&v| v as f32).collect();
    let norm = Normalisation::new(1000.0, 3000.0).unwrap();
    let problem = Problem::new(&op, &observed, norm, sigma2).unwrap();
    let oracle = GaussianOracle::new(&mean0, cov0.transpose().as_slice()).unwrap();
    let cfg = DapsConfig {
        steps: 50,
        langevin_steps: 50,
        lr: 0.05,
        rho: 1.0,
        samples: 1000,
        clip_x0: false,
    };
    let schedule = Schedule::cosine(1000).unwrap();
    let samples = daps(&oracle, &problem, &schedule, &cfg, 5, &mut NoObserver).unwrap();
    let (m, cv) = moments(&samples, d);
    let mean_bias = mean_error(&m, &pm, &pc);
    let prior_gap = mean_error(&prior.mean, &pm, &pc);
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
