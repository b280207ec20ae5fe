//! Baseline priors: autoencoder training resumes bit for bit; `kind` dispatch keeps rejecting unknown
//! keys with file and line.

use std::path::Path;

use velprior_data::synth::{Family, SynthSpec, generate};
use velprior_data::write_corpus;
use velprior_diffusion::any_train_config::AnyTrainConfig;
use velprior_diffusion::baselines::{AeTrainer, QuietAe};

fn ae_config(dir: &Path, out: &str, epochs: usize) -> AnyTrainConfig {
    let corpus = dir.join("c.h5");
    if !corpus.exists() {
        let c = generate(&SynthSpec::new(Family::TwoLayer, 12, 3)).unwrap();
        write_corpus(&corpus, &c).unwrap();
    }
    let text = format!(
        "kind = \"autoencoder\"\noutput = \"{}\"\n[data]\ncorpus = \"{}\"\nvmin = 1000.0\n\
         vmax = 5000.0\n[model]\narch = \"mlp\"\nhidden = [16]\nlatent_dim = 2\nlambda = 0.1\n\
         [train]\nepochs = {epochs}\nbatch_size = 5\nseed = 4\ncheckpoint_every = 2\n",
        dir.join(out).display(),
        corpus.display()
    );
    AnyTrainConfig::from_toml(&text, Path::new("ae.toml")).unwrap()
}

fn weights(t: &AeTrainer) -> Vec<(String, Vec<f32>)> {
    let data = t.varmap().data().lock().unwrap();
    let mut w: Vec<(String, Vec<f32>)> = data
        .iter()
        .map(|(k, v)| (k.clone(), v.flatten_all().unwrap().to_vec1().unwrap()))
        .collect();
    w.sort_by(|a, b| a.0.cmp(&b.0));
    w
}

#[test]
fn autoencoder_resume_is_bit_exact() {
    let dir = tempfile::tempdir().unwrap();
    let AnyTrainConfig::Autoencoder(full) = ae_config(dir.path(), "full", 4) else {
        panic!("kind = autoencoder")
    };
    let mut a = AeTrainer::new(full, &candle_core::Device::Cpu).unwrap();
    a.run(&mut QuietAe, None).unwrap();
    let AnyTrainConfig::Autoencoder(split) = ae_config(dir.path(), "split", 4) else {
        panic!("kind = autoencoder")
    };
    let mut b = AeTrainer::new(split.clone(), &candle_core::Device::Cpu).unwrap();
    let ckpt = b.run(&mut QuietAe, Some(2)).unwrap();
    let mut c = AeTrainer::resume(split, &ckpt, &candle_core::Device::Cpu).unwrap();
    assert_eq!(c.epoch(), 2);
    c.run(&mut QuietAe, None).unwrap();
    assert_eq!(weights(&a), weights(&c));
}

#[test]
fn kind_dispatch_rejects_unknown_keys_and_kinds() {
    let err = AnyTrainConfig::from_toml(
        "kind = \"gaussian\"\noutput = \"o\"\n[data]\ncorpus = \"c.h5\"\nvmin = 1.0\nvmax = 2.0\n\
         [model]\nrank = 2\nranks = 3\n",
        Path::new("g.toml"),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("g.toml (line 9)") && err.contains("ranks"),
        "{err}"
    );
    let err = AnyTrainConfig::from_toml("kind = \"wavelet\"\n", Path::new("k.toml"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("k.toml") && err.contains("kind"), "{err}");
}
