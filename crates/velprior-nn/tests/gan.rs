//! The GAN's parts against theory: spectral normalisation converges to the largest singular
//! value (an SVD); the discriminator loss is minimised by the log density ratio
//! log p_data/p_G (Goodfellow et al. 2014, Prop. 1), known in closed form for two Gaussians;
//! and the adversarial game's equilibrium is p_G = p_data, reached by a linear generator
//! against a quadratic discriminator on Gaussian data. The DCGAN networks themselves are
//! checked for shapes, errors and checkpointed power iterations.

use candle_core::{DType, Device, Tensor, Var};
use candle_nn::{AdamW, Optimizer, ParamsAdamW, VarMap};
use nalgebra::DMatrix;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use velprior_nn::{
    Decoder, Gan, GanConfig, NnError, PadMode, SpectralNorm, discriminator_loss, generator_loss,
    seeded_var_builder,
};

fn gaussian(n: usize, mean: f64, std: f64, rng: &mut ChaCha8Rng) -> Vec<f32> {
    (0..n)
        .map(|_| {
            let e: f64 = StandardNormal.sample(rng);
            (mean + std * e) as f32
        })
        .collect()
}

/// Catches: a power iteration whose u is not carried to the next call (σ stays at its first
/// estimate: 2.37 against 5.08 here), or a step that uses W where Wᵀ belongs (shape error).
#[test]
fn spectral_norm_converges_to_the_largest_singular_value() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let (rows, cols) = (6, 12);
    let w = gaussian(rows * cols, 0.0, 1.0, &mut rng);
    let svd = DMatrix::from_row_slice(
        rows,
        cols,
        &w.iter().map(|&v| f64::from(v)).collect::<Vec<_>>(),
    )
    .singular_values();
    let largest = svd.max();
    // A conv weight (out 6, in 3, 2 × 2) reshapes to the 6 × 12 matrix.
    let weight = Tensor::from_vec(w, (rows, 3, 2, 2), &Device::Cpu).unwrap();
    let sn = SpectralNorm::new(weight.clone(), 7).unwrap();
    for _ in 0..200 {
        sn.normalised().unwrap();
    }
    let sigma = sn.sigma().unwrap();
    assert!(
        (sigma - largest).abs() < 1e-4 * largest,
        "σ = {sigma}, SVD {largest}"
    );
    // W/σ has spectral norm 1.
    let normalised = sn
        .normalised()
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
    let m = DMatrix::from_row_slice(
        rows,
        cols,
        &normalised.iter().map(|&v| f64::from(v)).collect::<Vec<_>>(),
    );
    assert!((m.singular_values().max() - 1.0).abs() < 1e-4);
}

/// D(x) = a x² + b x + c fitted by the discriminator loss to p_data = N(0, 1) against
/// p_G = N(1, 1.5²) must reach log p_data − log p_G = −x²/2 + (x − 1)²/4.5 + ln 1.5.
/// Catches: a loss with the real/fake roles swapped (the fit lands at −a*, −b*, −c*), or a
/// softplus without its |x| (log(1 + e^(−x)) instead: the minimiser moves by 0.3 or more).
#[test]
fn the_discriminator_loss_is_minimised_by_the_log_density_ratio() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let n = 20_000;
    let real = Tensor::from_vec(gaussian(n, 0.0, 1.0, &mut rng), n, &Device::Cpu).unwrap();
    let fake = Tensor::from_vec(gaussian(n, 1.0, 1.5, &mut rng), n, &Device::Cpu).unwrap();
    let coef = Var::zeros(3, DType::F32, &Device::Cpu).unwrap();
    let logits = |x: &Tensor| -> Tensor {
        let c = coef.as_tensor();
        let features =
            Tensor::stack(&[x.sqr().unwrap(), x.clone(), x.ones_like().unwrap()], 1).unwrap();
        features
            .matmul(&c.unsqueeze(1).unwrap())
            .unwrap()
            .squeeze(1)
            .unwrap()
    };
    let mut opt = AdamW::new(
        vec![coef.clone()],
        ParamsAdamW {
            lr: 0.02,
            weight_decay: 0.0,
            ..Default::default()
        },
    )
    .unwrap();
    for _ in 0..1500 {
        let loss = discriminator_loss(&logits(&real), &logits(&fake)).unwrap();
        opt.backward_step(&loss).unwrap();
    }
    let got = coef.as_tensor().to_vec1::<f32>().unwrap();
    let want = [-0.5 + 1.0 / 4.5, -2.0 / 4.5, 1.0 / 4.5 + 1.5f64.ln()];
    for (g, w) in got.iter().zip(want) {
        // Sampling error of a logistic fit on 2 × 20,000 points: about 0.02.
        assert!(
            (f64::from(*g) - w).abs() < 0.06,
            "fitted {got:?}, log ratio {want:?}"
        );
    }
}

