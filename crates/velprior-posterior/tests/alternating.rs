//! The alternating method (reverse diffusion steps with FWI steps on x̂_0) on a well-posed
//! linear problem with noise-free data: started at the prior mean, it must end closer to the
//! model that explains the data (how much closer depends on its FWI step budget, not on a known
//! answer). Catches FWI steps of the wrong sign or a chain that drops the data steps.

mod common;

use common::*;
use velprior_data::Normalisation;
use velprior_diffusion::oracles::GaussianOracle;
use velprior_physics::ModelShape;
use velprior_posterior::alternating::{AlternatingConfig, alternating};
use velprior_posterior::{NoObserver, Problem};

#[test]
fn alternating_fits_a_linear_problem() {
    let op = MatrixOperator {
        shape: ModelShape::new(2, 2),
        a: nalgebra::DMatrix::identity(4, 4) / 1000.0,
    };
    let norm = Normalisation::new(1000.0, 3000.0).unwrap();
    let truth = [0.5f32, -0.3, 0.2, 0.6];
    let mut v = truth.to_vec();
    norm.denormalise(&mut v);
    let observed: Vec<f32> = v.iter().map(|x| x / 1000.0).collect();
    let problem = Problem::new(&op, &observed, norm, 0.01).unwrap();
    let mean0 = [0.0f64, 0.1, -0.1, 0.0];
    let oracle = GaussianOracle::new(&mean0, random_cov(4, 3).transpose().as_slice()).unwrap();
    let start: Vec<f32> = mean0.iter().map(|&m| m as f32).collect();
    let cfg = AlternatingConfig {
        steps: 50,
        t0: 0.5,
        fwi_steps: 5,
        lr: 0.02,
        eta: 0.0,
        samples: 2,
    };
    let schedule = velprior_kernels::Schedule::cosine(1000).unwrap();
    let out = alternating(
        &oracle,
        &problem,
        &schedule,
        &start,
        &cfg,
        3,
        &mut NoObserver,
    )
    .unwrap();
    let distance = |a: &[f32]| {
        a.iter()
            .zip(&truth)
            .map(|(x, y)| (x - y).powi(2))
            .sum::<f32>()
            .sqrt()
    };
    let before = distance(&start);
    for x in out.chunks(4) {
        let after = distance(x);
        assert!(after < before, "error {before} -> {after} ({x:?})");
    }
}
