//! DPS: its bias against a closed-form Gaussian posterior (measured and bounded), and its
//! through-the-network gradient against finite differences.

mod common;

use candle_core::Device;
use common::*;
use velprior_data::Normalisation;
use velprior_diffusion::NoiseLevel;
use velprior_diffusion::config::DiffusionConfig;
use velprior_diffusion::oracles::GaussianOracle;
use velprior_diffusion::unet_denoiser::UNetDenoiser;
use velprior_kernels::Schedule;
use velprior_nn::{UNet, UNetConfig};
use velprior_physics::ModelShape;
use velprior_posterior::dps::{DpsConfig, Guidance, dps, dps_gradient};
use velprior_posterior::tensors::to_batch;
use velprior_posterior::{NoObserver, Problem};

/// DPS (approximate guidance, ζ = 0.03, 100 steps, 2000 samples) on a 4-D linear-Gaussian
/// problem whose exact posterior is known. DPS is not an exact sampler; the figures it makes
/// here (stated in the README) are: largest mean error ≈ 0.99 posterior std (the prior mean is
/// 1.07 std away: DPS barely moves towards the data at this ζ) and total variance ≈ 0.76 of the
/// exact one. ζ = 0.1 gives 2.7 std / 0.94, ζ = 0.3 gives 9.0 std / 1.00: the residual-normalised
/// step does not shrink as the fit improves, so a larger ζ overshoots.
#[test]
fn dps_moves_from_the_prior_towards_the_exact_gaussian_posterior() {
    let case = GaussianProblem::new();
    let (pm, pc) = &case.posterior;
    let (prior, cov0) = (&case.prior, &case.prior.cov);
    let problem = case.problem();
    let oracle = case.oracle();
    let d = 4;
    let cfg = DpsConfig {
        steps: 100,
        zeta: 0.03,
        guidance: Guidance::Approximate,
        likelihood_steps: 1,
        samples: 2000,
        clip_x0: false,
    };
    let schedule = Schedule::cosine(1000).unwrap();
    let samples = dps(&oracle, &problem, &schedule, &cfg, 5, &mut NoObserver).unwrap();
    let (m, cv) = moments(&samples, d);
    let mean_bias = mean_error(&m, pm, pc);
    let var_ratio = cv.trace() / pc.trace();
    let prior_gap = mean_error(&prior.mean, pm, pc);
    eprintln!(
        "DPS: mean bias {mean_bias:.3} posterior std (prior mean is {prior_gap:.3} away), variance ratio {var_ratio:.3}"
    );
    // The data must move the samples from the prior towards the exact posterior: their mean
    // no farther from the posterior mean than the prior mean is, and their total variance
    // nearer the posterior's than the prior's (below the midpoint of the two closed-form
    // traces). Catches DPS that ignores the data (a sampler of the prior: variance ≈ the
    // prior's) or steps away from it.
    assert!(
        mean_bias < prior_gap,
        "DPS mean {mean_bias:.3} posterior std from the posterior mean, the prior mean {prior_gap:.3}"
    );
    let midpoint = 0.5 * (pc.trace() + cov0.trace());
    assert!(
        cv.trace() < midpoint,
        "DPS total variance {} not nearer the posterior's {} than the prior's {}",
        cv.trace(),
        pc.trace(),
        cov0.trace()
    );
}

/// ∇_{x_t} ‖r(x̂_0(x_t))‖² through a (random, seeded) UNet against a central difference along a
/// random direction; also shows the 1/√ᾱ approximation differs from it.
#[test]
fn dps_network_gradient_matches_finite_differences() {
    let shape = [8, 8];
    let cfg = UNetConfig {
        base_channels: 8,
        channel_mult: vec![1, 2],
        res_blocks_per_level: 1,
        groups: 4,
        time_sinusoid_dim: 8,
        time_embed_dim: 16,
        ..UNetConfig::default()
    };
    let (unet, _vars) = UNet::new_seeded(&cfg, 3, &Device::Cpu).unwrap();
    let model = UNetDenoiser::new(unet, &DiffusionConfig::default());
    let op = MatrixOperator {
        shape: ModelShape::new(8, 8),
        a: random_matrix(20, 64, 4) / 1000.0,
    };
    let observed = vec![0.5f32; 20];
    let problem = problem_1000_to_3000(&op, &observed, 1.0);
    let lvl = NoiseLevel {
        alpha_bar: 0.6,
        t: 0.4,
    };
    let x: Vec<f32> = (0..64)
        .map(|i| ((i * 37 % 17) as f32 / 8.5 - 1.0) * 0.7)
        .collect();
    let dir: Vec<f32> = (0..64).map(|i| (i * 53 % 29) as f32 / 14.5 - 1.0).collect();
    let phi = |x: &[f32]| {
        let (_, _, fs, _) = dps_gradient(
            &model,
            &problem,
            &to_batch(x, 1, shape, &Device::Cpu).unwrap(),
            lvl,
            Guidance::Approximate,
            false,
        )
        .unwrap();
        2.0 * fs[0]
    };
    let (_, _, _, g) = dps_gradient(
        &model,
        &problem,
        &to_batch(&x, 1, shape, &Device::Cpu).unwrap(),
        lvl,
        Guidance::Network,
        false,
    )
    .unwrap();
    let g = g.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    let analytic: f64 = g.iter().zip(&dir).map(|(a, b)| f64::from(a * b)).sum();
    let h = 1e-2f32;
    let plus: Vec<f32> = x.iter().zip(&dir).map(|(x, d)| x + h * d).collect();
    let minus: Vec<f32> = x.iter().zip(&dir).map(|(x, d)| x - h * d).collect();
    let numeric = (phi(&plus) - phi(&minus)) / (2.0 * f64::from(h));
    let rel = (analytic - numeric).abs() / numeric.abs().max(1e-12);
    eprintln!(
        "DPS network gradient: analytic {analytic:.6}, finite difference {numeric:.6}, rel {rel:.2e}"
    );
    assert!(rel < 1e-2, "network gradient off by {rel:.2e}");
    let (_, _, _, ga) = dps_gradient(
        &model,
        &problem,
        &to_batch(&x, 1, shape, &Device::Cpu).unwrap(),
        lvl,
        Guidance::Approximate,
        false,
    )
    .unwrap();
    let ga = ga.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    let approx: f64 = ga.iter().zip(&dir).map(|(a, b)| f64::from(a * b)).sum();
    assert!(
        (approx - numeric).abs() > 1e-3 * numeric.abs(),
        "the approximation should differ from the exact gradient"
    );
}

/// The network guidance refuses a denoiser it cannot differentiate (an analytic oracle).
#[test]
fn network_guidance_needs_a_differentiable_denoiser() {
    let op = MatrixOperator {
        shape: ModelShape::new(2, 2),
        a: random_matrix(3, 4, 1),
    };
    let observed = vec![0.0f32; 3];
    let problem =
        Problem::new(&op, &observed, Normalisation::new(-1.0, 1.0).unwrap(), 1.0).unwrap();
    let oracle = GaussianOracle::isotropic(&[0.0; 4], 0.5).unwrap();
    let x = to_batch(&[0.1, 0.2, 0.3, 0.4], 1, [2, 2], &Device::Cpu).unwrap();
    let lvl = NoiseLevel {
        alpha_bar: 0.5,
        t: 0.5,
    };
    let err = dps_gradient(&oracle, &problem, &x, lvl, Guidance::Network, false).unwrap_err();
    assert!(
        err.to_string().contains("guidance = \"approximate\""),
        "{err}"
    );
}
