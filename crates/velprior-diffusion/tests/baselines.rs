//! Baseline priors: autoencoder and GAN training resume bit for bit; a trained GAN opens as a
//! prior that draws the generator's models; `kind` dispatch keeps rejecting unknown keys with
//! file and line.

use std::path::Path;

use velprior_data::synth::{Family, SynthSpec, generate};
use velprior_data::write_corpus;
use velprior_diffusion::any_train_config::AnyTrainConfig;
use velprior_diffusion::baselines::{AeTrainer, GanTrainer, QuietAe, QuietGan};
use velprior_diffusion::prior::{AnyPrior, Prior, PriorForm};
use velprior_diffusion::samplers::{NoObserver, SamplerConfig};

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

fn gan_config(dir: &Path, out: &str, epochs: usize) -> AnyTrainConfig {
    let corpus = dir.join("g.h5");
    if !corpus.exists() {
        let spec = SynthSpec {
            shape: Some([12, 10]),
            ..SynthSpec::new(Family::Curvefault, 10, 3)
        };
        write_corpus(&corpus, &generate(&spec).unwrap()).unwrap();
    }
    let text = format!(
        "kind = \"gan\"\noutput = \"{}\"\n[data]\ncorpus = \"{}\"\nvmin = 1500.0\n\
         vmax = 4500.0\n[model]\nchannels = [4, 8]\nlatent_dim = 3\n\
         [train]\nepochs = {epochs}\nbatch_size = 4\nseed = 4\ncheckpoint_every = 2\n\
         [train.optimizer]\nlr = 1e-3\nbeta1 = 0.5\n",
        dir.join(out).display(),
        corpus.display()
    );
    AnyTrainConfig::from_toml(&text, Path::new("gan.toml")).unwrap()
}

fn weights(varmap: &candle_nn::VarMap) -> Vec<(String, Vec<f32>)> {
    let data = varmap.data().lock().unwrap();
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
    assert_eq!(weights(a.varmap()), weights(c.varmap()));
}

/// Catches: power-iteration vectors or either optimiser's moments not restored on resume
/// (the weights drift apart), or a prior that decodes with other weights than were trained.
#[test]
fn gan_resume_is_bit_exact_and_its_prior_draws_the_generators_models() {
    let dir = tempfile::tempdir().unwrap();
    let cpu = candle_core::Device::Cpu;
    let AnyTrainConfig::Gan(full) = gan_config(dir.path(), "full", 4) else {
        panic!("kind = gan")
    };
    let mut a = GanTrainer::new(full, &cpu).unwrap();
    let checkpoint = a.run(&mut QuietGan, None).unwrap();
    let AnyTrainConfig::Gan(split) = gan_config(dir.path(), "split", 4) else {
        panic!("kind = gan")
    };
    let mut b = GanTrainer::new(split.clone(), &cpu).unwrap();
    let ckpt = b.run(&mut QuietGan, Some(2)).unwrap();
    let mut c = GanTrainer::resume(split, &ckpt, &cpu).unwrap();
    assert_eq!(c.epoch(), 2);
    c.run(&mut QuietGan, None).unwrap();
    assert_eq!(weights(a.varmap()), weights(c.varmap()));

    let prior = AnyPrior::load(&checkpoint, &cpu).unwrap();
    let ignored_sampler = SamplerConfig::Ddim {
        steps: 1,
        eta: 0.0,
        clip: None,
    };
    let drawn = prior.draw(3, 7, &ignored_sampler, &mut NoObserver).unwrap();
    assert_eq!(drawn.len(), 3 * 12 * 10);
    let PriorForm::Latent {
        decoder,
        latent_std,
    } = prior.form()
    else {
        panic!("a GAN is a latent-variable prior")
    };
    assert_eq!((decoder.latent_dim(), latent_std), (3, 1.0));
    assert!(decoder.as_autoencoder().is_none());
    // The same codes through the trained generator's variables, by hand.
    let z = {
        use rand::SeedableRng;
        use rand_distr::Distribution;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        (0..9)
            .map(|_| rand_distr::StandardNormal.sample(&mut rng))
            .collect::<Vec<f32>>()
    };
    let vb = candle_nn::VarBuilder::from_varmap(a.varmap(), candle_core::DType::F32, &cpu);
    let network = velprior_nn::GanConfig {
        height: 12,
        width: 10,
        channels: vec![4, 8],
        latent_dim: 3,
        pad_mode: Default::default(),
    };
    let generator = velprior_nn::generator(&network, vb.pp("generator")).unwrap();
    let x = velprior_nn::Decoder::decode(
        &generator,
        &candle_core::Tensor::from_vec(z, (3, 3), &cpu).unwrap(),
    )
    .unwrap();
    let by_hand: Vec<f32> = x
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap()
        .iter()
        .map(|v| 3000.0 + 1500.0 * v)
        .collect();
    for (d, h) in drawn.iter().zip(&by_hand) {
        assert!((d - h).abs() < 1e-2, "{d} vs {h}");
    }
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
