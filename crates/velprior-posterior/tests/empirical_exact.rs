//! Exactness beyond the linear-Gaussian case: with the empirical denoiser of K training models
//! (a prior that memorises) and the real acoustic wave operator, the exact posterior is the
//! training set reweighted by the likelihood, w_i ∝ exp(−f(x_i) / s) (Siahkoohi & Sabeddu's
//! analysis of memorising priors). Samples are assigned to their nearest training model and the
//! frequencies compared with w, for a sharp likelihood (all weight on the model that made the
//! data) and a flat one (weights spread over three models). The tolerance, a total-variation
//! distance of 0.2 at 32 samples, is about twice the expected Monte-Carlo TV of 32 exact draws
//! from the flat weights (0.10). Catches a sampler that follows the prior instead of the
//! posterior, or favours the wrong training model.
//!
//! Without data the same prior must be sampled uniformly over its training models: DAPS does
//! that (it did not while it clamped its Langevin state to [−1, 1], which favoured the model
//! with the most fast cells: 39–50 % of the samples instead of 25 %). With data, DAPS as
//! published (the Langevin anchored at x̂_0, x_0 | x_t taken as N(x̂_0, r_t²)) picks the mode at
//! high noise, where x_0 | x_t is a mixture far from that Gaussian: TV 0.41 (sharp: 41 % of its
//! samples on a model of weight 0) and 0.22 (flat) with 10 levels × 10 Langevin steps, lr 0.05;
//! lr 0.005 stays near the prior (0.69, 0.44), 50 × 20 does not help (0.53, 0.22); that test is
//! `#[ignore]`d (`cargo test -p velprior-posterior --test empirical_exact -- --ignored`), as
//! are DPS, RED-diff and the alternating method, which do not target the posterior (their
//! figures are in their doc comments).
//! Mode-aware DAPS (`candidates`: the anchor is one of M draws of x_0 | x_t chosen by
//! likelihood) meets the tolerance. Measured at 128 samples, sharp / flat TV: M = 4, ρ = 0.3:
//! 0.41 / 0.19; M = 8: 0.13 / 0.07; M = 16: 0.10 / 0.06 (draws on the levels' own grid), 0.08 /
//! 0.06 (10 DDPM steps per draw), 0.06 / 0.10 (50 steps); ρ = 1 (the Langevin's own noise
//! re-noises x_t more than the level says): M = 8 0.16 / 0.11, M = 16 0.18 / 0.11.

use candle_core::{Device, Tensor};
use velprior_data::Normalisation;
use velprior_diffusion::oracles::EmpiricalOracle;
use velprior_kernels::Schedule;
use velprior_physics::{
    AcousticOperator, Acquisition, Boundary, ForwardOperator, GradientOptions, Misfit, ModelShape,
    SolverConfig, Storage, ricker,
};
use velprior_posterior::alternating::{AlternatingConfig, alternating};
use velprior_posterior::daps::DapsConfig;
use velprior_posterior::dps::{DpsConfig, Guidance, dps};
use velprior_posterior::red_diff::{RedDiffConfig, red_diff};
use velprior_posterior::{NoObserver, Problem};

mod common;
use common::MatrixOperator;
use nalgebra::DMatrix;

const NZ: usize = 10;
const NX: usize = 12;
const K: usize = 4;

fn operator() -> AcousticOperator {
    AcousticOperator {
        shape: ModelShape::new(NZ, NX),
        config: SolverConfig {
            dx: 10.0,
            dt: 1e-3,
            order: 4,
            freq: 15.0,
            boundary: Boundary::Cpml {
                width: 8,
                reflection: 1e-3,
                max_velocity: Some(3500.0),
            },
            free_surface: false,
        },
        acquisition: Acquisition::surface(NX, 2, 1, ricker(15.0, 1e-3, 250, 0.08)),
        gradient: GradientOptions {
            misfit: Misfit::L2,
            storage: Storage::All,
        },
    }
}

/// K two-layer models (m/s): 2000 over 3000 m/s, the interface at depth 3 + i cells.
fn training_models() -> Vec<f32> {
    let mut v = Vec::with_capacity(K * NZ * NX);
    for i in 0..K {
        for iz in 0..NZ {
            let vel = if iz < 3 + i { 2000.0 } else { 3000.0 };
            v.extend(std::iter::repeat_n(vel, NX));
        }
    }
    v
}

fn nearest(x: &[f32], train: &[f32]) -> usize {
    let d = x.len();
    (0..K)
        .min_by(|&a, &b| {
            let da: f32 = x
                .iter()
                .zip(&train[a * d..])
                .map(|(p, q)| (p - q).powi(2))
                .sum();
            let db: f32 = x
                .iter()
                .zip(&train[b * d..])
                .map(|(p, q)| (p - q).powi(2))
                .sum();
            da.total_cmp(&db)
        })
        .unwrap()
}

