//! Trainer bookkeeping: resume is bit-exact, checkpoints are atomic and validated, configs
//! reject unknown keys, divergence stops with a clear message.

mod common;

use std::path::Path;

use velprior_diffusion::checkpoint::load_checkpoint;
use velprior_diffusion::config::TrainConfig;
use velprior_diffusion::trainer::{CHECKPOINT_FILE, Silent, Trainer};

use common::tiny_train_config;

fn tiny_config(dir: &Path, out: &str, steps: usize, checkpoint_every: usize) -> TrainConfig {
    tiny_train_config(
        dir,
        out,
        &format!(
            r#"dropout = 0.1
[diffusion]
timesteps = 100
objective = "v"
[train]
steps = {steps}
batch_size = 4
seed = 7
log_every = 2
checkpoint_every = {checkpoint_every}
[train.optimizer]
lr = 1e-3
warmup_steps = 3
min_lr_ratio = 0.1"#
        ),
    )
}

fn weights(t: &Trainer) -> Vec<(String, Vec<f32>)> {
    let data = t.varmap().data().lock().unwrap();
    let mut w: Vec<(String, Vec<f32>)> = data
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                v.as_tensor().flatten_all().unwrap().to_vec1().unwrap(),
            )
        })
        .collect();
    w.sort_by(|a, b| a.0.cmp(&b.0));
    w
}

#[test]
fn twenty_steps_equal_ten_plus_resume_plus_ten() {
    let dir = tempfile::tempdir().unwrap();
    let mut straight = Trainer::new(
        tiny_config(dir.path(), "a", 20, 10),
        &candle_core::Device::Cpu,
    )
    .unwrap();
    straight.run(&mut Silent, None).unwrap();

    let cfg = tiny_config(dir.path(), "b", 20, 10);
    let mut first = Trainer::new(cfg.clone(), &candle_core::Device::Cpu).unwrap();
    let ckpt = first.run(&mut Silent, Some(10)).unwrap();
    assert_eq!(first.step(), 10);
    drop(first);
    let mut resumed = Trainer::resume(cfg, &ckpt, &candle_core::Device::Cpu).unwrap();
    assert_eq!(resumed.step(), 10);
    resumed.run(&mut Silent, None).unwrap();

    assert_eq!(
        weights(&straight),
        weights(&resumed),
        "weights differ after resume"
    );
    let ema_a = straight.ema_tensors();
    let ema_b = resumed.ema_tensors();
    for (k, a) in &ema_a {
        let (a, b): (Vec<f32>, Vec<f32>) = (
            a.flatten_all().unwrap().to_vec1().unwrap(),
            ema_b[k].flatten_all().unwrap().to_vec1().unwrap(),
        );
        assert_eq!(a, b, "EMA {k} differs");
    }
    // Metrics: the resumed run appended lines 12..20 after 2..10.
    let lines = std::fs::read_to_string(dir.path().join("b/metrics.jsonl")).unwrap();
    assert_eq!(lines.lines().count(), 10);
}

#[test]
fn checkpoint_has_documented_names_and_truncation_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    let mut t = Trainer::new(
        tiny_config(dir.path(), "c", 2, 1),
        &candle_core::Device::Cpu,
    )
    .unwrap();
    let path = t.run(&mut Silent, None).unwrap();
    let (meta, tensors) = load_checkpoint(&path, &candle_core::Device::Cpu).unwrap();
    assert_eq!(meta.step, 2);
    assert_eq!(meta.model_shape, [12, 12]);
    for prefix in ["model.", "ema.", "adam_m.", "adam_v."] {
        assert!(
            tensors.keys().any(|k| k.starts_with(prefix)),
            "no {prefix} tensors"
        );
    }
    assert!(
        tensors.contains_key("model.conv_in.weight"),
        "{:?}",
        tensors.keys().take(5).collect::<Vec<_>>()
    );
    assert!(
        dir.path()
            .join("c")
            .join(format!("{CHECKPOINT_FILE}.json"))
            .exists()
    );
    // No temporary file left in the run folder.
    assert!(
        std::fs::read_dir(dir.path().join("c")).unwrap().all(|e| !e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .ends_with(".tmp"))
    );

    let bytes = std::fs::read(&path).unwrap();
    let cut = dir.path().join("cut.safetensors");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let msg = load_checkpoint(&cut, &candle_core::Device::Cpu)
        .unwrap_err()
        .to_string();
    assert!(msg.contains("truncated"), "{msg}");

    // A config that does not match the checkpoint is refused by name.
    let mut other = tiny_config(dir.path(), "c", 4, 1);
    other.model.base_channels = 16;
    let msg = Trainer::resume(other, &path, &candle_core::Device::Cpu)
        .err()
        .unwrap()
        .to_string();
    assert!(msg.contains("[model]"), "{msg}");
}

