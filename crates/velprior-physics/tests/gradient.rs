//! Adjoint-state gradient against finite differences of the misfit along random directions,
//! agreement of the wavefield storage modes, and the linearised operator's Jᵀw (forward
//! wavefields kept) against finite differences of F.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use velprior_physics::{
    AcousticOperator, Acquisition, Boundary, ForwardOperator, GradientOptions, Linearised, Misfit,
    ModelShape, SolverConfig, Storage, StoredLinearisation, forward, linearise,
    misfit_and_gradient, ricker,
};

const NZ: usize = 30;
const NX: usize = 40;

fn shape() -> ModelShape {
    ModelShape::new(NZ, NX)
}

/// Layered model with a Gaussian anomaly (true) and its smooth background (start), m/s.
fn models() -> (Vec<f32>, Vec<f32>) {
    let mut t = vec![0.0f32; NZ * NX];
    let mut s = vec![0.0f32; NZ * NX];
    for iz in 0..NZ {
        for ix in 0..NX {
            let bg = 1800.0 + 25.0 * iz as f32;
            let r2 = ((iz as f32 - 18.0).powi(2) + (ix as f32 - 20.0).powi(2)) / 20.0;
            t[iz * NX + ix] = bg + 300.0 * (-r2).exp() + if iz > 22 { 200.0 } else { 0.0 };
            s[iz * NX + ix] = bg;
        }
    }
    (t, s)
}

/// Smooth random direction (sum of random Gaussian bumps), unit max norm.
fn direction(seed: u64) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut d = vec![0.0f32; NZ * NX];
    for _ in 0..6 {
        let (cz, cx, a): (f32, f32, f32) = (
            rng.random_range(0.0..NZ as f32),
            rng.random_range(0.0..NX as f32),
            rng.random_range(-1.0..1.0),
        );
        for iz in 0..NZ {
            for ix in 0..NX {
                d[iz * NX + ix] +=
                    a * (-((iz as f32 - cz).powi(2) + (ix as f32 - cx).powi(2)) / 18.0).exp();
            }
        }
    }
    let m = d.iter().fold(0.0f32, |m, x| m.max(x.abs()));
    d.iter().map(|x| x / m).collect()
}

fn acquisition(nt: usize) -> Acquisition {
    let mut acq = Acquisition::surface(NX, 2, 1, ricker(15.0, 1e-3, nt, 0.08));
    // one shot at depth to exercise sources and receivers anywhere in the grid
    acq.shots[1].source = (15, 3);
    acq.shots[1].receivers = (0..NZ).map(|iz| (iz, NX - 2)).collect();
    acq
}

/// Central finite difference of the misfit along a direction vs the adjoint gradient.
fn fd_check(cfg: &SolverConfig, misfit: Misfit, h: f32, tol: f64, label: &str) {
    let (vt, v0) = models();
    let acq = acquisition(350);
    let mut d_obs = forward(&vt, shape(), cfg, &acq).unwrap();
    if misfit == Misfit::L1 {
        // L1 is not differentiable where d = d_obs exactly (e.g. the identical direct wave):
        // add noise so that the finite difference does not straddle kinks.
        let amp = 0.05 * d_obs.iter().fold(0.0f32, |m, x| m.max(x.abs()));
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        d_obs
            .iter_mut()
            .for_each(|x| *x += amp * rng.random_range(-1.0f32..1.0));
    }
    let opts = GradientOptions {
        misfit,
        storage: Storage::All,
    };
    let (_, g, _) = misfit_and_gradient(&v0, shape(), cfg, &acq, &d_obs, opts).unwrap();
    for seed in 0..3 {
        let dir = direction(seed);
        let vp: Vec<f32> = v0.iter().zip(&dir).map(|(v, d)| v + h * d).collect();
        let vm: Vec<f32> = v0.iter().zip(&dir).map(|(v, d)| v - h * d).collect();
        let (fp, _, _) = misfit_and_gradient(&vp, shape(), cfg, &acq, &d_obs, opts).unwrap();
        let (fm, _, _) = misfit_and_gradient(&vm, shape(), cfg, &acq, &d_obs, opts).unwrap();
        let fd = (fp - fm) / (2.0 * f64::from(h));
        let an: f64 = g
            .iter()
            .zip(&dir)
            .map(|(a, b)| f64::from(*a) * f64::from(*b))
            .sum();
        let e = (fd - an).abs() / fd.abs();
        println!(
            "{label}, direction {seed}: finite difference {fd:.6e}, adjoint {an:.6e}, relative error {e:.2e}"
        );
        assert!(e < tol, "{label}: relative error {e} ≥ {tol}");
    }
}