/// The training models in the prior's units and their empirical denoiser.
fn memorising_prior(norm: Normalisation) -> (Vec<f32>, EmpiricalOracle) {
    let mut train = training_models();
    norm.normalise(&mut train);
    let t = Tensor::from_vec(train.clone(), (K, 1, NZ, NX), &Device::Cpu).unwrap();
    (train, EmpiricalOracle::new(&t).unwrap())
}

/// DAPS as published: 10 levels × 10 Langevin steps, lr 0.05, anchored at x̂_0.
fn plain() -> DapsConfig {
    DapsConfig {
        steps: 10,
        langevin_steps: 10,
        samples: 0,
        clip_x0: true,
        ..common::daps_config(Default::default())
    }
}

/// Mode-aware DAPS: the anchor one of 16 draws of x_0 | x_t (25 DDPM steps each) chosen by
/// likelihood, a Langevin bandwidth ρ = 0.3.
fn mode_aware() -> DapsConfig {
    DapsConfig {
        rho: 0.3,
        candidates: 16,
        ..plain()
    }
}

/// The fraction of the samples (normalised, concatenated) nearest each training model.
fn landings(samples: &[f32], train: &[f32]) -> [f64; K] {
    let d = NZ * NX;
    let m = samples.len() / d;
    let mut freq = [0f64; K];
    for s in samples.chunks(d) {
        freq[nearest(s, train)] += 1.0 / m as f64;
    }
    freq
}

/// `m` samples of `cfg`'s DAPS (seed 3).
fn daps_samples(
    cfg: &DapsConfig,
    oracle: &EmpiricalOracle,
    problem: &Problem,
    m: usize,
) -> Vec<f32> {
    let cfg = DapsConfig {
        samples: m,
        ..cfg.clone()
    };
    common::run_daps(oracle, problem, &cfg, &[0.0; NZ * NX], 3).unwrap()
}

/// Total-variation distance of two distributions over the training models.
fn tv(a: &[f64], b: &[f64]) -> f64 {
    0.5 * a.iter().zip(b).map(|(x, y)| (x - y).abs()).sum::<f64>()
}

/// The TV distances from the exact posterior of 32 samples drawn by `sampler` (given the
/// prior and the problem), under the sharp and the flat likelihood.
fn tv_from_exact(
    sampler: impl Fn(&EmpiricalOracle, &Problem, usize) -> Vec<f32>,
) -> Vec<(&'static str, f64)> {
    let norm = Normalisation::new(1500.0, 4500.0).unwrap();
    let op = operator();
    let train_v = training_models();
    let d = NZ * NX;
    let observed = op.forward(&train_v[d..2 * d]).unwrap();
    let (train, oracle) = memorising_prior(norm);
    let misfits: Vec<f64> = (0..K)
        .map(|i| op.misfit(&train_v[i * d..(i + 1) * d], &observed).unwrap())
        .collect();
    let f_sorted = {
        let mut f = misfits.clone();
        f.sort_by(f64::total_cmp);
        f
    };
    // s from the problem, not from any sampler: the second-best misfit over 10 (sharp) or 1
    // (flat).
    let mut tvs = Vec::new();
    for (name, scale) in [("sharp", f_sorted[1] / 10.0), ("flat", f_sorted[1])] {
        let z: Vec<f64> = misfits.iter().map(|f| (-f / scale).exp()).collect();
        let sum: f64 = z.iter().sum();
        let w: Vec<f64> = z.iter().map(|v| v / sum).collect();
        let problem = Problem::new(&op, &observed, norm, scale).unwrap();
        let freq = landings(&sampler(&oracle, &problem, 32), &train);
        let tv = tv(&freq, &w);
        eprintln!("{name}: exact {w:.3?}, sampler {freq:.3?}, TV {tv:.3}");
        tvs.push((name, tv));
    }
    tvs
}

/// Fails where a TV distance exceeds the tolerance.
fn within_tolerance(tvs: &[(&str, f64)]) {
    for (name, tv) in tvs {
        assert!(
            *tv <= 0.2,
            "{name} likelihood: TV {tv:.3} from the exact posterior"
        );
    }
}

fn reweights_the_training_set_by_the_likelihood(cfg: &DapsConfig) {
    within_tolerance(&tv_from_exact(|oracle, problem, m| {
        daps_samples(cfg, oracle, problem, m)
    }));
}

