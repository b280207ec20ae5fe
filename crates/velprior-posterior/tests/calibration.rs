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
use velprior_posterior::calibration::{LinearOperatorConfig, calibrate};

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

/// Pooled (±1σ, ±2σ) coverage of 300 truths with 400 exact posterior samples each, posterior
/// deviations from the mean scaled by `spread`.
fn coverage(spread: f64) -> (f64, f64) {
    let shape = ModelShape::new(2, 4);
    let d = shape.len();
    let norm = Normalisation::new(1500.0, 4500.0).unwrap();
    let op = LinearOperatorConfig::Wells { every: 2 }
        .build(shape)
        .unwrap();
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
        noise_std,
        1.0,
        norm,
        9,
        &mut sampler,
        &mut |m, samples| {
            assert_eq!(m.index, seen);
            assert_eq!(samples.len(), 400 * d);
            seen += 1;
            Ok(())
        },
    )
    .unwrap();
    assert_eq!(seen, 300);
    (report.within_1sigma, report.within_2sigma)
}

#[test]
fn exact_posterior_samples_are_calibrated() {
    let (c1, c2) = coverage(1.0);
    eprintln!("exact posterior: ±1σ {c1:.3}, ±2σ {c2:.3}");
    assert!(
        (c1 - 0.683).abs() < 0.04,
        "±1σ coverage {c1:.3}, expected 0.683"
    );
    assert!(
        (c2 - 0.954).abs() < 0.025,
        "±2σ coverage {c2:.3}, expected 0.954"
    );
}

#[test]
fn over_confident_samples_are_caught() {
    let (c1, c2) = coverage(0.5);
    eprintln!("halved spread: ±1σ {c1:.3}, ±2σ {c2:.3}");
    assert!(
        (c1 - 0.383).abs() < 0.04,
        "±1σ coverage {c1:.3}, expected 0.383"
    );
    assert!(
        (c2 - 0.683).abs() < 0.04,
        "±2σ coverage {c2:.3}, expected 0.683"
    );
}

#[test]
fn bad_settings_are_refused_with_the_key() {
    let err = LinearOperatorConfig::Wells { every: 0 }
        .build(ModelShape::new(2, 4))
        .err()
        .unwrap();
    assert!(
        err.to_string().contains("calibration.operator.every"),
        "{err}"
    );
    let op = LinearOperatorConfig::Blur { sigma: 1.0 }
        .build(ModelShape::new(2, 4))
        .unwrap();
    let norm = Normalisation::new(1500.0, 4500.0).unwrap();
    let err = calibrate(
        &[2000.0; 8],
        ModelShape::new(2, 4),
        op.as_ref(),
        0.0,
        1.0,
        norm,
        0,
        &mut |_, _, _| Ok(vec![]),
        &mut |_, _| Ok(()),
    )
    .unwrap_err();
    assert!(err.to_string().contains("calibration.noise_std"), "{err}");
}
