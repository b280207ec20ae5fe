//! Min-SNR-γ loss weighting (Hang et al. 2023) against its definition: each objective's weighted
//! squared error is min(SNR, γ) times the x₀ squared error of the same prediction, and the
//! trainer applies it.

mod common;

use std::path::Path;

use candle_core::{Device, Tensor};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use velprior_diffusion::config::{DiffusionConfig, Objective, TrainConfig};
use velprior_diffusion::objective::{min_snr_weight, training_loss};
use velprior_diffusion::trainer::{StepMetrics, TrainObserver, Trainer};
use velprior_kernels::Schedule;
use velprior_nn::{UNet, UNetConfig};

use common::tiny_train_config;

/// Catches a weight written for the wrong objective (e.g. 1/SNR for v, whose error is
/// (1 + SNR) times the x₀ error) or a clip on the wrong side of γ.
#[test]
fn weighted_errors_are_min_snr_times_the_x0_error() {
    let gamma = 5.0;
    let (x0, eps, x0_hat) = (0.3, -1.2, 0.7);
    for alpha_bar in [0.001, 0.3, 0.8, 0.999] {
        let snr: f64 = alpha_bar / (1.0 - alpha_bar);
        let (a, b) = (f64::sqrt(alpha_bar), f64::sqrt(1.0 - alpha_bar));
        let x_t = a * x0 + b * eps;
        // The ε̂ and v̂ a network predicting x̂₀ implies at this x_t.
        let eps_hat = (x_t - a * x0_hat) / b;
        let (v, v_hat) = (a * eps - b * x0, a * eps_hat - b * x0_hat);
        let x0_error = (x0_hat - x0) * (x0_hat - x0);
        let expected = snr.min(gamma) * x0_error;
        for (objective, error) in [
            (Objective::Eps, (eps_hat - eps) * (eps_hat - eps)),
            (Objective::V, (v_hat - v) * (v_hat - v)),
            (Objective::X0, x0_error),
        ] {
            let weighted = min_snr_weight(objective, snr, gamma) * error;
            assert!(
                (weighted - expected).abs() < 1e-9 * expected.max(1.0),
                "{objective:?} at ᾱ = {alpha_bar}: {weighted} vs {expected}"
            );
        }
    }
    // ᾱ = 0 at a schedule's last step: weight 1 for ε, not 0/0.
    assert_eq!(min_snr_weight(Objective::Eps, 0.0, gamma), 1.0);
}

fn tiny_unet() -> UNet {
    let cfg = UNetConfig {
        base_channels: 8,
        channel_mult: vec![1, 2],
        res_blocks_per_level: 1,
        groups: 4,
        time_sinusoid_dim: 8,
        time_embed_dim: 16,
        ..UNetConfig::default()
    };
    UNet::new_seeded(&cfg, 3, &Device::Cpu).unwrap().0
}

/// Catches weights that are not per-sample factors of the plain MSE (e.g. normalised by their
/// sum): with γ beyond every SNR the ε weights are all 1 and the loss must be the plain one.
#[test]
fn a_gamma_beyond_every_snr_leaves_the_eps_loss_unchanged() {
    let unet = tiny_unet();
    let schedule = Schedule::cosine(100).unwrap();
    let diffusion = DiffusionConfig {
        timesteps: 100,
        ..DiffusionConfig::default()
    };
    let x0 = Tensor::randn(0f32, 0.5, (6, 1, 8, 8), &Device::Cpu).unwrap();
    let loss = |gamma: Option<f64>| {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        training_loss(&unet, &x0, &diffusion, gamma, &schedule, &mut rng)
            .unwrap()
            .to_scalar::<f32>()
            .unwrap()
    };
    let plain = loss(None);
    assert_eq!(loss(Some(1e30)), plain);
    assert!(loss(Some(1e-3)) < plain, "{plain}");
}

struct FirstLoss(Option<f64>);
impl TrainObserver for FirstLoss {
    fn on_log(&mut self, m: &StepMetrics) {
        self.0.get_or_insert(m.loss);
    }
}

fn first_logged_loss(dir: &Path, out: &str, min_snr: &str) -> f64 {
    let cfg = tiny_train_config(
        dir,
        out,
        &format!(
            r#"[diffusion]
schedule = "cosine"
timesteps = 100
[train]
steps = 1
batch_size = 8
log_every = 1
{min_snr}"#
        ),
    );
    let mut observer = FirstLoss(None);
    Trainer::new(cfg, &Device::Cpu)
        .unwrap()
        .run(&mut observer, None)
        .unwrap();
    observer.0.unwrap()
}

/// Catches a trainer that ignores `train.min_snr_gamma`: with γ a twentieth of the schedule's
/// smallest SNR, every ε weight γ/SNR is at most 1/20, so the same first batch (same timesteps
/// and noise) must log at most 1/20 of the plain loss.
#[test]
fn the_trainer_weights_its_loss_by_train_min_snr_gamma() {
    let schedule = Schedule::cosine(100).unwrap();
    let tables = schedule.tables_f64();
    let (a, b) = (
        tables.sqrt_alphas_cumprod.last().unwrap(),
        tables.sqrt_one_minus_alphas_cumprod.last().unwrap(),
    );
    let gamma = (a / b).powi(2) / 20.0;
    let dir = tempfile::tempdir().unwrap();
    let plain = first_logged_loss(dir.path(), "plain", "");
    let weighted = first_logged_loss(
        dir.path(),
        "weighted",
        &format!("min_snr_gamma = {gamma:e}"),
    );
    assert!(
        weighted <= plain / 20.0 * (1.0 + 1e-5),
        "{weighted} vs {plain}"
    );
}

#[test]
fn a_gamma_that_is_not_positive_is_a_config_error() {
    let text = r#"
output = "runs/x"
[data]
corpus = "c.h5"
vmin = 1500.0
vmax = 4500.0
[train]
min_snr_gamma = 0.0
"#;
    let e = TrainConfig::from_toml(text, Path::new("t.toml"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("train.min_snr_gamma must be a positive number"),
        "{e}"
    );
}
