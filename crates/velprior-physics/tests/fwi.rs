//! FWI driver: configs parse, the smoothed start matches RED-DiffEq's, and a few iterations of
//! Adam and L-BFGS reduce the misfit and improve the model on a small synthetic case.

mod common;
use common::read_npz_member;
use velprior_physics::fwi::smooth::gaussian_smooth;
use velprior_physics::fwi::{
    AcquisitionConfig, FwiFiles, OptimizerConfig, RegularisationConfig, Stage, WaveletConfig,
};
use velprior_physics::{Boundary, FwiConfig, ModelShape, SolverConfig, Storage, forward, run_fwi};

#[test]
fn marmousi_configs_parse() {
    for name in ["tikhonov", "tv"] {
        let path = format!(
            "{}/../../configs/fwi-marmousi-{name}.toml",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read_to_string(&path).unwrap();
        let cfg: FwiConfig = toml::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert_eq!(cfg.iterations, 300);
        assert!(matches!(cfg.optimizer, OptimizerConfig::Adam { lr, .. } if lr == 0.03));
        assert_eq!(cfg.smooth_sigma, 20.0);
        let unknown = text.replace("iterations = 300", "iterations = 300\nitrations = 3");
        assert!(toml::from_str::<FwiConfig>(&unknown).is_err());
    }
}

#[test]
fn smoothed_start_matches_red_diffeq_initial_model() {
    let f = "marmousi-70x190/red-diffeq-result.npz";
    let (truth, _) = read_npz_member(f, "ground_truth.npy");
    let (init, _) = read_npz_member(f, "initial_velocity.npy");
    let s = gaussian_smooth(&truth, ModelShape::new(70, 190), 20.0);
    let err = s
        .iter()
        .zip(&init)
        .map(|(v, x)| ((v - 1500.0) / 3000.0 * 2.0 - 1.0 - x).abs())
        .fold(0.0f32, f32::max);
    assert!(err < 1e-5, "max difference {err}");
}

fn small_case(optimizer: OptimizerConfig, multiscale: Vec<Stage>) {
    let shape = ModelShape::new(24, 40);
    let truth: Vec<f32> = (0..shape.len())
        .map(|i| {
            let (iz, ix) = ((i / 40) as f32, (i % 40) as f32);
            let r2 = ((iz - 14.0).powi(2) + (ix - 20.0).powi(2)) / 16.0;
            2000.0 + 30.0 * iz + 400.0 * (-r2).exp()
        })
        .collect();
    let cfg = FwiConfig {
        files: FwiFiles {
            observed: String::new(),
            true_model: None,
            initial_model: None,
        },
        solver: SolverConfig {
            dx: 10.0,
            dt: 1e-3,
            order: 4,
            freq: 15.0,
            boundary: Boundary::Cpml {
                width: 10,
                reflection: 1e-3,
                max_velocity: Some(3500.0),
            },
            free_surface: false,
        },
        acquisition: AcquisitionConfig {
            n_sources: 3,
            depth: 1,
            nt: 400,
            wavelet: WaveletConfig::Ricker {
                freq: 15.0,
                delay: 0.08,
            },
        },
        optimizer,
        iterations: 8,
        misfit: velprior_physics::Misfit::L2,
        regularisation: RegularisationConfig {
            tikhonov: 1e-4,
            tv: 1e-4,
        },
        smooth_sigma: 4.0,
        vmin: 1500.0,
        vmax: 4500.0,
        multiscale,
        storage: Storage::Checkpointed { every: 20 },
    };
    let acq = cfg.acquisition.build(40, 1e-3);
    let d_obs = forward(&truth, shape, &cfg.solver, &acq).unwrap();
    // Start from the background without the anomaly.
    let start: Vec<f32> = (0..shape.len())
        .map(|i| 2000.0 + 30.0 * (i / 40) as f32)
        .collect();
    let mut seen = 0;
    let r = run_fwi(
        &cfg,
        shape,
        &d_obs,
        Some(&truth),
        Some(&start),
        &mut |_, _| seen += 1,
    )
    .unwrap();
    assert_eq!(r.log.len(), cfg.iterations);
    assert_eq!(seen, cfg.iterations);
    let m0 = velprior_physics::velocity_metrics(&r.start, &truth, shape).unwrap();
    let last = r.log.last().unwrap();
    println!(
        "{:?}: rmse {:.4} -> {:.4}",
        cfg.optimizer,
        m0.rmse,
        last.metrics.unwrap().rmse
    );
    for stage in r.log.chunk_by(|a, b| a.cutoff_hz == b.cutoff_hz) {
        let (a, b) = (&stage[0], stage.last().unwrap());
        println!(
            "  stage {:?}: misfit {:.3e} -> {:.3e}",
            a.cutoff_hz, a.misfit, b.misfit
        );
        assert!(b.misfit < 0.8 * a.misfit);
    }
    assert!(last.metrics.unwrap().rmse < m0.rmse);
    // Known answer: the truth is the start plus one fast Gaussian anomaly of 1/e radius 4 cells
    // centred at (14, 20), so the update m − start must peak there, positive, and point along
    // truth − start. Catches a gradient of the wrong sign (negative peak, negative
    // correlation), a transposed or shifted gradient (peak elsewhere), and source/receiver
    // footprints that swamp the update.
    let update: Vec<f32> = r.model.iter().zip(&start).map(|(m, s)| m - s).collect();
    let peak = (0..update.len())
        .max_by(|&a, &b| update[a].abs().total_cmp(&update[b].abs()))
        .unwrap();
    let (pz, px) = ((peak / 40) as f32, (peak % 40) as f32);
    let anomaly: Vec<f32> = truth.iter().zip(&start).map(|(t, s)| t - s).collect();
    let dot = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| f64::from(x * y)).sum::<f64>();
    let correlation =
        dot(&update, &anomaly) / (dot(&update, &update) * dot(&anomaly, &anomaly)).sqrt();
    println!(
        "  update peaks at ({pz}, {px}) = {:.1} m/s; correlation with the anomaly {correlation:.3}",
        update[peak]
    );
    assert!(
        (pz - 14.0).hypot(px - 20.0) <= 4.0,
        "update peaks at ({pz}, {px})"
    );
    assert!(update[peak] > 0.0 && correlation > 0.0);
    assert!(r.model.iter().all(|v| (1500.0..=4500.0).contains(v)));
}

#[test]
fn adam_fwi_with_and_without_multiscale_reduces_misfit_and_error() {
    small_case(
        OptimizerConfig::Adam {
            lr: 0.01,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
        },
        vec![],
    );
    small_case(
        OptimizerConfig::Adam {
            lr: 0.01,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
        },
        vec![
            Stage {
                cutoff_hz: 12.0,
                iterations: 4,
            },
            Stage {
                cutoff_hz: 40.0,
                iterations: 4,
            },
        ],
    );
}

#[test]
fn lbfgs_fwi_reduces_misfit_and_error() {
    small_case(
        OptimizerConfig::Lbfgs {
            history: 5,
            first_step: 0.02,
        },
        vec![],
    );
}
