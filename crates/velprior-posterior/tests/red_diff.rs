//! RED-diff: the objective's gradient against finite differences (through the m/s chain rule),
//! the patch denoiser's overlap averaging, and a run that fits a linear problem
//! (noise-free data, weak regulariser: most of the way from the prior mean to the truth), and
//! the prior weight faded by illumination.

mod common;

use candle_core::{Device, Tensor};
use common::*;
use velprior_data::Normalisation;
use velprior_diffusion::oracles::GaussianOracle;
use velprior_diffusion::{Denoiser, NoiseLevel};
use velprior_physics::ModelShape;
use velprior_posterior::Problem;
use velprior_posterior::patches::{PatchDenoiser, window_starts};
use velprior_posterior::red_diff::{RedDiffConfig, red_diff_objective};

#[test]
fn red_diff_objective_gradient_matches_finite_differences() {
    let op = MatrixOperator {
        shape: ModelShape::new(3, 4),
        a: random_matrix(7, 12, 9) / 1000.0,
    };
    let observed: Vec<f32> = (0..7).map(|i| i as f32 * 0.3 - 1.0).collect();
    let problem = Problem::new(
        &op,
        &observed,
        Normalisation::new(1500.0, 4500.0).unwrap(),
        0.2,
    )
    .unwrap();
    let x: Vec<f32> = (0..12).map(|i| (i as f32 * 0.37).sin() * 0.8).collect();
    let eps_hat: Vec<f32> = (0..12).map(|i| (i as f32 * 1.3).cos()).collect();
    let eps: Vec<f32> = (0..12).map(|i| (i as f32 * 0.7).sin()).collect();
    // λ differs per cell, so a weight applied to the wrong cell fails the comparison.
    let lambda: Vec<f64> = (0..12).map(|i| 0.4 + 0.1 * f64::from(i)).collect();
    let value = |x: &[f32]| {
        let (f, r, _) = red_diff_objective(&problem, x, &eps_hat, &eps, &lambda).unwrap();
        f + r
    };
    let (_, _, g) = red_diff_objective(&problem, &x, &eps_hat, &eps, &lambda).unwrap();
    for i in 0..12 {
        let h = 1e-2f32;
        let mut p = x.clone();
        p[i] += h;
        let mut m = x.clone();
        m[i] -= h;
        let fd = (value(&p) - value(&m)) / (2.0 * f64::from(h));
        let err = (fd - f64::from(g[i])).abs() / fd.abs().max(1e-3);
        assert!(
            err < 1e-2,
            "component {i}: gradient {} vs finite difference {fd}",
            g[i]
        );
    }
}

#[test]
fn window_starts_cover_the_model_flush_with_both_edges() {
    assert_eq!(window_starts(190, 70, 60), vec![0, 60, 120]);
    assert_eq!(window_starts(70, 70, 30), vec![0]);
    assert_eq!(window_starts(100, 70, 40), vec![0, 30]);
}

/// A Gaussian oracle with independent pixels is local: applied by overlapping windows it gives
/// the same ε̂ as on the whole model (every window agrees on each pixel).
#[test]
fn patch_denoiser_reproduces_a_pixelwise_denoiser() {
    let (h, w, pw) = (3, 10, 4);
    let oracle_window = GaussianOracle::isotropic(&vec![0.2; h * pw], 0.4).unwrap();
    let oracle_full = GaussianOracle::isotropic(&vec![0.2; h * w], 0.4).unwrap();
    let patches = PatchDenoiser::new(&oracle_window, [h, pw], [h, 3]).unwrap();
    let x = Tensor::from_vec(
        (0..2 * h * w)
            .map(|i| (i as f32 * 0.61).sin())
            .collect::<Vec<_>>(),
        (2, 1, h, w),
        &Device::Cpu,
    )
    .unwrap();
    let levels = vec![
        NoiseLevel {
            alpha_bar: 0.3,
            t: 0.7
        };
        2
    ];
    let a = patches
        .predict_eps(&x, &levels)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
    let b = oracle_full
        .predict_eps(&x, &levels)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
    for (p, q) in a.iter().zip(&b) {
        assert!((p - q).abs() < 1e-5, "{p} vs {q}");
    }
}

/// RED-diff on a well-posed linear problem with noise-free data and a weak regulariser must
/// carry the prior mean most of the way to the model that explains the data. Catches a data
/// gradient of the wrong sign or scale, or a run that returns its start.
#[test]
fn red_diff_fits_a_linear_problem() {
    let LinearCase {
        op,
        observed,
        truth,
        oracle,
        start,
    } = linear_case();
    let problem = problem_1000_to_3000(&op, &observed, 0.01);
    let cfg = RedDiffConfig {
        lambda: 0.01,
        samples: 2,
        ..linear_config()
    };
    let out = run_red_diff(&oracle, &problem, &start, &cfg).unwrap();
    let before = distance(&start, &truth);
    for x in out.chunks(4) {
        let after = distance(x, &truth);
        assert!(after < 0.25 * before, "error {before} -> {after} ({x:?})");
    }
}

