//! The estimate of diag(JᵀJ) / s against its closed form for a matrix operator.

mod common;

use common::*;
use velprior_physics::ModelShape;
use velprior_posterior::illumination::data_precision;

/// 4,000 probes on a random 6 × 12 operator: every cell within 5 standard errors
/// (√(2 / K) of the exact value) of diag(JᵀJ) / s, J = 1000 A in normalised units. Catches the
/// likelihood scale left out (every cell 1 / s = 50× too small), Jᵀw not squared (its mean
/// is 0) and the normalisation's dv/dx left out (10⁶× too small).
#[test]
fn data_precision_is_the_diagonal_of_the_gauss_newton_hessian() {
    let op = MatrixOperator {
        shape: ModelShape::new(3, 4),
        a: random_matrix(6, 12, 5) / 1000.0,
    };
    let observed = vec![0.0f32; 6];
    let s2 = 0.02;
    let problem = problem_1000_to_3000(&op, &observed, s2);
    let probes = 4000;
    let h = data_precision(&problem, &[0.1; 12], probes, 0.0, 3).unwrap();
    for (j, &h) in h.iter().enumerate() {
        let exact = (0..6).map(|r| (1000.0 * op.a[(r, j)]).powi(2)).sum::<f64>() / s2;
        let se = exact * (2.0 / probes as f64).sqrt();
        assert!(
            (f64::from(h) - exact).abs() <= 5.0 * se,
            "cell {j}: {h} against exact {exact} (se {se})"
        );
    }
}
