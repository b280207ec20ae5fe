//! The Gauss–Newton (randomise-then-optimise) draw of DAPS against the closed-form Gaussian
//! posterior: for a linear operator, prior N(a, r² I) and converged conjugate gradients, its
//! draws are exact, so their mean and covariance must match the closed form within Monte-Carlo
//! error.

mod common;

use common::*;
use nalgebra::{DMatrix, DVector};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use velprior_posterior::gauss_newton::gauss_newton_draw;

/// 4,000 draws on the 4-D linear-Gaussian problem of the sampler tests, CG run to convergence
/// (4 iterations in 4-D). Tolerance: 5 standard errors per mean coordinate and covariance
/// entry. Catches a draw without the data perturbation (var[0] 0.024 against 0.030), without
/// the anchor perturbation (0.006), or with the data term's sign flipped (mean[0] 0.10 against
/// 0.30).
#[test]
fn gauss_newton_draws_are_exact_for_a_linear_operator() {
    let case = GaussianProblem::new();
    let problem = case.problem();
    let anchor = [0.2f32, -0.1, 0.3, 0.0];
    let r2 = 0.04;
    let a = DVector::from_iterator(4, anchor.iter().map(|&v| f64::from(v)));
    let prior = Gaussian::new(a, DMatrix::identity(4, 4) * r2);
    let b = &case.op.a * 1000.0;
    let c = &case.op.a * DVector::from_element(4, 2000.0);
    let data = DVector::from_iterator(3, case.observed.iter().map(|&v| f64::from(v)));
    let (mean, cov) = linear_gaussian_posterior(&prior, &b, &c, &data, case.sigma2);

    let n = 4000;
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let draws: Vec<DVector<f64>> = (0..n)
        .map(|_| {
            let x = gauss_newton_draw(&problem, &anchor, r2, 4, &mut rng).unwrap();
            DVector::from_iterator(4, x.iter().map(|&v| f64::from(v)))
        })
        .collect();
    let m = draws.iter().fold(DVector::zeros(4), |s, x| s + x) / n as f64;
    let c_hat = draws.iter().fold(DMatrix::zeros(4, 4), |s, x| {
        s + (x - &m) * (x - &m).transpose()
    }) / (n - 1) as f64;
    for i in 0..4 {
        let se = (cov[(i, i)] / n as f64).sqrt();
        assert!(
            (m[i] - mean[i]).abs() <= 5.0 * se,
            "mean[{i}]: {:.5} vs exact {:.5} (se {se:.5})",
            m[i],
            mean[i]
        );
        for j in 0..4 {
            let se = ((cov[(i, i)] * cov[(j, j)] + cov[(i, j)].powi(2)) / n as f64).sqrt();
            assert!(
                (c_hat[(i, j)] - cov[(i, j)]).abs() <= 5.0 * se,
                "cov[{i},{j}]: {:.5} vs exact {:.5} (se {se:.5})",
                c_hat[(i, j)],
                cov[(i, j)]
            );
        }
    }
}
