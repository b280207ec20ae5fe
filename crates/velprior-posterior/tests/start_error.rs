//! The start model's stated error: its draws have the stated std and correlation (closed form
//! of blurred white noise), and DAPS chains started from start + error keep that spread where
//! the data are blind and not where the data see.

mod common;

use common::*;
use nalgebra::DMatrix;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use velprior_data::Normalisation;
use velprior_diffusion::oracles::GaussianOracle;
use velprior_physics::ModelShape;
use velprior_posterior::daps::{DapsConfig, Preconditioner, X0Step};
use velprior_posterior::start_error::StartError;

/// Away from the edges a draw's cells have the stated std (m/s, converted to normalised
/// units) and neighbours at lag k correlate as exp(−k² / (4 length²)), the closed form for
/// white noise blurred by a Gaussian of σ = length. 400 draws of 48×48, the central 16×16 cells
/// pooled. Catches a std left in the blur's units (without Σw²: 0.09 of the stated std), a
/// normalisation by the full range instead of the half range (half the std) and a blur of the
/// wrong width.
#[test]
fn draws_have_the_stated_std_and_correlation() {
    let shape = ModelShape::new(48, 48);
    let norm = Normalisation::new(1500.0, 4500.0).unwrap();
    let error = StartError {
        std: 300.0,
        length: 3.0,
        fade_below: 0.01,
        antithetic: false,
    };
    let kept = vec![1.0f32; shape.len()];
    let expected_std = 300.0 / 1500.0;
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let (mut sum2, mut lag2, mut lag4, mut n) = (0.0f64, 0.0f64, 0.0f64, 0.0f64);
    for _ in 0..400 {
        let x = error.draw(shape, norm, &kept, &mut rng);
        let at = |i: usize, j: usize| f64::from(x[i * 48 + j]);
        for i in 16..32 {
            for j in 16..32 {
                sum2 += at(i, j).powi(2);
                lag2 += at(i, j) * at(i, j + 2);
                lag4 += at(i, j) * at(i + 4, j);
                n += 1.0;
            }
        }
    }
    let std = (sum2 / n).sqrt();
    let (c2, c4) = (lag2 / sum2, lag4 / sum2);
    let (e2, e4) = ((-4.0f64 / 36.0).exp(), (-16.0f64 / 36.0).exp());
    eprintln!(
        "std {std:.4} (stated {expected_std:.4}), corr lag 2 {c2:.3} ({e2:.3}), lag 4 {c4:.3} ({e4:.3})"
    );
    assert!(
        (std / expected_std - 1.0).abs() < 0.05,
        "std {std} vs {expected_std}"
    );
    assert!((c2 - e2).abs() < 0.05, "lag 2: {c2} vs {e2}");
    assert!((c4 - e4).abs() < 0.05, "lag 4: {c4} vs {e4}");
}

/// DAPS samples (normalised, 4 cells each) on a linear problem that sees cells 0 and 1
/// precisely (noise 1 m/s) and not cells 2 and 3, with a broad Gaussian prior (exact denoiser)
/// and annealing near t = 0 (20 levels below t0 = 0.05, Gauss–Newton x_0 steps): 1000 chains
/// seeded `seed` + j from [0.1, −0.1, 0.2, −0.3].
fn blind_cells_samples(start_error: Option<StartError>, seed: u64) -> Vec<f32> {
    let mut a = DMatrix::zeros(2, 4);
    a[(0, 0)] = 1e-3;
    a[(1, 1)] = 1e-3;
    let op = MatrixOperator {
        shape: ModelShape::new(2, 2),
        a,
    };
    let observed = [2.3f32, 1.8];
    let problem = problem_1000_to_3000(&op, &observed, 1e-6);
    let broad: Vec<f64> = DMatrix::<f64>::identity(4, 4)
        .scale(1e4)
        .as_slice()
        .to_vec();
    let oracle = GaussianOracle::new(&[0.0; 4], &broad).unwrap();
    let cfg = DapsConfig {
        steps: 20,
        langevin_steps: 1,
        lr: 1e-4,
        t0: 0.05,
        start_error,
        x0_variance: velprior_posterior::daps::X0Variance::Tweedie,
        // Not blurred: on 2×2 cells a blur would spread the seen cells' precision to all.
        ..daps_config(X0Step::GaussNewton {
            cg_iterations: 4,
            linearise_at: Default::default(),
            preconditioner: Some(Preconditioner {
                probes: 64,
                smooth: 0.0,
            }),
        })
    };
    run_daps(&oracle, &problem, &cfg, &BLIND_CASE_START, seed).unwrap()
}

const BLIND_CASE_START: [f32; 4] = [0.1, -0.1, 0.2, -0.3];

/// 250 m/s (0.25 units), independent cells, kept below 0.01 of the best-seen cell.
fn error_250(antithetic: bool) -> StartError {
    StartError {
        std: 250.0,
        length: 0.0,
        fade_below: 0.01,
        antithetic,
    }
}

