//! Regularised-AE tests: shapes (incl. 70×70), training lowers the loss, the latent penalty
//! shrinks codes, latent-std fit and seeded sampling, config and shape errors.

use candle_core::{DType, Device, Tensor};
use candle_nn::{AdamW, Optimizer, ParamsAdamW, VarMap};
use velprior_nn::{
    Autoencoder, ConvAeConfig, ConvAutoencoder, Decoder, MlpAeConfig, MlpAutoencoder, NnError,
    PadMode, fit_latent_std, regularised_ae_loss, sample_prior, seeded_var_builder,
};

fn profiles(n: usize, l: usize) -> Tensor {
    // smooth increasing "velocity" profiles with a random-ish interface depth
    let v: Vec<f32> = (0..n * l)
        .map(|i| {
            let (s, z) = (i / l, (i % l) as f32 / l as f32);
            let d = 0.3 + 0.4 * ((s as f32 * 0.61).sin() * 0.5 + 0.5);
            -0.8 + z + if z > d { 0.5 } else { 0.0 }
        })
        .collect();
    Tensor::from_vec(v, (n, l), &Device::Cpu).unwrap()
}

fn mlp(lambda: f64, seed: u64) -> (MlpAutoencoder, VarMap) {
    let cfg = MlpAeConfig {
        input_dim: 32,
        hidden: vec![64, 32],
        latent_dim: 4,
        lambda,
        variational: false,
    };
    let vm = VarMap::new();
    let ae = MlpAutoencoder::new(
        &cfg,
        seeded_var_builder(&vm, seed, DType::F32, &Device::Cpu),
    )
    .unwrap();
    (ae, vm)
}

fn train(ae: &dyn Autoencoder, vm: &VarMap, x: &Tensor, lambda: f64, steps: usize) -> (f32, f32) {
    let mut opt = AdamW::new(
        vm.all_vars(),
        ParamsAdamW {
            lr: 3e-3,
            weight_decay: 0.0,
            ..Default::default()
        },
    )
    .unwrap();
    let mut first = 0.0;
    let mut last = 0.0;
    for s in 0..steps {
        let l = regularised_ae_loss(ae, x, lambda).unwrap();
        let r = l.recon.to_scalar::<f32>().unwrap();
        if s == 0 {
            first = r;
        }
        last = r;
        opt.backward_step(&l.total).unwrap();
    }
    (first, last)
}

#[test]
fn mlp_ae_shapes_and_training_lowers_reconstruction_error() {
    let (ae, vm) = mlp(1e-3, 0);
    let x = profiles(32, 32);
    assert_eq!(ae.encode(&x).unwrap().dims(), &[32, 4]);
    assert_eq!(
        ae.decode(&ae.encode(&x).unwrap()).unwrap().dims(),
        &[32, 32]
    );
    let (first, last) = train(&ae, &vm, &x, 1e-3, 150);
    assert!(last < first / 5.0, "recon {first} -> {last}");
}

#[test]
fn latent_penalty_shrinks_the_codes() {
    let x = profiles(32, 32);
    let norm = |lambda: f64| {
        let (ae, vm) = mlp(lambda, 1);
        train(&ae, &vm, &x, lambda, 100);
        let z = ae.encode(&x).unwrap();
        z.sqr()
            .unwrap()
            .mean_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap()
    };
    let (weak, strong) = (norm(0.0), norm(1.0));
    assert!(strong < weak / 2.0, "E‖z‖²: λ=0 {weak}, λ=1 {strong}");
}

#[test]
fn latent_std_and_seeded_sampling() {
    let (ae, _) = mlp(1e-3, 2);
    let x = profiles(20, 32);
    let s = fit_latent_std(&ae, &x, 7).unwrap();
    // same value whatever the chunking, and equal to the direct std
    let s_all = fit_latent_std(&ae, &x, 100).unwrap();
    assert!((s - s_all).abs() < 1e-6 && s > 0.0);
    let z = ae
        .encode(&x)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
    let m = z.iter().map(|&v| v as f64).sum::<f64>() / z.len() as f64;
    let direct = (z.iter().map(|&v| (v as f64 - m).powi(2)).sum::<f64>() / z.len() as f64).sqrt();
    assert!((s - direct).abs() < 1e-5);
    let a = sample_prior(&ae, 5, s, 42, &Device::Cpu).unwrap();
    let b = sample_prior(&ae, 5, s, 42, &Device::Cpu).unwrap();
    assert_eq!(a.dims(), &[5, 32]);
    assert_eq!(a.to_vec2::<f32>().unwrap(), b.to_vec2::<f32>().unwrap());
}

#[test]
fn conv_ae_handles_70x70_and_trains() {
    for mode in [PadMode::Replicate, PadMode::Reflect] {
        let cfg = ConvAeConfig {
            in_channels: 1,
            height: 70,
            width: 70,
            channels: vec![4, 8, 8],
            latent_dim: 8,
            lambda: 1e-3,
            pad_mode: mode,
            variational: false,
        };
        let vm = VarMap::new();
        let ae = ConvAutoencoder::new(&cfg, seeded_var_builder(&vm, 0, DType::F32, &Device::Cpu))
            .unwrap();
        let x = profiles(4, 70 * 70).reshape((4, 1, 70, 70)).unwrap();
        assert_eq!(ae.encode(&x).unwrap().dims(), &[4, 8]);
        assert_eq!(
            ae.decode(&ae.encode(&x).unwrap()).unwrap().dims(),
            &[4, 1, 70, 70]
        );
    }
    // Training on a small size keeps the test fast (candle's CPU conv backward is slow).
    let cfg = ConvAeConfig {
        in_channels: 1,
        height: 20,
        width: 18,
        channels: vec![4, 8],
        latent_dim: 8,
        lambda: 1e-3,
        pad_mode: PadMode::Replicate,
        variational: false,
    };
    let vm = VarMap::new();
    let ae =
        ConvAutoencoder::new(&cfg, seeded_var_builder(&vm, 0, DType::F32, &Device::Cpu)).unwrap();
    let x = profiles(4, 20 * 18).reshape((4, 1, 20, 18)).unwrap();
    let (first, last) = train(&ae, &vm, &x, 1e-3, 40);
    assert!(last < first / 2.0, "recon {first} -> {last}");
}

#[test]
fn ae_config_and_shape_errors() {
    let bad = MlpAeConfig {
        input_dim: 32,
        hidden: vec![0],
        latent_dim: 4,
        lambda: 0.0,
        variational: false,
    };
    let vb = seeded_var_builder(&VarMap::new(), 0, DType::F32, &Device::Cpu);
    let err = MlpAutoencoder::new(&bad, vb).unwrap_err().to_string();
    assert!(err.contains("`hidden`"), "{err}");
    let cfg: Result<ConvAeConfig, _> =
        toml::from_str("in_channels = 1\nheight = 8\nwidth = 8\nchannels = [4]\nlatent = 3\n");
    assert!(cfg.is_err(), "unknown key `latent` must be rejected");
    let (ae, _) = mlp(0.0, 0);
    let r = ae.encode(&profiles(2, 31));
    assert!(matches!(r, Err(NnError::Shape(_))));
    let r = ae.decode(&profiles(2, 3));
    assert!(matches!(r, Err(NnError::Shape(_))));
}
