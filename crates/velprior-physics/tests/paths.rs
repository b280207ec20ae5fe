//! The two forward paths agree: one thread per shot (fused C-PML row pass with the active
//! window) and threads sharing the rows of one shot (separate C-PML pass, whole grid).

use velprior_physics::{Acquisition, Boundary, ModelShape, Shot, SolverConfig, forward, ricker};

#[test]
fn one_thread_per_shot_equals_threads_within_a_shot() {
    let shape = ModelShape::new(30, 50);
    let v: Vec<f32> = (0..shape.len())
        .map(|k| 1600.0 + 40.0 * (k / 50) as f32 + 250.0 * ((k % 50) as f32 * 0.2).cos())
        .collect();
    let shot = Shot {
        source: (2, 17),
        receivers: (0..50).map(|j| (1, j)).chain([(29, 3), (15, 49)]).collect(),
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    for (order, free_surface) in [(4, false), (8, false), (4, true)] {
        let cfg = SolverConfig {
            dx: 10.0,
            dt: 1e-3,
            order,
            freq: 15.0,
            boundary: Boundary::Cpml {
                width: 12,
                reflection: 1e-3,
                max_velocity: None,
            },
            free_surface,
        };
        let acq = |shots: usize| Acquisition {
            shots: vec![shot.clone(); shots],
            wavelet: ricker(15.0, 1e-3, 500, 0.08),
        };
        // With two threads, one shot is shared by both threads; two shots get one each.
        let (within, per_shot) = pool.install(|| {
            (
                forward(&v, shape, &cfg, &acq(1)).unwrap(),
                forward(&v, shape, &cfg, &acq(2)).unwrap(),
            )
        });
        let (a, b) = (&per_shot[..within.len()], &within[..]);
        assert_eq!(a, &per_shot[within.len()..], "the two shots differ");
        let num: f64 = a.iter().zip(b).map(|(x, y)| f64::from(x - y).powi(2)).sum();
        let den: f64 = b.iter().map(|y| f64::from(*y).powi(2)).sum();
        let rel = (num / den).sqrt();
        println!("order {order}, free surface {free_surface}: relative L2 difference {rel:.2e}");
        assert!(
            den > 0.0 && rel < 1e-5,
            "order {order}: paths differ by {rel}"
        );
    }
}