/// The std of each of the 4 cells over the samples.
fn std_per_cell(samples: &[f32]) -> Vec<f64> {
    let (_, cov) = moments(samples, 4);
    (0..4).map(|i| cov[(i, i)].sqrt()).collect()
}

/// The chains start from start + error, so the blind cells' samples spread by the stated std
/// (250 m/s = 0.25 units; 1000 samples, within 10 %: 4.5 standard errors) while the seen
/// cells' spread grows by less than 2 % of it (kept there, the data step would leave 7 %);
/// without `start_error` the blind cells do not spread. Catches the error not drawn, drawn in
/// the wrong units, or kept where the data see.
#[test]
fn daps_chains_keep_the_start_error_only_where_the_data_are_blind() {
    let with = std_per_cell(&blind_cells_samples(Some(error_250(false)), 7));
    let without = std_per_cell(&blind_cells_samples(None, 7));
    let stated = 0.25;
    eprintln!("std per cell with the start error {with:?}, without {without:?}");
    for i in [2, 3] {
        assert!(
            (with[i] / stated - 1.0).abs() < 0.1,
            "blind cell {i}: {}",
            with[i]
        );
        assert!(
            without[i] < 0.2 * stated,
            "blind cell {i} without: {}",
            without[i]
        );
    }
    for i in [0, 1] {
        assert!(
            with[i] < without[i] + 0.02 * stated,
            "seen cell {i}: {} (without {})",
            with[i],
            without[i]
        );
    }
}

/// Antithetic pairs: chains seeded 2k and 2k + 1 (seed 8: 500 pairs) start from start ± one
/// draw, so in the blind cells each chain still spreads by the stated std (within 10 %) while
/// a pair's mean stays at the start within the spread the chains have without a start error
/// (3 times its std / √2), where independent draws leave 0.25 / √2. Catches pairs that do not
/// share the draw, a sign not flipped, and a pair draw that replaced the spread.
#[test]
fn antithetic_pairs_cancel_the_start_error_and_keep_each_chains_spread() {
    let samples = blind_cells_samples(Some(error_250(true)), 8);
    let spread = std_per_cell(&samples);
    let without = std_per_cell(&blind_cells_samples(None, 8));
    let stated = 0.25;
    for i in [2, 3] {
        assert!(
            (spread[i] / stated - 1.0).abs() < 0.1,
            "blind cell {i}: {}",
            spread[i]
        );
        let pair_mean_offset = samples
            .chunks(8)
            .map(|pair| f64::from(0.5 * (pair[i] + pair[4 + i]) - BLIND_CASE_START[i]).powi(2))
            .sum::<f64>()
            / 500.0;
        let rms = pair_mean_offset.sqrt();
        eprintln!(
            "blind cell {i}: std {:.4}, pair means' rms offset {rms:.4} (no start error: std {:.4})",
            spread[i], without[i]
        );
        assert!(
            rms < 3.0 * without[i] / 2f64.sqrt(),
            "blind cell {i}: pair means {rms} from the start (chains' own std {})",
            without[i]
        );
    }
}

/// A start error left at its defaults is written as it was before `antithetic` existed, so
/// that a run recorded then still resumes (its state must match). Catches the new setting
/// serialised as `false`.
#[test]
fn start_error_without_antithetic_serialises_as_before() {
    let error: StartError = toml::from_str("std = 250.0\nlength = 5.0").unwrap();
    let written = serde_json::to_value(error).unwrap();
    let keys: Vec<&String> = written.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["fade_below", "length", "std"], "{written}");
}

/// A start error DAPS cannot use is refused with the setting named: from t0 = 1 the chains do
/// not start from the start model; a std or fade threshold that is not a positive number makes
/// no field (a zero threshold would keep the error nowhere, silently).
#[test]
fn daps_refuses_a_start_error_it_cannot_use() {
    let case = GaussianProblem::new();
    let problem = case.problem();
    let oracle = case.oracle();
    let run = |t0, std, fade_below| {
        let cfg = DapsConfig {
            steps: 4,
            langevin_steps: 1,
            lr: 1e-4,
            t0,
            start_error: Some(StartError {
                std,
                length: 1.0,
                fade_below,
                antithetic: false,
            }),
            samples: 1,
            ..daps_config(X0Step::Langevin)
        };
        run_daps(&oracle, &problem, &cfg, &[0.0; 4], 1).map_err(|e| e.to_string())
    };
    assert!(run(0.5, 100.0, 0.001).is_ok());
    let err = run(1.0, 100.0, 0.001).unwrap_err();
    assert!(err.contains("start_error needs t0 < 1"), "{err}");
    for (std, fade_below) in [(0.0, 0.001), (-5.0, 0.001), (f32::NAN, 0.001), (100.0, 0.0)] {
        let err = run(0.5, std, fade_below).unwrap_err();
        assert!(
            err.contains("start_error needs a finite std"),
            "{std} {fade_below}: {err}"
        );
    }
}