/// A linear generator G(z) = α z + β against a quadratic discriminator on data N(2, 0.5²):
/// at the game's equilibrium p_G = p_data, so β → 2 and |α| → 0.5. Ten discriminator steps
/// per generator step keep the discriminator near its optimum, so the generator descends a
/// divergence instead of circling the equilibrium (one step each: |α| swings 0.13–0.94).
/// Catches: a sign slip in the generator loss (mean softplus(fake): the generator flees the
/// data) or a generator loss that ignores the discriminator's quadratic term.
#[test]
fn the_adversarial_game_reaches_the_data_distribution() {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let dev = Device::Cpu;
    let disc = Var::zeros(3, DType::F32, &dev).unwrap();
    let gen_params = Var::from_vec(vec![1.0f32, 0.0], 2, &dev).unwrap();
    let logits = |x: &Tensor| -> Tensor {
        let features =
            Tensor::stack(&[x.sqr().unwrap(), x.clone(), x.ones_like().unwrap()], 1).unwrap();
        features
            .matmul(&disc.as_tensor().unsqueeze(1).unwrap())
            .unwrap()
            .squeeze(1)
            .unwrap()
    };
    let generate = |z: &Tensor| -> Tensor {
        let p = gen_params.as_tensor();
        z.broadcast_mul(&p.narrow(0, 0, 1).unwrap())
            .unwrap()
            .broadcast_add(&p.narrow(0, 1, 1).unwrap())
            .unwrap()
    };
    let params = ParamsAdamW {
        lr: 0.02,
        beta1: 0.5,
        weight_decay: 0.0,
        ..Default::default()
    };
    let mut opt_d = AdamW::new(vec![disc.clone()], params.clone()).unwrap();
    let mut opt_g = AdamW::new(
        vec![gen_params.clone()],
        ParamsAdamW {
            lr: 0.005,
            ..params
        },
    )
    .unwrap();
    let (steps, critic_steps, batch) = (1500, 10, 256);
    let mut draw = |mean: f64, std: f64| {
        Tensor::from_vec(gaussian(batch, mean, std, &mut rng), batch, &dev).unwrap()
    };
    for _ in 0..steps {
        for _ in 0..critic_steps {
            let (real, fake) = (draw(2.0, 0.5), generate(&draw(0.0, 1.0)).detach());
            opt_d
                .backward_step(&discriminator_loss(&logits(&real), &logits(&fake)).unwrap())
                .unwrap();
        }
        let fake = generate(&draw(0.0, 1.0));
        opt_g
            .backward_step(&generator_loss(&logits(&fake)).unwrap())
            .unwrap();
    }
    let p = gen_params.as_tensor().to_vec1::<f32>().unwrap();
    let (alpha, beta) = (f64::from(p[0].abs()), f64::from(p[1]));
    // Minibatch noise moves the end point by about 0.01.
    assert!((beta - 2.0).abs() < 0.05, "β = {beta}, want 2");
    assert!((alpha - 0.5).abs() < 0.05, "|α| = {alpha}, want 0.5");
}

fn tiny() -> GanConfig {
    GanConfig {
        height: 10,
        width: 7,
        channels: vec![4, 8],
        latent_dim: 3,
        pad_mode: PadMode::Replicate,
    }
}

/// The DCGAN networks map z (N, k) to (N, 1, H, W) (odd sizes cropped back) and models to N
/// logits; a wrong-sized model is refused by name; restored power vectors make two
/// discriminators agree. Catches: a generator that returns its padded size, or power vectors
/// that are not restored (the logits differ).
#[test]
fn dcgan_shapes_errors_and_power_vectors() {
    let vm = VarMap::new();
    let gan = Gan::new(
        &tiny(),
        1,
        seeded_var_builder(&vm, 2, DType::F32, &Device::Cpu),
    )
    .unwrap();
    let z = Tensor::zeros((5, 3), DType::F32, &Device::Cpu).unwrap();
    let x = gan.generator.decode(&z).unwrap();
    assert_eq!(x.dims(), [5, 1, 10, 7]);
    let logits = gan.discriminator.forward(&x).unwrap();
    assert_eq!(logits.dims(), [5]);
    let bad = Tensor::zeros((2, 1, 9, 7), DType::F32, &Device::Cpu).unwrap();
    let err = gan.discriminator.forward(&bad).unwrap_err();
    assert!(matches!(err, NnError::Shape(_)), "{err}");
    assert!(err.to_string().contains("(N, 1, 10, 7)"), "{err}");

    for _ in 0..5 {
        gan.discriminator.forward(&x).unwrap();
    }
    let other = Gan::new(
        &tiny(),
        9,
        seeded_var_builder(&vm, 2, DType::F32, &Device::Cpu),
    )
    .unwrap();
    let saved = gan.discriminator.power_vectors();
    other
        .discriminator
        .set_power_vectors(|name| {
            saved
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, u)| u.clone())
        })
        .unwrap();
    let a = gan
        .discriminator
        .forward(&x)
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
    let b = other
        .discriminator
        .forward(&x)
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
    assert_eq!(a, b);
    let err = GanConfig {
        channels: vec![],
        ..tiny()
    }
    .validate()
    .unwrap_err();
    assert!(err.to_string().contains("channels"), "{err}");
}
