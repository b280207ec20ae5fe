//! Learning (tiny): a small UNet trained for a few hundred steps on a two-pattern 8×8
//! corpus generates both patterns and (up to a stated 10 % of misses) nothing else.

mod common;

use candle_core::Device;
use velprior_data::{Corpus, CorpusMeta, write_corpus};
use velprior_diffusion::prior::DiffusionPrior;
use velprior_diffusion::samplers::{NoObserver, SamplerConfig, sample};
use velprior_diffusion::trainer::{Silent, Trainer};
use velprior_kernels::DdpmVariance;

use common::tiny_unet_config;

const S: usize = 8;

/// Pattern 0: two layers (slow over fast); pattern 1: slow–fast–slow. Both are symmetric
/// under lateral flips, in normalised units ±1.
fn pattern(k: usize) -> Vec<f32> {
    (0..S * S)
        .map(|i| {
            let z = i / S;
            let fast = if k == 0 {
                z >= S / 2
            } else {
                (S / 4..3 * S / 4).contains(&z)
            };
            if fast { 4500.0 } else { 1500.0 }
        })
        .collect()
}

#[test]
fn tiny_unet_learns_two_patterns_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let corpus_path = dir.path().join("two.h5");
    let models: Vec<f32> = (0..16).flat_map(|i| pattern(i % 2)).collect();
    write_corpus(
        &corpus_path,
        &Corpus::new(models, [16, S, S], CorpusMeta::default()).unwrap(),
    )
    .unwrap();
    let cfg = tiny_unet_config(
        &corpus_path,
        &dir.path().join("run"),
        r#"time_sinusoid_dim = 16
time_embed_dim = 32
[diffusion]
schedule = "cosine"
timesteps = 200
[train]
steps = 600
batch_size = 8
seed = 3
ema_decay = 0.98
log_every = 50
checkpoint_every = 600
sample_count = 4
sample_steps = 5
[train.optimizer]
lr = 3e-3
warmup_steps = 20
min_lr_ratio = 0.1"#,
    );
    let mut trainer = Trainer::new(cfg, &Device::Cpu).unwrap();
    let ckpt = trainer.run(&mut Silent, None).unwrap();

    let prior = DiffusionPrior::load(&ckpt, &Device::Cpu).unwrap();
    let n = 40;
    // Ancestral sampling over all 200 steps (few-step deterministic DDIM can land between modes).
    let sampler = SamplerConfig::Ddpm {
        steps: None,
        variance: DdpmVariance::Posterior,
        clip: Some([-1.0, 1.0]),
    };
    let x = sample(
        &prior.denoiser,
        &sampler,
        &prior.schedule,
        &[n, 1, S, S],
        &Device::Cpu,
        11,
        &mut NoObserver,
    )
    .unwrap();
    let x: Vec<f32> = x.flatten_all().unwrap().to_vec1().unwrap();
    let unit = |p: Vec<f32>| {
        p.into_iter()
            .map(|v| 2.0 * (v - 1500.0) / 3000.0 - 1.0)
            .collect::<Vec<f32>>()
    };
    let targets = [unit(pattern(0)), unit(pattern(1))];
    // counts[0], counts[1]: samples within RMSE 0.25 (normalised units) of a pattern;
    // counts[2]: samples that are neither. A 600-step CPU-sized model is allowed 10 % misses.
    let mut counts = [0usize; 3];
    for s in x.chunks(S * S) {
        let rmse: Vec<f32> = targets
            .iter()
            .map(|t| {
                (s.iter().zip(t).map(|(a, b)| (a - b).powi(2)).sum::<f32>() / (S * S) as f32).sqrt()
            })
            .collect();
        let best = if rmse[0] < rmse[1] { 0 } else { 1 };
        counts[if rmse[best] < 0.25 { best } else { 2 }] += 1;
    }
    assert!(
        counts[2] * 10 <= n,
        "more than 10 % of samples are neither pattern: {counts:?}"
    );
    assert!(
        counts[0] >= 8 && counts[1] >= 8,
        "both patterns must appear: {counts:?}"
    );
}
