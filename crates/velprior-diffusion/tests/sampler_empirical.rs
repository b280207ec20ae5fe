//! Samplers driven by the empirical oracle (the optimal denoiser of a finite training set) must
//! reproduce that set: every sample lands on a training model (nearest distance ≤ 1e-3, against
//! inter-model distances ≥ 0.5), and the models are hit uniformly (each count within 4.5
//! binomial standard errors of n/K).

use candle_core::{Device, Tensor};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use velprior_diffusion::oracles::EmpiricalOracle;
use velprior_diffusion::samplers::{NoObserver, SamplerConfig, sample};
use velprior_kernels::DdpmVariance;
use velprior_kernels::Schedule;

const K: usize = 5;
const N: usize = 1000;

fn training_set() -> Vec<Vec<f32>> {
    let mut rng = ChaCha8Rng::seed_from_u64(17);
    (0..K)
        .map(|_| (0..9).map(|_| rng.random_range(-1.0..1.0)).collect())
        .collect()
}

fn dist(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (*x as f64 - *y as f64).powi(2))
        .sum::<f64>()
        .sqrt()
}

fn case(name: &str, cfg: SamplerConfig) {
    let train = training_set();
    let min_between = (0..K)
        .flat_map(|i| (i + 1..K).map(move |j| (i, j)))
        .map(|(i, j)| dist(&train[i], &train[j]))
        .fold(f64::INFINITY, f64::min);
    assert!(min_between > 0.5);
    let flat: Vec<f32> = train.iter().flatten().copied().collect();
    let oracle =
        EmpiricalOracle::new(&Tensor::from_vec(flat, (K, 1, 3, 3), &Device::Cpu).unwrap()).unwrap();
    let schedule = Schedule::linear(1000).unwrap();
    let x = sample(
        &oracle,
        &cfg,
        &schedule,
        &[N, 1, 3, 3],
        &Device::Cpu,
        5,
        &mut NoObserver,
    )
    .unwrap();
    let mut counts = [0usize; K];
    let mut worst: f64 = 0.0;
    for s in x.flatten_from(1).unwrap().to_vec2::<f32>().unwrap() {
        let (k, d) = (0..K)
            .map(|k| (k, dist(&s, &train[k])))
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .unwrap();
        counts[k] += 1;
        worst = worst.max(d);
    }
    let (p, n) = (1.0 / K as f64, N as f64);
    let z = counts
        .iter()
        .map(|&c| (c as f64 - n * p).abs() / (n * p * (1.0 - p)).sqrt())
        .fold(0.0, f64::max);
    eprintln!(
        "{name}: largest nearest-model distance {worst:.2e} (models ≥ {min_between:.2} apart), counts {counts:?}, max |z| {z:.2}"
    );
    assert!(
        worst < 1e-3,
        "{name}: a sample is {worst} from every training model"
    );
    assert!(
        z <= 4.5,
        "{name}: counts {counts:?} are not uniform (max |z| = {z:.2})"
    );
}

#[test]
fn ddpm_reproduces_the_training_set() {
    case(
        "empirical ddpm 1000",
        SamplerConfig::Ddpm {
            steps: None,
            variance: DdpmVariance::Posterior,
            clip: None,
        },
    );
}

#[test]
fn ddim_reproduces_the_training_set() {
    case("empirical ddim 50 eta 0", SamplerConfig::ddim(50));
}

#[test]
fn euler_maruyama_reproduces_the_training_set() {
    case(
        "empirical euler-maruyama 1000",
        SamplerConfig::EulerMaruyama {
            steps: 1000,
            t_min: 1e-3,
            clip: None,
        },
    );
}

#[test]
fn predictor_corrector_reproduces_the_training_set() {
    let cfg = SamplerConfig::Pc {
        steps: 500,
        snr: 0.16,
        corrector_steps: 1,
        t_min: 1e-3,
        clip: None,
    };
    case("empirical pc 500", cfg);
}
