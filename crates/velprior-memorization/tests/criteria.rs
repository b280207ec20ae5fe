//! Memorization criteria against truth: planted copies are all flagged, fresh models of the
//! same generator are not, the empirical optimal denoiser's samples are all memorised, and the
//! ratios and the Mann–Whitney test match hand-computed values.

use candle_core::{Device, Tensor};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use velprior_data::Normalisation;
use velprior_data::synth::{Family, SynthSpec, generate};
use velprior_diffusion::config::DiffusionConfig;
use velprior_diffusion::oracles::EmpiricalOracle;
use velprior_diffusion::samplers::{NoObserver, SamplerConfig, sample};
use velprior_kernels::DdpmVariance;
use velprior_memorization::mann_whitney::erfc;
use velprior_memorization::{
    InMemory, KnnOptions, Metric, Neighbours, criteria, knn, mann_whitney, neighbours_needed,
    summarise,
};

const NORM: (f32, f32) = (1500.0, 4500.0);

/// `n` curved-fault models of 24×24, normalised to [−1, 1].
fn corpus(n: usize, seed: u64) -> Vec<f32> {
    let mut spec = SynthSpec::new(Family::Curvefault, n, seed);
    spec.shape = Some([24, 24]);
    let mut v = generate(&spec).unwrap().into_velocity();
    Normalisation::new(NORM.0, NORM.1)
        .unwrap()
        .normalise(&mut v);
    v
}

fn fractions(queries: &[f32], train: &[f32], d: usize) -> (f64, f64, f64, Vec<usize>) {
    let src = InMemory::new(train, d).unwrap();
    let k = neighbours_needed(train.len() / d);
    let per = criteria(&knn(queries, &src, &KnnOptions::new(k, Metric::L2)).unwrap()).unwrap();
    let s = summarise(&per, k);
    let nn1 = per.iter().map(|c| c.nn1).collect();
    (s.fraction_gu, s.fraction_carlini, s.fraction_siahkoohi, nn1)
}

#[test]
fn planted_copies_are_all_found_and_flagged_and_fresh_models_are_not() {
    let d = 24 * 24;
    let train = corpus(200, 1);
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let planted: Vec<usize> = (0..40).map(|i| i * 5 + 3).collect();
    let copies: Vec<f32> = planted
        .iter()
        .flat_map(|&j| train[j * d..(j + 1) * d].to_vec())
        .map(|v| v + 0.01 * rng.sample::<f32, _>(StandardNormal))
        .collect();
    let (gu, carlini, siahkoohi, nn1) = fractions(&copies, &train, d);
    assert_eq!(
        nn1, planted,
        "every copy's nearest neighbour is its original"
    );
    assert_eq!((gu, carlini, siahkoohi), (1.0, 1.0, 1.0));

    let fresh = corpus(100, 99);
    let (gu, carlini, siahkoohi, _) = fractions(&fresh, &train, d);
    eprintln!("fresh models flagged: gu {gu} carlini {carlini} siahkoohi {siahkoohi}");
    // Gu's ratio, the specific one, flags (almost) no fresh model. The mean ratios compare d1
    // with the mean distance to the next 49 models, which on a low-diversity family of 200
    // models spans far neighbours, so they flag some fresh models (the false-positive floor a
    // report shows through its held-out models) but, unlike for the copies, not all. By
    // definition d1/d2 < 1/3 implies d1/mean(d2..d50) < 1/3, so each criterion's flags contain
    // the stricter one's: catches a criterion computed on the wrong neighbours.
    assert!(gu <= 0.02, "fresh flagged by d1/d2 < 1/3: {gu}");
    assert!(
        gu <= carlini && carlini <= siahkoohi,
        "flags not nested: {gu} {carlini} {siahkoohi}"
    );
    assert!(
        siahkoohi < 1.0,
        "every fresh model flagged by the mean ratio < 0.7"
    );
}