fn cpml(order: usize, free_surface: bool) -> SolverConfig {
    SolverConfig {
        dx: 10.0,
        dt: 1e-3,
        order,
        freq: 15.0,
        boundary: Boundary::Cpml {
            width: 10,
            reflection: 1e-3,
            max_velocity: Some(2400.0),
        },
        free_surface,
    }
}

#[test]
fn gradient_matches_finite_differences_cpml_4th_order_l2() {
    fd_check(
        &cpml(4, false),
        Misfit::L2,
        2.0,
        1e-2,
        "C-PML, 4th order, L2",
    );
}

#[test]
fn gradient_matches_finite_differences_cpml_8th_order_free_surface_l2() {
    fd_check(
        &cpml(8, true),
        Misfit::L2,
        2.0,
        1e-2,
        "C-PML, 8th order, free surface, L2",
    );
}

#[test]
fn gradient_matches_finite_differences_cpml_l1() {
    fd_check(
        &cpml(4, false),
        Misfit::L1,
        2.0,
        1e-2,
        "C-PML, 4th order, L1",
    );
}

#[test]
fn gradient_matches_finite_differences_damping_border() {
    let cfg = SolverConfig {
        boundary: Boundary::Damping {
            width: 20,
            reference_velocity: Some(1800.0),
        },
        ..cpml(4, false)
    };
    fd_check(&cfg, Misfit::L2, 2.0, 1e-2, "damping border, 4th order, L2");
}

#[test]
fn storage_modes_give_the_same_gradient() {
    let (vt, v0) = models();
    let acq = acquisition(200);
    for cfg in [
        cpml(4, false),
        SolverConfig {
            boundary: Boundary::Damping {
                width: 20,
                reference_velocity: None,
            },
            ..cpml(8, true)
        },
    ] {
        let d_obs = forward(&vt, shape(), &cfg, &acq).unwrap();
        let run = |storage| {
            misfit_and_gradient(
                &v0,
                shape(),
                &cfg,
                &acq,
                &d_obs,
                GradientOptions {
                    misfit: Misfit::L2,
                    storage,
                },
            )
            .unwrap()
        };
        let (fa, ga, da) = run(Storage::All);
        for storage in [
            Storage::Checkpointed { every: 7 },
            Storage::Checkpointed { every: 200 },
            Storage::Auto { budget_mib: 1 },
        ] {
            let (fc, gc, dc) = run(storage);
            assert_eq!(fa, fc);
            assert_eq!(da, dc);
            assert_eq!(ga, gc, "{storage:?} differs from All");
        }
        assert!(ga.iter().any(|x| *x != 0.0));
    }
}

#[test]
fn operator_misfit_alone_equals_the_misfit_of_the_gradient_pass() {
    let (vt, v0) = models();
    let cfg = cpml(4, false);
    let acq = acquisition(200);
    let d_obs = forward(&vt, shape(), &cfg, &acq).unwrap();
    for misfit in [Misfit::L2, Misfit::L1] {
        let op = AcousticOperator {
            shape: shape(),
            config: cfg.clone(),
            acquisition: acq.clone(),
            gradient: GradientOptions {
                misfit,
                storage: Storage::All,
            },
        };
        let (f, _) = op.misfit_and_gradient(&v0, &d_obs).unwrap();
        let alone = op.misfit(&v0, &d_obs).unwrap();
        assert!(f > 0.0);
        assert_eq!(alone, f, "{misfit:?}");
    }
}

