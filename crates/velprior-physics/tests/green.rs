//! Homogeneous medium against the analytic 2-D Green's function, and C-PML reflections.

use velprior_physics::{Acquisition, Boundary, ModelShape, Shot, SolverConfig, forward, ricker};

const V: f32 = 2000.0;
const DX: f32 = 10.0;
const DT: f32 = 1e-3;
const F: f32 = 15.0;
const DELAY: f32 = 0.1;

/// Ricker at continuous time t (s).
fn w(t: f64) -> f64 {
    let a = std::f64::consts::PI * f64::from(F) * (t - f64::from(DELAY));
    (1.0 - 2.0 * a * a) * (-a * a).exp()
}

/// Pressure at distance r (m), time t (s) from a point source of strength dx²·w(t) in
/// (1/v²)∂ₜₜp − ∇²p = dx²·w(t)δ(x): p = dx²/(2π) ∫ w(t − (r/v)cosh u) du, u ∈ [0, acosh(tv/r)].
fn analytic(r: f64, t: f64) -> f64 {
    let v = f64::from(V);
    if t * v <= r {
        return 0.0;
    }
    let umax = (t * v / r).acosh();
    let n = 4000;
    let h = umax / n as f64;
    // Simpson's rule.
    let mut s = w(t) * 0.0 + w(t - r / v) + w(t - r / v * umax.cosh());
    for k in 1..n {
        let u = k as f64 * h;
        s += if k % 2 == 1 { 4.0 } else { 2.0 } * w(t - r / v * u.cosh());
    }
    f64::from(DX * DX) / (2.0 * std::f64::consts::PI) * s * h / 3.0
}

fn rel(a: &[f64], b: &[f64]) -> f64 {
    let n: f64 = a.iter().zip(b).map(|(x, y)| (x - y).powi(2)).sum();
    let d: f64 = b.iter().map(|y| y * y).sum();
    (n / d).sqrt()
}

/// Model a homogeneous (n, n) grid, source at the centre, receivers at the given offsets.
fn run(
    n: usize,
    order: usize,
    boundary: Boundary,
    nt: usize,
    offsets: &[(isize, isize)],
) -> Vec<f32> {
    let c = (n / 2) as isize;
    let shot = Shot {
        source: (c as usize, c as usize),
        receivers: offsets
            .iter()
            .map(|&(dz, dx)| ((c + dz) as usize, (c + dx) as usize))
            .collect(),
    };
    let acq = Acquisition {
        shots: vec![shot],
        wavelet: ricker(F, DT, nt, DELAY),
    };
    let cfg = SolverConfig {
        dx: DX,
        dt: DT,
        order,
        freq: F,
        boundary,
        free_surface: false,
    };
    forward(&vec![V; n * n], ModelShape::new(n, n), &cfg, &acq).unwrap()
}

#[test]
fn homogeneous_medium_matches_analytic_greens_function() {
    // Receivers 30 cells (300 m) away along an axis and a diagonal; window 0..0.45 s ends
    // before any wave reflected at the model edge (≥ 90 cells of travel) could come back.
    let offs = [(0isize, 30isize), (21, 21), (-30, 0)];
    let nt = 450;
    for (order, tol) in [(4usize, 0.02f64), (8, 0.02)] {
        let d = run(
            121,
            order,
            Boundary::Cpml {
                width: 20,
                reflection: 1e-3,
                max_velocity: None,
            },
            nt,
            &offs,
        );
        for (k, &(dz, dxo)) in offs.iter().enumerate() {
            let r = f64::from(DX) * ((dz * dz + dxo * dxo) as f64).sqrt();
            // Sample n holds the field at t = (n + 1)·dt (injection of w[n] is the leapfrog
            // source term of the step that produces it).
            let num: Vec<f64> = (0..nt).map(|n| f64::from(d[n * offs.len() + k])).collect();
            let ana: Vec<f64> = (0..nt)
                .map(|n| analytic(r, (n + 1) as f64 * f64::from(DT)))
                .collect();
            let e = rel(&num, &ana);
            println!(
                "order {order}, receiver offset ({dz}, {dxo}) r = {r:.1} m: relative L2 error vs analytic {e:.3e}"
            );
            assert!(e < tol, "order {order}: error {e} ≥ {tol}");
        }
    }
}

#[test]
fn cpml_reflections_below_one_percent_of_direct_wave() {
    // Small model (61×61, C-PML 20) vs a model 320 cells wider (no reflection can return in
    // 0.6 s); receivers 5 cells from the model edge on the side, in the corner and at the
    // bottom. Reflection = max |small − big| / max |big| per receiver.
    let offs = [(0isize, 25isize), (25, 25), (25, 0), (0, 0)];
    let nt = 600;
    let small = run(
        61,
        4,
        Boundary::Cpml {
            width: 20,
            reflection: 1e-3,
            max_velocity: None,
        },
        nt,
        &offs,
    );
    let big = run(
        381,
        4,
        Boundary::Cpml {
            width: 20,
            reflection: 1e-3,
            max_velocity: None,
        },
        nt,
        &offs,
    );
    for k in 0..offs.len() {
        let s: Vec<f32> = (0..nt).map(|n| small[n * offs.len() + k]).collect();
        let b: Vec<f32> = (0..nt).map(|n| big[n * offs.len() + k]).collect();
        let peak = b.iter().fold(0.0f32, |m, x| m.max(x.abs()));
        let diff = s
            .iter()
            .zip(&b)
            .fold(0.0f32, |m, (x, y)| m.max((x - y).abs()));
        println!(
            "C-PML 20 cells, receiver offset {:?}: max reflection / direct = {:.3e}",
            offs[k],
            diff / peak
        );
        assert!(
            diff / peak < 0.01,
            "reflection {} of direct wave at {:?}",
            diff / peak,
            offs[k]
        );
    }
}

#[test]
fn cpml_is_stable_over_long_runs() {
    // 3000 steps, fast medium and strong thin C-PML: the field must decay, not grow.
    for (v, width, vmax) in [(4000.0f32, 10usize, 6000.0f32), (1500.0, 20, 4500.0)] {
        let n = 40;
        let shot = Shot {
            source: (20, 20),
            receivers: vec![(5, 5), (20, 35), (35, 20)],
        };
        let acq = Acquisition {
            shots: vec![shot],
            wavelet: ricker(F, DT, 3000, DELAY),
        };
        let cfg = SolverConfig {
            dx: DX,
            dt: DT,
            order: 8,
            freq: F,
            boundary: Boundary::Cpml {
                width,
                reflection: 1e-3,
                max_velocity: Some(vmax),
            },
            free_surface: true,
        };
        let d = forward(&vec![v; n * n], ModelShape::new(n, n), &cfg, &acq).unwrap();
        let peak = d.iter().fold(0.0f32, |m, x| m.max(x.abs()));
        let tail = d[2500 * 3..].iter().fold(0.0f32, |m, x| m.max(x.abs()));
        println!("v {v} width {width}: peak {peak:.3e}, max over the last 500 steps {tail:.3e}");
        assert!(
            tail < 1e-3 * peak,
            "late-time amplitude {tail} vs peak {peak}"
        );
    }
}