#[test]
fn empirical_denoiser_samples_are_all_memorised() {
    let (k, h, w) = (8, 8, 8);
    let train = corpus(k, 3); // 24×24: take the top-left 8×8 of each
    let small: Vec<f32> = (0..k)
        .flat_map(|i| (0..h * w).map(move |p| (i, p)))
        .map(|(i, p)| train[i * 576 + (p / w) * 24 + p % w])
        .collect();
    let t = Tensor::from_vec(small.clone(), (k, 1, h, w), &Device::Cpu).unwrap();
    let oracle = EmpiricalOracle::new(&t).unwrap();
    let cfg = SamplerConfig::Ddpm {
        steps: None,
        variance: DdpmVariance::Posterior,
        clip: None,
    };
    let schedule = DiffusionConfig::default().schedule().unwrap(); // linear, T = 1000
    let x = sample(
        &oracle,
        &cfg,
        &schedule,
        &[32, 1, h, w],
        &Device::Cpu,
        7,
        &mut NoObserver,
    )
    .unwrap();
    let samples: Vec<f32> = x.flatten_all().unwrap().to_vec1().unwrap();
    let (gu, carlini, siahkoohi, nn1) = fractions(&samples, &small, h * w);
    assert_eq!((gu, carlini, siahkoohi), (1.0, 1.0, 1.0));
    let mut hit = nn1.clone();
    hit.sort_unstable();
    hit.dedup();
    assert!(
        hit.len() >= 6,
        "32 samples should hit most of the 8 models: {hit:?}"
    );
}

#[test]
fn ratios_and_flags_follow_their_definitions() {
    // d = (1, 4, 2, 2): d1/d2 = 0.25 (< 1/3); d1/mean(4, 2, 2) = 0.375 (< 0.5).
    // d = (1, 2.5, 2.5): 0.4 by both; flagged only at 0.7.  d = (0, 0, 3): an exact copy.
    let nn = Neighbours {
        k: 3,
        metric: Metric::L2,
        indices: vec![0, 1, 2, 3, 4, 5, 6, 7, 8],
        values: vec![1.0, 4.0, 2.0, 1.0, 2.5, 2.5, 0.0, 0.0, 3.0],
    };
    let c = criteria(&nn).unwrap();
    assert!((c[0].ratio - 0.25).abs() < 1e-15 && (c[0].mean_ratio - 1.0 / 3.0).abs() < 1e-15);
    assert!(c[0].gu && c[0].carlini && c[0].siahkoohi);
    assert!((c[1].ratio - 0.4).abs() < 1e-15 && (c[1].mean_ratio - 0.4).abs() < 1e-15);
    assert!(!c[1].gu && c[1].carlini && c[1].siahkoohi);
    assert_eq!((c[2].ratio, c[2].mean_ratio), (0.0, 0.0));
    let s = summarise(&c, 3);
    assert!((s.fraction_gu - 2.0 / 3.0).abs() < 1e-15);
    assert_eq!((s.distinct_nn1, s.distinct_nn1_memorised), (3, 2));
    assert_eq!(s.d1_median, 1.0);
    let one = Neighbours {
        k: 1,
        metric: Metric::L2,
        indices: vec![0],
        values: vec![1.0],
    };
    assert!(
        criteria(&one)
            .unwrap_err()
            .to_string()
            .contains("2 or more models")
    );
}

#[test]
fn mann_whitney_matches_hand_computed_values() {
    // x all below y: U = 0, var = 3·3/12·7 = 5.25, z = −(9 − 4.5 − 0.5)/√5.25,
    // p = erfc(|z|/√2) = 0.0808556 (scipy.stats.mannwhitneyu, method="asymptotic").
    let r = mann_whitney(&[1.0, 2.0, 3.0], &[4.0, 5.0, 6.0]).unwrap();
    assert_eq!(r.u, 0.0);
    assert_eq!(r.prob_x_smaller, 1.0);
    assert!((r.z + 4.0 / 5.25f64.sqrt()).abs() < 1e-12);
    assert!(
        (r.p_two_sided - 0.0808556).abs() < 1e-6,
        "{}",
        r.p_two_sided
    );
    // With ties, U equals the pair count (x > y) + ½ (x = y).
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let x: Vec<f64> = (0..37).map(|_| rng.random_range(0..6) as f64).collect();
    let y: Vec<f64> = (0..23).map(|_| rng.random_range(1..8) as f64).collect();
    let pairs: f64 = x
        .iter()
        .flat_map(|a| {
            y.iter().map(move |b| {
                if a > b {
                    1.0
                } else if a == b {
                    0.5
                } else {
                    0.0
                }
            })
        })
        .sum();
    let r = mann_whitney(&x, &y).unwrap();
    assert!((r.u - pairs).abs() < 1e-9);
    assert!(
        r.z < 0.0 && r.p_two_sided < 0.05,
        "x is stochastically smaller: {r:?}"
    );
    assert!(mann_whitney(&[], &[1.0]).is_err());
    // erfc against tabulated values (Abramowitz & Stegun 7.1).
    for (x, want) in [
        (0.5, 0.4795001221869535),
        (1.0, 0.15729920705028513),
        (-1.0, 1.8427007929497148),
        (2.0, 0.004677734981047266),
    ] {
        assert!((erfc(x) - want).abs() <= 1.2e-7 * want, "erfc({x})");
    }
}
