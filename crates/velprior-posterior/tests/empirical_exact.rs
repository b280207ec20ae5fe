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
//! `#[ignore]`d (`cargo test -p velprior-posterior --test empirical_exact -- --ignored`).
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
use velprior_posterior::daps::{DapsConfig, daps};
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
        lr: 0.05,
        rho: 1.0,
        t0: 1.0,
        samples: 0,
        clip_x0: true,
        candidates: 0,
        candidate_steps: 25,
        x0_step: Default::default(),
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

/// The fraction of `m` DAPS samples nearest each training model.
fn daps_landings(
    cfg: &DapsConfig,
    oracle: &EmpiricalOracle,
    train: &[f32],
    problem: &Problem,
    m: usize,
) -> [f64; K] {
    let cfg = DapsConfig {
        samples: m,
        ..cfg.clone()
    };
    let schedule = Schedule::cosine(1000).unwrap();
    let d = NZ * NX;
    let samples = daps(
        oracle,
        problem,
        &schedule,
        &cfg,
        &vec![0.0; d],
        3,
        &mut NoObserver,
    )
    .unwrap();
    let mut freq = [0f64; K];
    for s in samples.chunks(d) {
        freq[nearest(s, train)] += 1.0 / m as f64;
    }
    freq
}

/// Total-variation distance of two distributions over the training models.
fn tv(a: &[f64], b: &[f64]) -> f64 {
    0.5 * a.iter().zip(b).map(|(x, y)| (x - y).abs()).sum::<f64>()
}

/// The TV distance of `cfg`'s DAPS samples from the exact posterior under the sharp and the
/// flat likelihood, checked against the tolerance.
fn reweights_the_training_set_by_the_likelihood(cfg: &DapsConfig) {
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
        let freq = daps_landings(cfg, &oracle, &train, &problem, 32);
        let tv = tv(&freq, &w);
        eprintln!("{name}: exact {w:.3?}, DAPS {freq:.3?}, TV {tv:.3}");
        tvs.push((name, tv));
    }
    for (name, tv) in tvs {
        assert!(
            tv <= 0.2,
            "{name} likelihood: TV {tv:.3} from the exact posterior"
        );
    }
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
    let freq = daps_landings(&plain(), &oracle, &train, &problem, 400);
    let tv = tv(&freq, &[1.0 / K as f64; K]);
    assert!(tv <= 0.1, "frequencies {freq:.3?}: TV {tv:.3} from uniform");
}