/// With the prior weight faded by illumination, cells the data do not see keep the start's
/// values, while the same run with a uniform λ pulls them toward the prior; the seen cells
/// still move to the data. Catches a weight that is inverted (blind cells pulled, seen cells
/// left alone) or ignored.
#[test]
fn illumination_weight_leaves_blind_cells_at_the_start() {
    use velprior_posterior::red_diff::PriorWeight;
    let LinearCase {
        truth,
        oracle,
        start: mean,
        ..
    } = linear_case();
    // Only cells 0 and 1 are observed; cells 2 and 3 start far from the prior mean.
    let mut a = nalgebra::DMatrix::zeros(2, 4);
    a[(0, 0)] = 1e-3;
    a[(1, 1)] = 1e-3;
    let op = MatrixOperator {
        shape: ModelShape::new(2, 2),
        a,
    };
    let observed: Vec<f32> = truth[..2]
        .iter()
        .map(|x| (1000.0 * x + 2000.0) / 1000.0)
        .collect();
    let problem = problem_1000_to_3000(&op, &observed, 0.01);
    let start = [mean[0], mean[1], 0.8, -0.7];
    let run = |prior_weight| {
        let cfg = RedDiffConfig {
            prior_weight,
            ..linear_config()
        };
        run_red_diff(&oracle, &problem, &start, &cfg).unwrap()
    };
    let uniform = run(PriorWeight::Uniform);
    let faded = run(PriorWeight::Illumination {
        probes: 4,
        smooth: 0.0,
        fade_below: 0.01,
    });
    let blind_move = |x: &[f32]| distance(&x[2..], &start[2..]);
    assert!(blind_move(&uniform) > 0.1, "uniform λ: {uniform:?}");
    assert!(
        blind_move(&faded) < 1e-6,
        "faded λ moved blind cells: {faded:?}"
    );
    assert!(
        distance(&faded[..2], &truth[..2]) < 0.25 * distance(&start[..2], &truth[..2]),
        "faded λ: seen cells {faded:?} vs truth {truth:?}"
    );
}

/// The illumination weight refuses, with the setting named, data that see no cell (its fade
/// would be 0/0: NaN weights, and a run that returns NaN models) and settings that make no
/// weight (no probes, a fade threshold that is not a positive number).
#[test]
fn illumination_weight_refuses_blind_data_and_bad_settings() {
    use velprior_posterior::red_diff::PriorWeight;
    let LinearCase { oracle, start, .. } = linear_case();
    let blind = MatrixOperator {
        shape: ModelShape::new(2, 2),
        a: nalgebra::DMatrix::zeros(2, 4),
    };
    let seeing = linear_case().op;
    let observed = [0.5f32; 4];
    let run = |op: &MatrixOperator, probes, fade_below| {
        let problem = problem_1000_to_3000(op, &observed[..op.a.nrows()], 0.01);
        let cfg = RedDiffConfig {
            iterations: 3,
            prior_weight: PriorWeight::Illumination {
                probes,
                smooth: 0.0,
                fade_below,
            },
            ..linear_config()
        };
        run_red_diff(&oracle, &problem, &start, &cfg).map_err(|e| e.to_string())
    };
    assert!(run(&seeing, 4, 0.01).is_ok());
    let err = run(&blind, 4, 0.01).unwrap_err();
    assert!(err.contains("see no cell"), "{err}");
    for (probes, fade_below) in [(0, 0.01), (4, 0.0), (4, f32::NAN), (4, f32::INFINITY)] {
        let err = run(&seeing, probes, fade_below).unwrap_err();
        assert!(
            err.contains("prior_weight needs"),
            "{probes} {fade_below}: {err}"
        );
    }
}

/// The linear cases' settings: 300 iterations, λ = 1, one noise draw per step, uniform weight.
fn linear_config() -> RedDiffConfig {
    RedDiffConfig {
        iterations: 300,
        lr: 0.02,
        lambda: 1.0,
        t_min: 0.01,
        t_max: 1.0,
        samples: 1,
        prior_weight: Default::default(),
    }
}

/// RED-diff from `start` with the cosine schedule of 1000 steps and seed 5.
fn run_red_diff(
    oracle: &GaussianOracle,
    problem: &Problem<'_>,
    start: &[f32],
    cfg: &RedDiffConfig,
) -> velprior_posterior::Result<Vec<f32>> {
    let schedule = velprior_kernels::Schedule::cosine(1000).unwrap();
    velprior_posterior::red_diff::red_diff(
        oracle,
        problem,
        &schedule,
        start,
        cfg,
        5,
        &mut velprior_posterior::NoObserver,
    )
}
