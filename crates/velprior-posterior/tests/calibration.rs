//! Calibration coverage against a case whose answer is known: truths drawn from a Gaussian
//! prior, observed through the well-log operator with Gaussian noise, and samples drawn from the
//! exact (closed-form) posterior hold the truth in ±1σ / ±2σ for 68.3 % / 95.4 % of pixels; an
//! over-confident sampler (deviations halved) for 38.3 % / 68.3 %.

mod common;

use common::*;
use nalgebra::{DMatrix, DVector};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use velprior_data::Normalisation;
use velprior_physics::ModelShape;
use velprior_posterior::calibration::{
    CalibrationReport, NoiseLevel, ObservationConfig, calibrate,
};

fn gaussian_draws(
    mean: &DVector<f64>,
    cov: &DMatrix<f64>,
    n: usize,
    seed: u64,
) -> Vec<DVector<f64>> {
    let l = cov
        .clone()
        .cholesky()
        .expect("covariance is positive definite")
        .l();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n)
        .map(|_| mean + &l * DVector::from_fn(mean.len(), |_, _| StandardNormal.sample(&mut rng)))
        .collect()
}

/// The calibration report of 300 truths with 400 exact posterior samples each, posterior
/// deviations from the mean scaled by `spread`.
fn coverage(spread: f64) -> CalibrationReport {
    let shape = ModelShape::new(2, 4);
    let d = shape.len();
    let norm = Normalisation::new(1500.0, 4500.0).unwrap();
    let op = ObservationConfig::Wells { every: 2 }.build(shape).unwrap();
    // The operator as a matrix on m/s (it is linear without offset), then on x:
    // v = vmin + s (x + 1), s = (vmax − vmin)/2, so d = (s A) x + A (vmin + s) 1.
    let a = DMatrix::from_fn(op.data_len(), d, |i, j| {
        let mut e = vec![0.0f32; d];
        e[j] = 1.0;
        f64::from(op.forward(&e).unwrap()[i])
    });
    let s = 0.5 * f64::from(norm.vmax - norm.vmin);
    let b = &a * s;
    let c = &a * DVector::from_element(d, f64::from(norm.vmin) + s);
    let prior = Gaussian::new(DVector::from_element(d, -0.1), random_cov(d, 3));
    let noise_std = 200.0;
    let truths: Vec<f32> = gaussian_draws(&prior.mean, &prior.cov, 300, 4)
        .iter()
        .flat_map(|x| {
            x.iter()
                .map(|&v| norm.to_velocity(v as f32))
                .collect::<Vec<_>>()
        })
        .collect();
    let mut sampler = |p: &velprior_posterior::Problem, _start: &[f32], seed: u64| {
        let data =
            DVector::from_iterator(p.observed.len(), p.observed.iter().map(|&v| f64::from(v)));
        let (pm, pc) = linear_gaussian_posterior(&prior, &b, &c, &data, p.likelihood_scale);
        Ok(gaussian_draws(&pm, &pc, 400, seed + 1000)
            .iter()
            .flat_map(|x| {
                (&pm + (x - &pm) * spread)
                    .iter()
                    .map(|&v| v as f32)
                    .collect::<Vec<_>>()
            })
            .collect())
    };
    let mut seen = 0;
    let report = calibrate(
        &truths,
        shape,
        op.as_ref(),
        NoiseLevel::Absolute(noise_std),
        1.0,
        norm,
        9,
        &mut sampler,
        &|_| None,
        &mut |m, summary| {
            assert_eq!(m.index, seen);
            assert_eq!(summary.mean.len(), d);
            seen += 1;
            Ok(())
        },
    )
    .unwrap();
    assert_eq!(seen, 300);
    report
}

#[test]
fn exact_posterior_samples_are_calibrated() {
    let report = coverage(1.0);
    let (c1, c2) = (report.within_1sigma, report.within_2sigma);
    eprintln!("exact posterior: ±1σ {c1:.3}, ±2σ {c2:.3}");
    assert!(
        (c1 - 0.683).abs() < 0.04,
        "±1σ coverage {c1:.3}, expected 0.683"
    );
    assert!(
        (c2 - 0.954).abs() < 0.025,
        "±2σ coverage {c2:.3}, expected 0.954"
    );
    // The whole curve and the error against the std (10 bins of 240 pixels: the RMS of 240
    // normal errors is within 14 % of σ at three standard errors).
    for p in &report.calibration_curve {
        assert!(
            (p.observed - p.nominal).abs() < 0.04,
            "level {}: {:.3}",
            p.nominal,
            p.observed
        );
    }
    for b in &report.error_vs_std {
        assert!((b.rms_error / b.mean_std - 1.0).abs() < 0.15, "{b:?}");
    }
}

