//! The sampler entry point: seeds, configs, observers, schedules.

use candle_core::{Device, Tensor};
use velprior_diffusion::oracles::GaussianOracle;
use velprior_diffusion::samplers::{
    NoObserver, SamplerConfig, SamplerStep, sample, vp_sde_for, vp_time_grid,
};
use velprior_diffusion::{DiffusionError, Result};
use velprior_kernels::DdpmVariance;
use velprior_kernels::Schedule;

fn configs() -> Vec<SamplerConfig> {
    vec![
        SamplerConfig::Ddpm {
            steps: Some(20),
            variance: DdpmVariance::Posterior,
            clip: None,
        },
        SamplerConfig::Ddim {
            steps: 20,
            eta: 0.5,
            clip: Some([-1.0, 1.0]),
        },
        SamplerConfig::DpmSolver {
            steps: 20,
            clip: Some([-1.0, 1.0]),
            dynamic_threshold: None,
        },
        SamplerConfig::EulerMaruyama {
            steps: 20,
            t_min: 1e-3,
            clip: None,
        },
        SamplerConfig::Pc {
            steps: 10,
            snr: 0.1,
            corrector_steps: 2,
            t_min: 1e-3,
            clip: None,
        },
    ]
}

fn bits(t: &Tensor) -> Vec<u32> {
    t.flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap()
        .iter()
        .map(|v| v.to_bits())
        .collect()
}

#[test]
fn same_seed_same_bits_other_seed_other_samples() {
    let oracle = GaussianOracle::isotropic(&[0.1, -0.2, 0.3, 0.0], 0.5).unwrap();
    let schedule = Schedule::linear(1000).unwrap();
    for cfg in configs() {
        let run = |seed| {
            sample(
                &oracle,
                &cfg,
                &schedule,
                &[8, 1, 2, 2],
                &Device::Cpu,
                seed,
                &mut NoObserver,
            )
            .unwrap()
        };
        let (a, b, c) = (run(42), run(42), run(43));
        assert_eq!(bits(&a), bits(&b), "{cfg:?}: same seed, different bits");
        assert_ne!(bits(&a), bits(&c), "{cfg:?}: different seeds, same samples");
        assert_eq!(a.dims(), &[8, 1, 2, 2]);
    }
}

#[test]
fn observer_sees_every_step_and_can_abort() {
    let oracle = GaussianOracle::isotropic(&[0.0; 4], 1.0).unwrap();
    let schedule = Schedule::linear(1000).unwrap();
    for (cfg, want) in configs().into_iter().zip([20, 20, 20, 21, 11]) {
        let mut seen = Vec::new();
        let mut last_x0 = None;
        let mut obs = |s: &SamplerStep<'_>| -> Result<()> {
            seen.push((s.step, s.num_steps, s.level.t));
            last_x0 = Some(s.x0_hat.clone());
            Ok(())
        };
        let out = sample(
            &oracle,
            &cfg,
            &schedule,
            &[3, 1, 2, 2],
            &Device::Cpu,
            1,
            &mut obs,
        )
        .unwrap();
        assert_eq!(seen.len(), want, "{cfg:?}");
        assert!(
            seen.iter()
                .enumerate()
                .all(|(i, s)| s.0 == i && s.1 == want)
        );
        assert!(
            seen.windows(2).all(|w| w[0].2 > w[1].2),
            "{cfg:?}: t must decrease"
        );
        if let SamplerConfig::EulerMaruyama { .. } | SamplerConfig::DpmSolver { .. } = cfg {
            // The SDE samplers and DPM-Solver return the last x̂_0 the observer saw.
            assert_eq!(bits(&out), bits(&last_x0.unwrap()));
        }
        let mut abort = |s: &SamplerStep<'_>| -> Result<()> {
            if s.step == 2 {
                Err(DiffusionError::invalid("stop"))
            } else {
                Ok(())
            }
        };
        assert!(
            sample(
                &oracle,
                &cfg,
                &schedule,
                &[3, 1, 2, 2],
                &Device::Cpu,
                1,
                &mut abort
            )
            .is_err()
        );
    }
}

