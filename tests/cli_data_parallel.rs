//! End-to-end: `velprior train --workers 2` (data parallel on CPU threads, the stand-in for
//! NCCL ranks) writes one run folder whose weights equal a one-worker run's up to f32 rounding
//! (measured 3.5e-7 max in velprior-diffusion's data_parallel tests; 1e-4 allowed here).

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::flatvel_corpus;

fn velprior(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_velprior"))
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("binary runs")
}

fn ok(out: &Output) {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn config(dir: &Path, corpus: &Path, out: &str) -> String {
    let text = format!(
        "output = \"{}\"\n[data]\ncorpus = \"{}\"\nvmin = 1500.0\nvmax = 4500.0\n\
         [model]\nbase_channels = 8\nchannel_mult = [1, 2]\nres_blocks_per_level = 1\ngroups = 4\n\
         time_sinusoid_dim = 8\ntime_embed_dim = 16\n[diffusion]\ntimesteps = 50\n\
         [train]\nsteps = 3\nbatch_size = 4\nlog_every = 1\ncheckpoint_every = 3\nsample_count = 0\n",
        dir.join(out).display(),
        corpus.display()
    );
    let path = dir.join(format!("{out}.toml"));
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

fn weights(path: &Path) -> Vec<f32> {
    let (_, t) =
        velprior_diffusion::checkpoint::load_checkpoint(path, &candle_core::Device::Cpu).unwrap();
    let mut names: Vec<&String> = t.keys().filter(|k| k.starts_with("model.")).collect();
    names.sort();
    names
        .into_iter()
        .flat_map(|k| t[k].flatten_all().unwrap().to_vec1::<f32>().unwrap())
        .collect()
}

#[test]
fn two_workers_train_the_weights_of_one() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = dir.path().join("c.h5");
    flatvel_corpus(&corpus, 6, "12x12");
    ok(&velprior(&[
        "train",
        "--config",
        &config(dir.path(), &corpus, "one"),
    ]));
    let two = config(dir.path(), &corpus, "two");
    ok(&velprior(&["train", "--config", &two, "--workers", "2"]));
    let (a, b) = (
        weights(&dir.path().join("one/checkpoint.safetensors")),
        weights(&dir.path().join("two/checkpoint.safetensors")),
    );
    assert_eq!(a.len(), b.len());
    let max = a
        .iter()
        .zip(&b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0f32, f32::max);
    assert!(max <= 1e-4, "max |Δw| = {max}");
    let log = std::fs::read_to_string(dir.path().join("two/metrics.jsonl")).unwrap();
    assert_eq!(log.lines().count(), 3, "rank 0 alone logs each step");
    let bad = velprior(&["train", "--config", &two, "--workers", "5"]);
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(!bad.status.success() && err.contains("batch_size"), "{err}");
}