#[test]
fn over_confident_samples_are_caught() {
    let report = coverage(0.5);
    let (c1, c2) = (report.within_1sigma, report.within_2sigma);
    eprintln!("halved spread: ±1σ {c1:.3}, ±2σ {c2:.3}");
    assert!(
        (c1 - 0.383).abs() < 0.04,
        "±1σ coverage {c1:.3}, expected 0.383"
    );
    assert!(
        (c2 - 0.683).abs() < 0.04,
        "±2σ coverage {c2:.3}, expected 0.683"
    );
    // The curve's 50 % band holds 2Φ(0.674/2) − 1 = 0.264; errors are twice the std.
    let half = report.calibration_curve[4];
    assert_eq!(half.nominal, 0.5);
    assert!((half.observed - 0.264).abs() < 0.04, "{half:?}");
    for b in &report.error_vs_std {
        assert!((b.rms_error / b.mean_std - 2.0).abs() < 0.3, "{b:?}");
    }
}

/// Relative noise is a fraction of the data RMS, per model: the likelihood's σ² seen by the
/// sampler is (0.05 · RMS(F(truth)))² for each truth. Catches the fraction applied to the
/// variance or to the mean absolute value, or one σ for every model.
#[test]
fn relative_noise_follows_each_models_data_rms() {
    let shape = ModelShape::new(2, 4);
    let op = ObservationConfig::Blur { sigma: 1.0 }.build(shape).unwrap();
    let truths: Vec<f32> = (0..16).map(|i| 1600.0 + 150.0 * i as f32).collect();
    let expected: Vec<f64> = truths
        .chunks(8)
        .map(|t| {
            let data = op.forward(t).unwrap();
            let rms = (data.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / 8.0).sqrt();
            (0.05 * rms).powi(2)
        })
        .collect();
    let mut seen = Vec::new();
    calibrate(
        &truths,
        shape,
        op.as_ref(),
        NoiseLevel::Relative(0.05),
        1.0,
        Normalisation::new(1500.0, 4500.0).unwrap(),
        0,
        &mut |p, start, _| {
            seen.push(p.likelihood_scale);
            Ok([start, start].concat())
        },
        &|_| None,
        &mut |_, _| Ok(()),
    )
    .unwrap();
    assert_eq!(seen.len(), 2);
    for (got, want) in seen.iter().zip(&expected) {
        assert!((got / want - 1.0).abs() < 1e-9, "{got} vs {want}");
    }
    assert!((expected[1] / expected[0] - 1.0).abs() > 0.1);
}

#[test]
fn bad_settings_are_refused_with_the_key() {
    let err = ObservationConfig::Wells { every: 0 }
        .build(ModelShape::new(2, 4))
        .err()
        .unwrap();
    assert!(
        err.to_string().contains("calibration.operator.every"),
        "{err}"
    );
    let op = ObservationConfig::Blur { sigma: 1.0 }
        .build(ModelShape::new(2, 4))
        .unwrap();
    let norm = Normalisation::new(1500.0, 4500.0).unwrap();
    let err = calibrate(
        &[2000.0; 8],
        ModelShape::new(2, 4),
        op.as_ref(),
        NoiseLevel::Absolute(0.0),
        1.0,
        norm,
        0,
        &mut |_, _, _| Ok(vec![]),
        &|_| None,
        &mut |_, _| Ok(()),
    )
    .unwrap_err();
    assert!(err.to_string().contains("noise level 0"), "{err}");
}

/// A calibration run resumes only when its recorded state (the config as JSON) equals the new
/// one's, so settings added later must not be written when left at their defaults. The state
/// below was recorded before RED-diff's `prior_weight` and DAPS's `preconditioner` existed.
/// Catches a new optional setting serialised as `null` or as its default (found: the
/// preconditioner's `null` made `make results` resample a kept 20-model run from scratch).
#[test]
fn settings_added_later_leave_recorded_states_unchanged() {
    let config: velprior_posterior::calibration::CalibrationConfig = toml::from_str(
        r#"
        prior = "p.safetensors"
        models = "m.h5"
        count = 2
        noise_relative = 0.05
        operator = { kind = "blur", sigma = 1.0 }
        [start_method]
        kind = "red-diff"
        iterations = 3
        lr = 0.5
        lambda = 2.0
        t_min = 0.25
        t_max = 1.0
        samples = 1
        [method]
        kind = "daps"
        steps = 12
        t0 = 0.5
        x0_step = { kind = "gauss-newton", cg_iterations = 5 }
        x0_variance = "tweedie"
        samples = 4
        "#,
    )
    .unwrap();
    let recorded: serde_json::Value = serde_json::from_str(
        r#"{"count": 2, "method": {"candidate_steps": 25, "candidates": 0, "clip_x0": true,
            "kind": "daps", "langevin_steps": 10, "lr": 0.0001, "rho": 1.0, "samples": 4,
            "steps": 12, "t0": 0.5, "x0_step": {"cg_iterations": 5, "kind": "gauss-newton",
            "linearise_at": "anchor"}, "x0_variance": "tweedie"}, "models": "m.h5",
            "noise_relative": 0.05, "noise_std": null, "operator": {"kind": "blur", "sigma": 1.0},
            "prior": "p.safetensors", "start_method": {"iterations": 3, "kind": "red-diff",
            "lambda": 2.0, "lr": 0.5, "samples": 1, "t_max": 1.0, "t_min": 0.25},
            "start_smooth_sigma": 10.0}"#,
    )
    .unwrap();
    assert_eq!(serde_json::to_value(&config).unwrap(), recorded);
}