#[test]
fn discrete_levels_use_training_timesteps() {
    let oracle = GaussianOracle::isotropic(&[0.0; 4], 1.0).unwrap();
    let schedule = Schedule::linear(1000).unwrap();
    let mut levels = Vec::new();
    let mut obs = |s: &SamplerStep<'_>| -> Result<()> {
        levels.push(s.level);
        Ok(())
    };
    sample(
        &oracle,
        &SamplerConfig::ddim(4),
        &schedule,
        &[1, 1, 2, 2],
        &Device::Cpu,
        0,
        &mut obs,
    )
    .unwrap();
    // Uniform respacing keeps 0 and 999: t = (τ + 1)/T and ᾱ of the training schedule.
    let ts: Vec<f64> = levels.iter().map(|l| l.t).collect();
    assert_eq!(ts, vec![1.0, 667.0 / 1000.0, 334.0 / 1000.0, 1.0 / 1000.0]);
    let ab = schedule.tables_f64().alphas_cumprod[333];
    assert!((levels[2].alpha_bar - ab).abs() < 1e-14 * ab);
}

#[test]
fn configs_parse_from_toml_and_reject_mistakes() {
    let parse = |s: &str| toml::from_str::<SamplerConfig>(s);
    assert_eq!(
        parse("kind = \"euler-maruyama\"\nsteps = 500").unwrap(),
        SamplerConfig::EulerMaruyama {
            steps: 500,
            t_min: 1e-3,
            clip: None
        }
    );
    assert_eq!(
        parse("kind = \"pc\"\nsteps = 100").unwrap(),
        SamplerConfig::Pc {
            steps: 100,
            snr: 0.16,
            corrector_steps: 1,
            t_min: 1e-3,
            clip: None
        }
    );
    assert_eq!(
        parse("kind = \"ddpm\"\nvariance = \"beta\"\nclip = [-1.0, 1.0]").unwrap(),
        SamplerConfig::Ddpm {
            steps: None,
            variance: DdpmVariance::Beta,
            clip: Some([-1.0, 1.0])
        }
    );
    assert_eq!(
        parse("kind = \"ddim\"\nsteps = 50\neta = 0.0").unwrap(),
        SamplerConfig::ddim(50)
    );
    let err = parse("kind = \"ddim\"\nsteps = 50\nsnr = 0.1")
        .unwrap_err()
        .to_string();
    assert!(err.contains("snr"), "{err}");
    assert!(parse("kind = \"heun\"\nsteps = 5").is_err());
    for (cfg, key) in [
        (SamplerConfig::ddim(0), "steps"),
        (
            SamplerConfig::Ddim {
                steps: 5,
                eta: 1.5,
                clip: None,
            },
            "eta",
        ),
        (
            SamplerConfig::Ddim {
                steps: 5,
                eta: 0.0,
                clip: Some([1.0, -1.0]),
            },
            "clip",
        ),
        (
            SamplerConfig::EulerMaruyama {
                steps: 5,
                t_min: 0.0,
                clip: None,
            },
            "t_min",
        ),
        (
            SamplerConfig::Pc {
                steps: 5,
                snr: -1.0,
                corrector_steps: 1,
                t_min: 1e-3,
                clip: None,
            },
            "snr",
        ),
    ] {
        let e = cfg.validate().unwrap_err().to_string();
        assert!(e.contains(&format!("sampler.{key}")), "{e}");
    }
}

#[test]
fn sde_samplers_need_a_linear_schedule() {
    let sde = vp_sde_for(&Schedule::linear(1000).unwrap()).unwrap();
    assert!((sde.beta_min - 0.1).abs() < 1e-12 && (sde.beta_max - 20.0).abs() < 1e-12);
    let e = vp_sde_for(&Schedule::cosine(1000).unwrap())
        .unwrap_err()
        .to_string();
    assert!(e.contains("ddim"), "{e}");
    let oracle = GaussianOracle::isotropic(&[0.0; 4], 1.0).unwrap();
    let cfg = SamplerConfig::EulerMaruyama {
        steps: 5,
        t_min: 1e-3,
        clip: None,
    };
    assert!(
        sample(
            &oracle,
            &cfg,
            &Schedule::cosine(100).unwrap(),
            &[1, 1, 2, 2],
            &Device::Cpu,
            0,
            &mut NoObserver
        )
        .is_err()
    );
    let g = vp_time_grid(4, 0.2).unwrap();
    assert_eq!(g.len(), 5);
    assert!((g[0] - 1.0).abs() < 1e-15 && g[4] == 0.2 && (g[2] - 0.6).abs() < 1e-12);
}