#[test]
fn unknown_config_keys_are_rejected_by_name() {
    let text = "output = \"x\"\n[data]\ncorpus = \"c.h5\"\nvmin = 1500.0\nvmax = 4500.0\n[train]\nstepz = 3\n";
    let msg = TrainConfig::from_toml(text, Path::new("my.toml"))
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("my.toml") && msg.contains("stepz") && msg.contains("line 7"),
        "{msg}"
    );
}

#[test]
fn divergence_stops_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = tiny_config(dir.path(), "d", 50, 1);
    cfg.train.optimizer.lr = 1e9;
    cfg.train.optimizer.grad_clip = None;
    cfg.train.optimizer.warmup_steps = 0;
    let mut t = Trainer::new(cfg, &candle_core::Device::Cpu).unwrap();
    let msg = t.run(&mut Silent, None).unwrap_err().to_string();
    assert!(
        msg.contains("diverged") && msg.contains("last good checkpoint"),
        "{msg}"
    );
}

/// Continuous-time score matching learns (its loss falls on the tiny corpus: catches a time
/// input or target that does not match the noise it was made with) and its prior samples with
/// the reverse SDE.
#[test]
fn continuous_score_matching_trains_and_samples_with_the_sde() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = tiny_config(dir.path(), "e", 40, 40);
    cfg.diffusion.continuous = true;
    cfg.diffusion.objective = velprior_diffusion::config::Objective::X0;
    let mut t = Trainer::new(cfg, &candle_core::Device::Cpu).unwrap();
    let ckpt = t.run(&mut Silent, None).unwrap();
    let log = std::fs::read_to_string(dir.path().join("e/metrics.jsonl")).unwrap();
    let losses: Vec<f64> = log
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["loss"]
                .as_f64()
                .unwrap()
        })
        .collect();
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let (first, last) = (mean(&losses[..5]), mean(&losses[losses.len() - 5..]));
    assert!(
        last < first,
        "loss did not fall: first {first}, last {last} ({losses:?})"
    );
    let prior =
        velprior_diffusion::prior::DiffusionPrior::load(&ckpt, &candle_core::Device::Cpu).unwrap();
    let sampler = velprior_diffusion::samplers::SamplerConfig::EulerMaruyama {
        steps: 5,
        t_min: 1e-3,
        clip: Some([-1.0, 1.0]),
    };
    let x = velprior_diffusion::samplers::sample(
        &prior.denoiser,
        &sampler,
        &prior.schedule,
        &[2, 1, 12, 12],
        &candle_core::Device::Cpu,
        0,
        &mut velprior_diffusion::samplers::NoObserver,
    )
    .unwrap();
    let v: Vec<f32> = x.flatten_all().unwrap().to_vec1().unwrap();
    assert_eq!(v.len(), 2 * 144);
    assert!(v.iter().all(|x| x.is_finite() && x.abs() <= 1.0));
}

/// The EMA weights of `t` by name, sorted.
fn ema_values(t: &Trainer) -> Vec<(String, Vec<f32>)> {
    let mut e: Vec<(String, Vec<f32>)> = t
        .ema_tensors()
        .into_iter()
        .map(|(k, v)| (k, v.flatten_all().unwrap().to_vec1().unwrap()))
        .collect();
    e.sort_by(|a, b| a.0.cmp(&b.0));
    e
}

/// A warm start takes a prior's EMA weights as both the weights and the EMA, at step 0 with a
/// fresh optimiser, on any corpus; a prior of another model is refused by name. Catches loading
/// the raw (non-EMA) weights, leaving the EMA at the seeded initial weights, or carrying the
/// step count over, or refusing a prior trained with another objective.
#[test]
fn warm_start_takes_the_priors_ema_weights_at_step_zero() {
    let dir = tempfile::tempdir().unwrap();
    let cpu = candle_core::Device::Cpu;
    let mut source = Trainer::new(tiny_config(dir.path(), "a", 6, 6), &cpu).unwrap();
    let ckpt = source.run(&mut Silent, None).unwrap();
    let prior = dir.path().join("prior.safetensors");
    velprior_diffusion::export::export_ema(&ckpt, &prior).unwrap();
    let ema = ema_values(&source);
    assert_ne!(
        weights(&source),
        ema,
        "the test needs EMA weights that differ from the raw ones"
    );

    let warm = Trainer::warm_start(tiny_config(dir.path(), "b", 6, 6), &prior, &cpu).unwrap();
    assert_eq!(warm.step(), 0);
    assert_eq!(weights(&warm), ema);
    assert_eq!(ema_values(&warm), ema);

    let mut to_eps = tiny_config(dir.path(), "eps", 6, 6);
    to_eps.diffusion.objective = velprior_diffusion::config::Objective::Eps;
    let retrained = Trainer::warm_start(to_eps, &prior, &cpu).unwrap();
    assert_eq!(weights(&retrained), ema);

    let mut other = tiny_config(dir.path(), "c", 6, 6);
    other.model.base_channels = 4;
    let err = match Trainer::warm_start(other, &prior, &cpu) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("a prior of another model must be refused"),
    };
    assert!(err.contains("[model]"), "{err}");
}
