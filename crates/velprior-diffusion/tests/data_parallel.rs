//! Data-parallel training on CPU threads (`ThreadAllReduce`, the stand-in for NCCL): N workers
//! on 1/N of each batch hold the same weights as one worker on the whole batch, every rank holds
//! the same bits, only rank 0 writes, and a run resumes on a different number of workers.
//!
//! Tolerance: each worker's convolutions sum its rows' gradients and the all-reduce then sums
//! the workers', so the batch gradient is added up in another order than by one worker: equal
//! up to f32 rounding, which AdamW's m/√v step could magnify on weights whose gradient is ~0.
//! Measured (4 steps, lr 1e-3): max |Δ| = 3.5e-7, mean |Δ| = 1.0e-9 over weights and EMA; the
//! test allows max 1e-4 (a tenth of one step of lr) and mean 1e-7. Another seed differs by >1e-2.

mod common;

use std::collections::HashMap;
use std::path::Path;

use velprior_diffusion::checkpoint::load_checkpoint;
use velprior_diffusion::config::TrainConfig;
use velprior_diffusion::data_parallel::{ThreadAllReduce, train_on_threads};
use velprior_diffusion::trainer::{CHECKPOINT_FILE, Silent, Trainer};

use common::tiny_train_config;

fn tiny_config(dir: &Path, out: &str) -> TrainConfig {
    tiny_train_config(
        dir,
        out,
        r#"[diffusion]
timesteps = 100
[train]
steps = 4
batch_size = 4
seed = 3
log_every = 2
checkpoint_every = 2
ema_decay = 0.5
sample_count = 0
[train.optimizer]
lr = 1e-3"#,
    )
}

/// The checkpoint's tensors as flat f32 vectors.
fn tensors(path: &Path) -> HashMap<String, Vec<f32>> {
    let (_, t) = load_checkpoint(path, &candle_core::Device::Cpu).unwrap();
    t.into_iter()
        .map(|(k, v)| (k, v.flatten_all().unwrap().to_vec1().unwrap()))
        .collect()
}

/// (max, mean) |a − b| over the `model.` and `ema.` tensors.
fn differences(a: &HashMap<String, Vec<f32>>, b: &HashMap<String, Vec<f32>>) -> (f32, f64) {
    let (mut max, mut sum, mut n) = (0.0f32, 0.0f64, 0usize);
    for (k, va) in a {
        if !(k.starts_with("model.") || k.starts_with("ema.")) {
            continue;
        }
        for (x, y) in va.iter().zip(&b[k]) {
            max = max.max((x - y).abs());
            sum += f64::from((x - y).abs());
            n += 1;
        }
    }
    assert!(n > 1000, "compared {n} values");
    (max, sum / n as f64)
}

fn assert_close(a: &HashMap<String, Vec<f32>>, b: &HashMap<String, Vec<f32>>, what: &str) {
    let (max, mean) = differences(a, b);
    eprintln!("{what}: max |Δ| = {max:e}, mean |Δ| = {mean:e}");
    assert!(max <= 1e-4 && mean < 1e-7, "{what}: max {max}, mean {mean}");
}

#[test]
fn two_workers_equal_one_worker_on_the_whole_batch() {
    let dir = tempfile::tempdir().unwrap();
    let single = Trainer::new(tiny_config(dir.path(), "single"), &candle_core::Device::Cpu)
        .unwrap()
        .run(&mut Silent, None)
        .unwrap();
    let single = tensors(&single);

    let outs = ["rank0", "rank1"].map(|o| tiny_config(dir.path(), o));
    let states: Vec<Vec<(String, Vec<f32>)>> = std::thread::scope(|s| {
        let hs: Vec<_> = ThreadAllReduce::group(2)
            .into_iter()
            .zip(&outs)
            .map(|(comm, cfg)| {
                s.spawn(move || {
                    let mut t = Trainer::new(cfg.clone(), &candle_core::Device::Cpu)
                        .unwrap()
                        .with_data_parallel(Box::new(comm))
                        .unwrap();
                    t.run(&mut Silent, None).unwrap();
                    let mut state: Vec<(String, Vec<f32>)> = t
                        .ema_tensors()
                        .into_iter()
                        .map(|(k, v)| (k, v.flatten_all().unwrap().to_vec1().unwrap()))
                        .collect();
                    for (k, v) in t.varmap().data().lock().unwrap().iter() {
                        let v = v.as_tensor().flatten_all().unwrap().to_vec1().unwrap();
                        state.push((format!("model.{k}"), v));
                    }
                    state.sort_by(|a, b| a.0.cmp(&b.0));
                    state
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(
        states[0] == states[1],
        "the two ranks hold different weights or EMA"
    );
    let rank0 = dir.path().join("rank0").join(CHECKPOINT_FILE);
    assert!(rank0.exists(), "rank 0 writes the checkpoint");
    assert!(
        !dir.path().join("rank1").join(CHECKPOINT_FILE).exists()
            && !dir.path().join("rank1/metrics.jsonl").exists(),
        "rank 1 writes nothing"
    );
    assert_close(&tensors(&rank0), &single, "2 workers vs 1");
    // The difference is rounding, not a different batch: a run with another seed differs by
    // far more than the tolerance.
    let mut other = tiny_config(dir.path(), "other");
    other.train.seed = 4;
    let other = tensors(
        &Trainer::new(other, &candle_core::Device::Cpu)
            .unwrap()
            .run(&mut Silent, None)
            .unwrap(),
    );
    assert!(differences(&other, &single).0 > 1e-2);
}

#[test]
fn resume_on_a_different_number_of_workers() {
    let dir = tempfile::tempdir().unwrap();
    let single = tensors(
        &Trainer::new(tiny_config(dir.path(), "single"), &candle_core::Device::Cpu)
            .unwrap()
            .run(&mut Silent, None)
            .unwrap(),
    );
    let cfg = tiny_config(dir.path(), "dp");
    let half = train_on_threads(&cfg, 2, None, Some(2)).unwrap();
    let (meta, _) = load_checkpoint(&half, &candle_core::Device::Cpu).unwrap();
    assert_eq!(meta.step, 2);
    // Three workers on a batch of four: rows split 1 + 1 + 2, shares weighted by rows.
    let done = train_on_threads(&cfg, 3, Some(&half), None).unwrap();
    assert_close(&tensors(&done), &single, "2 workers, resume on 3, vs 1");
    assert!(
        train_on_threads(&cfg, 5, None, None).is_err(),
        "more workers than rows"
    );
}