#[test]
#[ignore = "DAPS as published is not exact with a memorising prior (TV 0.41 / 0.22); see the module doc"]
fn daps_with_a_memorising_prior_reweights_the_training_set_by_the_likelihood() {
    reweights_the_training_set_by_the_likelihood(&plain());
}

/// Catches candidates weighted against the likelihood (sharp TV 0.97) or chosen without it
/// (0.53).
#[test]
fn mode_aware_daps_with_a_memorising_prior_reweights_the_training_set_by_the_likelihood() {
    reweights_the_training_set_by_the_likelihood(&mode_aware());
}

/// No data (a zero operator): DAPS must sample the memorising prior, uniform over the K models.
/// 400 samples; the tolerance, TV 0.1, is about three times the expected Monte-Carlo TV of 400
/// uniform draws over 4 models (0.034). Catches a Langevin state clamped to the prior's range
/// (TV 0.14–0.25: the clamp truncates N(x̂_0, r_t²) on one side).
#[test]
fn daps_without_data_samples_the_memorising_prior_uniformly() {
    let norm = Normalisation::new(1500.0, 4500.0).unwrap();
    let (train, oracle) = memorising_prior(norm);
    let op = MatrixOperator {
        shape: ModelShape::new(NZ, NX),
        a: DMatrix::zeros(1, NZ * NX),
    };
    let observed = [0f32];
    let problem = Problem::new(&op, &observed, norm, 1.0).unwrap();
    let freq = landings(&daps_samples(&plain(), &oracle, &problem, 400), &train);
    let tv = tv(&freq, &[1.0 / K as f64; K]);
    assert!(tv <= 0.1, "frequencies {freq:.3?}: TV {tv:.3} from uniform");
}

/// DPS (Chung et al.; 100 steps, ζ = 0.1, the approximate guidance any denoiser allows): its
/// guidance step is not a likelihood temperature, so its target is not the posterior by
/// construction: its step ζ / ‖r‖ does not see the likelihood's scale, and it lands the same
/// way under both likelihoods (sharp TV 0.06, flat 0.35: 94 % on the best model).
#[test]
#[ignore = "DPS does not target the posterior (sharp TV 0.06, flat 0.35); see its doc"]
fn dps_with_a_memorising_prior_against_the_exact_posterior() {
    within_tolerance(&tv_from_exact(|oracle, problem, m| {
        let cfg = DpsConfig {
            steps: 100,
            zeta: 0.1,
            guidance: Guidance::Approximate,
            likelihood_steps: 1,
            samples: m,
            clip_x0: true,
        };
        let schedule = Schedule::cosine(1000).unwrap();
        dps(oracle, problem, &schedule, &cfg, 3, &mut NoObserver).unwrap()
    }));
}

/// RED-diff (300 Adam steps, lr 0.02, λ = 0.75, from the prior mean, one run per seed): an
/// optimiser, so every run ends at a mode and the flat posterior's spread is lost (sharp TV
/// 0.00, flat 0.41: every run on the best model).
#[test]
#[ignore = "RED-diff is an optimiser (sharp TV 0.00, flat 0.41); see its doc"]
fn red_diff_with_a_memorising_prior_against_the_exact_posterior() {
    within_tolerance(&tv_from_exact(|oracle, problem, m| {
        let cfg = RedDiffConfig {
            iterations: 300,
            lr: 0.02,
            lambda: 0.75,
            t_min: 0.001,
            t_max: 1.0,
            samples: m,
            prior_weight: Default::default(),
        };
        let schedule = Schedule::cosine(1000).unwrap();
        let start = vec![0.0; NZ * NX];
        red_diff(oracle, problem, &schedule, &start, &cfg, 3, &mut NoObserver).unwrap()
    }));
}

/// The alternating method (50 reverse steps from t0 = 1, 5 FWI Adam steps of lr 0.02 each):
/// its Adam steps do not see the likelihood's scale either, and they barely move it off the
/// prior (sharp TV 0.63, flat 0.22).
#[test]
#[ignore = "the alternating method does not target the posterior (sharp TV 0.63, flat 0.22); see its doc"]
fn alternating_with_a_memorising_prior_against_the_exact_posterior() {
    within_tolerance(&tv_from_exact(|oracle, problem, m| {
        let cfg = AlternatingConfig {
            steps: 50,
            t0: 1.0,
            fwi_steps: 5,
            lr: 0.02,
            eta: 0.0,
            samples: m,
        };
        let schedule = Schedule::cosine(1000).unwrap();
        let start = vec![0.0; NZ * NX];
        alternating(oracle, problem, &schedule, &start, &cfg, 3, &mut NoObserver).unwrap()
    }));
}