fn operator(cfg: SolverConfig, acquisition: Acquisition, storage: Storage) -> AcousticOperator {
    AcousticOperator {
        shape: shape(),
        config: cfg,
        acquisition,
        gradient: GradientOptions {
            misfit: Misfit::L2,
            storage,
        },
    }
}

fn dot(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(a, b)| f64::from(*a) * f64::from(*b))
        .sum()
}

/// ⟨u, Jᵀw⟩ from the kept wavefields against ⟨(F(m + h u) − F(m − h u)) / 2h, w⟩, for two
/// shots with different receiver lines, each product twice (the kept wavefields must survive a
/// product). Catches an adjoint pass run forward in time, one shot's adjoint source cut from
/// another's data, and wavefields consumed by the first product.
#[test]
fn kept_wavefields_give_the_adjoint_of_the_jacobian() {
    let (_, v0) = models();
    let cfg = cpml(4, false);
    let acq = acquisition(300);
    let op = operator(cfg.clone(), acq.clone(), Storage::All);
    let lin = StoredLinearisation::new(&v0, shape(), &cfg, &acq, Storage::All)
        .unwrap()
        .expect("all wavefields fit the default budget");
    assert_eq!(lin.data(), &forward(&v0, shape(), &cfg, &acq).unwrap()[..]);
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let h = 2.0f32;
    for seed in 0..2 {
        let u = direction(seed);
        let w: Vec<f32> = (0..op.data_len())
            .map(|_| rng.random_range(-1.0f32..1.0))
            .collect();
        let shifted = |sign: f32| -> Vec<f32> {
            let v: Vec<f32> = v0.iter().zip(&u).map(|(v, u)| v + sign * h * u).collect();
            op.forward(&v).unwrap()
        };
        let (fp, fm) = (shifted(1.0), shifted(-1.0));
        let ju: Vec<f32> = fp
            .iter()
            .zip(&fm)
            .map(|(p, m)| (p - m) / (2.0 * h))
            .collect();
        let expected = dot(&ju, &w);
        for pass in 0..2 {
            let got = dot(&u, &lin.adjoint(&w).unwrap());
            let e = (got - expected).abs() / expected.abs();
            println!(
                "direction {seed}, product {pass}: <Ju, w> {expected:.6e}, <u, J^T w> {got:.6e}, relative error {e:.2e}"
            );
            assert!(e < 1e-2, "relative error {e}");
        }
    }
}

/// Without room for every shot's wavefields the operator falls back to products through the
/// misfit gradient (two solves each), which must give the same Jᵀw; an L1 operator is refused.
/// Catches a budget check that keeps wavefields regardless, and a fallback that passes F(m) − w
/// where the gradient takes d_obs (the sign of Jᵀw).
#[test]
fn products_through_the_gradient_agree_and_l1_is_refused() {
    let (_, v0) = models();
    let cfg = cpml(4, false);
    let acq = acquisition(200);
    let kept = operator(cfg.clone(), acq.clone(), Storage::All);
    let small = operator(cfg.clone(), acq.clone(), Storage::Auto { budget_mib: 1 });
    assert!(small.linearise(&v0).unwrap().is_none());
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let w: Vec<f32> = (0..kept.data_len())
        .map(|_| rng.random_range(-1.0f32..1.0))
        .collect();
    let a = linearise(&kept, &v0).unwrap().adjoint(&w).unwrap();
    let b = linearise(&small, &v0).unwrap().adjoint(&w).unwrap();
    let scale = a.iter().fold(0.0f32, |m, x| m.max(x.abs()));
    let worst = a
        .iter()
        .zip(&b)
        .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
    assert!(
        scale > 0.0 && worst <= 1e-4 * scale,
        "worst {worst} of {scale}"
    );
    let mut l1 = kept.clone();
    l1.gradient.misfit = Misfit::L1;
    let err = linearise(&l1, &v0).err().expect("L1 refused").to_string();
    assert!(err.contains("L2"), "{err}");
}
