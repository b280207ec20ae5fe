//! `velprior evaluate`'s figures against cases whose answer is known: closed-form Fréchet and
//! Wasserstein distances, the empirical denoiser (a prior that copies its training set: every
//! sample lies on a training model, so precision and the memorised fraction are 1), and white
//! noise (far from every real model: precision 0).

use candle_core::{Device, Tensor};
use nalgebra::{DMatrix, DVector};
use velprior_data::Normalisation;
use velprior_data::synth::{Family, SynthSpec, generate};
use velprior_diffusion::oracles::EmpiricalOracle;
use velprior_diffusion::samplers::{NoObserver, SamplerConfig, sample};
use velprior_kernels::DdpmVariance;
use velprior_kernels::Schedule;
use velprior_memorization::evaluate::{
    EvaluateOptions, PriorEvaluation, evaluate, frechet_distance, wasserstein1,
};
use velprior_memorization::{InMemory, TrainSource};

/// Catches a wrong trace term (e.g. tr √(Σ₁Σ₂) taken as √tr) or a missing mean term.
#[test]
fn frechet_distance_of_diagonal_gaussians_is_closed_form() {
    // ‖Δμ‖² + Σ (√a_i − √b_i)² for commuting (diagonal) covariances: 5 + (2−1)² + (3−1)² = 10.
    let (m1, m2) = (DVector::from_vec(vec![1.0, 2.0]), DVector::zeros(2));
    let s1 = DMatrix::from_diagonal(&DVector::from_vec(vec![4.0, 9.0]));
    let s2 = DMatrix::identity(2, 2);
    let f = frechet_distance(&m1, &s1, &m2, &s2).unwrap();
    assert!((f - 10.0).abs() < 1e-9, "{f}");
    // A rotated copy of the same Gaussian is at distance 0 from itself.
    let r = DMatrix::from_row_slice(2, 2, &[0.6, -0.8, 0.8, 0.6]);
    let s = &r * &s1 * r.transpose();
    assert!(frechet_distance(&m1, &s, &m1, &s).unwrap().abs() < 1e-9);
}

/// Catches quantiles taken from unsorted values or a sign error.
#[test]
fn wasserstein1_of_a_shifted_sample_is_the_shift() {
    let a: Vec<f32> = (0..500).map(|i| ((i * 37) % 500) as f32).collect();
    let b: Vec<f32> = a.iter().map(|v| v + 100.0).collect();
    assert!((wasserstein1(&a, &b) - 100.0).abs() < 1e-9);
    assert_eq!(wasserstein1(&a, &a), 0.0);
}

fn flat_models(n: usize, seed: u64) -> Vec<f32> {
    let spec = SynthSpec {
        shape: Some([16, 16]),
        ..SynthSpec::new(Family::Flatvel, n, seed)
    };
    generate(&spec).unwrap().velocity().to_vec()
}

/// `evaluate` on 16×16 models normalised over 1500–4500 m/s with the default options.
fn evaluate_16x16(
    samples: &[f32],
    held_out: &[f32],
    train: Option<&dyn TrainSource>,
) -> velprior_memorization::Result<PriorEvaluation> {
    let norm = Normalisation::new(1500.0, 4500.0).unwrap();
    evaluate(
        samples,
        held_out,
        [16, 16],
        norm,
        train,
        &EvaluateOptions::default(),
    )
}

#[test]
fn a_prior_that_copies_its_training_set_scores_precision_one_and_memorised_one() {
    let norm = Normalisation::new(1500.0, 4500.0).unwrap();
    let train = flat_models(16, 1);
    let mut unit = train.clone();
    norm.normalise(&mut unit);
    let oracle =
        EmpiricalOracle::new(&Tensor::from_slice(&unit, (16, 1, 16, 16), &Device::Cpu).unwrap())
            .unwrap();
    let cfg = SamplerConfig::Ddpm {
        steps: Some(200),
        variance: DdpmVariance::Posterior,
        clip: None,
    };
    let x = sample(
        &oracle,
        &cfg,
        &Schedule::cosine(1000).unwrap(),
        &[12, 1, 16, 16],
        &Device::Cpu,
        3,
        &mut NoObserver,
    )
    .unwrap();
    let mut samples = x.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    norm.denormalise(&mut samples);
    // The reference half of the held-out set is the training set itself.
    let held_out = [train.clone(), train.clone()].concat();
    let source = InMemory::new(&unit, 256).unwrap();
    let e = evaluate_16x16(&samples, &held_out, Some(&source)).unwrap();
    assert_eq!(e.samples.precision, 1.0, "{e:?}");
    assert_eq!(e.memorised_fraction, Some(1.0), "{e:?}");
    // The real half equals the reference: perfect scores, zero distances.
    assert_eq!((e.real.precision, e.real.recall), (1.0, 1.0));
    assert!(
        e.real.frechet_pca.abs() < 1e-6 && e.real.velocity_w1 == 0.0,
        "{e:?}"
    );
}

#[test]
fn white_noise_scores_precision_zero() {
    let norm = Normalisation::new(1500.0, 4500.0).unwrap();
    let held_out = flat_models(48, 2);
    // Noise of std 1.5 (normalised) around the middle velocity: every sample is about
    // √256 · 1.5 = 24 from the mean, far outside the real models' neighbour balls.
    let noise = Tensor::randn(0f32, 1.5, (24, 256), &Device::Cpu).unwrap();
    let mut samples = noise.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    norm.denormalise(&mut samples);
    let e = evaluate_16x16(&samples, &held_out, None).unwrap();
    assert_eq!(e.samples.precision, 0.0, "{e:?}");
    assert!(e.real.precision > 0.0, "{e:?}");
    assert!(e.samples.frechet_pca > e.real.frechet_pca, "{e:?}");
    assert!(e.memorised_fraction.is_none());
}

#[test]
fn too_few_models_is_an_error_that_says_what_to_add() {
    let models = flat_models(6, 3);
    let e = evaluate_16x16(&models, &models, None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("more than k = 3 models"), "{e}");
}

/// Catches a mean term that is not ‖μ − μ_ref‖² (the total, zero, or a covariance part): shifting
/// every real model by the same velocity moves the mean only, so the covariance part of the
/// Fréchet distance (total − mean term) must stay the real models' while the mean term grows.
#[test]
fn a_uniform_shift_changes_only_the_frechet_mean_term() {
    let held_out = flat_models(48, 4);
    let shifted: Vec<f32> = held_out[24 * 256..].iter().map(|v| v + 300.0).collect();
    let e = evaluate_16x16(&shifted, &held_out, None).unwrap();
    let covariance_part =
        |s: &velprior_memorization::evaluate::SetScores| s.frechet_pca - s.frechet_pca_mean;
    let (sample_part, real_part) = (covariance_part(&e.samples), covariance_part(&e.real));
    // Two halves of different random models differ in covariance too.
    assert!(real_part > 0.0, "{e:?}");
    assert!(
        (sample_part - real_part).abs() < 1e-6 * (1.0 + real_part),
        "{sample_part} vs {real_part}"
    );
    assert!(
        e.samples.frechet_pca_mean > e.real.frechet_pca_mean + 0.1,
        "{e:?}"
    );
}
