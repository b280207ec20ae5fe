//! Metrics reproduce RED-DiffEq's own numbers for its Marmousi result.

mod common;
use common::read_npz_member;
use velprior_physics::ModelShape;
use velprior_physics::metrics::{metrics_normalised, normalise_velocity};

#[test]
fn metrics_match_red_diffeq_final_values() {
    let f = "marmousi-70x190/red-diffeq-result.npz";
    let (result, s) = read_npz_member(f, "result.npy");
    let (truth, _) = read_npz_member(f, "ground_truth.npy");
    let (ssim, _) = read_npz_member(f, "ssim.npy");
    let (mae, _) = read_npz_member(f, "mae.npy");
    let (rmse, _) = read_npz_member(f, "rmse.npy");
    assert_eq!(s, vec![70, 190]);
    let truth: Vec<f32> = truth.iter().map(|&v| normalise_velocity(v)).collect();
    let m = metrics_normalised(&result, &truth, ModelShape::new(70, 190)).unwrap();
    println!(
        "ours {m:?}; RED-DiffEq ssim {} mae {} rmse {}",
        ssim[299], mae[299], rmse[299]
    );
    assert!((m.ssim - f64::from(ssim[299])).abs() < 1e-5);
    assert!((m.mae - f64::from(mae[299])).abs() < 1e-6);
    assert!((m.rmse - f64::from(rmse[299])).abs() < 1e-6);
}
