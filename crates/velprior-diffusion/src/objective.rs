//! Training objectives: ε-, v- and x₀-prediction on discrete timesteps (Ho et al. 2020;
//! Salimans & Ho 2022), and continuous-time denoising score matching on the VP-SDE
//! (Song et al. 2021), all as an MSE between the network output and its target, optionally
//! weighted per noise level by Min-SNR-γ (Hang et al. 2023).

use std::ops::Range;

use candle_core::Tensor;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use velprior_kernels::{Schedule, q_sample};
use velprior_nn::UNet;

use crate::Result;
use crate::config::{DiffusionConfig, Objective};
use crate::noise::{per_sample, standard_normal};

/// Smallest continuous time drawn for score matching (avoids the σ → 0 singularity).
pub const T_MIN: f64 = 1e-3;

/// Network time input for continuous time t ∈ (0, 1]: t·1000, the scale of discrete indices.
pub fn continuous_time_input(t: f64) -> f32 {
    (t * 1000.0) as f32
}

/// The Min-SNR-γ weight of a sample at signal-to-noise ratio `snr` = ᾱ/(1−ᾱ): the weight that
/// turns the objective's squared error into min(snr, γ) times the x₀ squared error
/// (‖ε̂ − ε‖² = snr ‖x̂₀ − x₀‖², ‖v̂ − v‖² = (1 + snr) ‖x̂₀ − x₀‖²), so no noise level
/// dominates training (Hang et al. 2023, "Efficient Diffusion Training via Min-SNR Weighting
/// Strategy"; γ = 5 there).
pub fn min_snr_weight(objective: Objective, snr: f64, gamma: f64) -> f64 {
    match objective {
        // Written without 0/0 at the last step of a schedule whose ᾱ reaches 0.
        Objective::Eps if snr <= gamma => 1.0,
        Objective::Eps => gamma / snr,
        Objective::V => snr.min(gamma) / (snr + 1.0),
        Objective::X0 => snr.min(gamma),
    }
}

/// Draws timesteps and noise for the batch `x0` (N, C, H, W), noises it and returns the MSE of
/// the network's prediction against the objective's target (each sample's error weighted by
/// [`min_snr_weight`] when `min_snr_gamma` is given).
pub fn training_loss(
    unet: &UNet,
    x0: &Tensor,
    diffusion: &DiffusionConfig,
    min_snr_gamma: Option<f64>,
    schedule: &Schedule,
    rng: &mut ChaCha8Rng,
) -> Result<Tensor> {
    let n = x0.dim(0)?;
    training_loss_rows(unet, x0, diffusion, min_snr_gamma, schedule, rng, 0..n)
}

/// [`training_loss`] of the rows `rows` of the batch `x0` only: the timesteps and noise of the
/// whole batch are drawn (the random stream advances as for the whole batch) and the MSE is
/// taken over `rows` — a data-parallel worker's share.
pub fn training_loss_rows(
    unet: &UNet,
    x0: &Tensor,
    diffusion: &DiffusionConfig,
    min_snr_gamma: Option<f64>,
    schedule: &Schedule,
    rng: &mut ChaCha8Rng,
    rows: Range<usize>,
) -> Result<Tensor> {
    let n = x0.dim(0)?;
    let device = x0.device();
    let eps = standard_normal(rng, x0.dims(), device)?;
    // Per sample: √ᾱ, √(1−ᾱ) (host copies; SNR = (√ᾱ/√(1−ᾱ))² for Min-SNR-γ) and the time input.
    let (x_t, a, b, time) = if diffusion.continuous {
        let t: Vec<f64> = (0..n).map(|_| rng.random_range(T_MIN..=1.0)).collect();
        let a: Vec<f64> = t
            .iter()
            .map(|&t| diffusion.sde.alpha_bar(t).sqrt())
            .collect();
        let b: Vec<f64> = t.iter().map(|&t| diffusion.sde.marginal_std(t)).collect();
        let x_t = (x0.broadcast_mul(&per_sample(&a, device)?)?
            + eps.broadcast_mul(&per_sample(&b, device)?)?)?;
        (
            x_t,
            a,
            b,
            t.iter()
                .map(|&t| continuous_time_input(t))
                .collect::<Vec<f32>>(),
        )
    } else {
        let t: Vec<usize> = (0..n)
            .map(|_| rng.random_range(0..schedule.len()))
            .collect();
        let x_t = q_sample(x0, &eps, t.as_slice(), schedule)?;
        let tables = schedule.tables_f64();
        let a: Vec<f64> = t.iter().map(|&k| tables.sqrt_alphas_cumprod[k]).collect();
        let b: Vec<f64> = t
            .iter()
            .map(|&k| tables.sqrt_one_minus_alphas_cumprod[k])
            .collect();
        (x_t, a, b, t.iter().map(|&k| k as f32).collect())
    };
    let (sqrt_ab, sqrt_omab) = (per_sample(&a, device)?, per_sample(&b, device)?);
    let (x0, eps, x_t, sqrt_ab, sqrt_omab, time) = if rows == (0..n) {
        (x0.clone(), eps, x_t, sqrt_ab, sqrt_omab, time)
    } else {
        let cut = |t: &Tensor| t.narrow(0, rows.start, rows.len());
        (
            cut(x0)?,
            cut(&eps)?,
            cut(&x_t)?,
            cut(&sqrt_ab)?,
            cut(&sqrt_omab)?,
            time[rows.clone()].to_vec(),
        )
    };
    let time = Tensor::from_vec(time, rows.len(), device)?;
    let out = unet.forward(&x_t, &time, true)?;
    let target = match diffusion.objective {
        Objective::Eps => eps,
        Objective::X0 => x0,
        Objective::V => (eps.broadcast_mul(&sqrt_ab)? - x0.broadcast_mul(&sqrt_omab)?)?,
    };
    let squared_error = (out - target)?.sqr()?;
    Ok(match min_snr_gamma {
        None => squared_error.mean_all()?,
        Some(gamma) => {
            let weights: Vec<f64> = rows
                .map(|i| min_snr_weight(diffusion.objective, (a[i] / b[i]).powi(2), gamma))
                .collect();
            squared_error
                .broadcast_mul(&per_sample(&weights, device)?)?
                .mean_all()?
        }
    })
}

/// Converts a network output to ε̂ given x_t and per-sample √ᾱ, √(1−ᾱ) of shape (N, 1, 1, 1).
pub fn eps_from_output(
    objective: Objective,
    out: &Tensor,
    x_t: &Tensor,
    sqrt_ab: &Tensor,
    sqrt_omab: &Tensor,
) -> Result<Tensor> {
    Ok(match objective {
        Objective::Eps => out.clone(),
        // x_t = √ᾱ x₀ + √(1−ᾱ) ε  ⇒  ε = (x_t − √ᾱ x̂₀)/√(1−ᾱ).
        Objective::X0 => (x_t - out.broadcast_mul(sqrt_ab)?)?.broadcast_div(sqrt_omab)?,
        // v = √ᾱ ε − √(1−ᾱ) x₀  ⇒  ε = √ᾱ v + √(1−ᾱ) x_t.
        Objective::V => (out.broadcast_mul(sqrt_ab)? + x_t.broadcast_mul(sqrt_omab)?)?,
    })
}
