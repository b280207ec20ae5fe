//! Bad input is an `Err` with a one-line message, never a panic.

use velprior_physics::{Acquisition, ModelShape, PhysicsError, SolverConfig, forward, ricker};

fn setup() -> (Vec<f32>, ModelShape, SolverConfig, Acquisition) {
    let s = ModelShape::new(10, 12);
    (
        vec![2000.0; s.len()],
        s,
        SolverConfig::cpml(10.0, 1e-3, 15.0, 5),
        Acquisition::surface(12, 2, 1, ricker(15.0, 1e-3, 20, 0.08)),
    )
}

#[test]
fn unstable_dt_is_refused_with_the_largest_stable_dt() {
    let (mut v, s, mut cfg, acq) = setup();
    v[5] = 6000.0;
    cfg.dt = 2e-3;
    let e = forward(&v, s, &cfg, &acq).unwrap_err();
    let dt_max = 2.0 * 10.0 / (6000.0 * (32.0f32 / 3.0).sqrt());
    match &e {
        PhysicsError::Unstable { dt_max: d, .. } => assert!((d - dt_max).abs() < 1e-8),
        other => panic!("expected Unstable, got {other:?}"),
    }
    let msg = e.to_string();
    assert!(
        msg.contains("largest stable dt") && !msg.contains('\n'),
        "{msg}"
    );
    cfg.dt = dt_max * 0.99;
    assert!(forward(&v, s, &cfg, &acq).is_ok());
}

#[test]
fn bad_models_and_geometry_are_errors() {
    let (v, s, cfg, mut acq) = setup();
    let mut bad = v.clone();
    bad[7] = f32::NAN;
    assert!(matches!(
        forward(&bad, s, &cfg, &acq),
        Err(PhysicsError::BadVelocity { iz: 0, ix: 7, .. })
    ));
    bad[7] = -1.0;
    assert!(matches!(
        forward(&bad, s, &cfg, &acq),
        Err(PhysicsError::BadVelocity { .. })
    ));
    assert!(matches!(
        forward(&v[1..], s, &cfg, &acq),
        Err(PhysicsError::Shape { .. })
    ));
    let mut c8 = cfg.clone();
    c8.order = 6;
    assert!(matches!(
        forward(&v, s, &c8, &acq),
        Err(PhysicsError::Parameter { .. })
    ));
    acq.shots[0].source = (10, 0);
    let e = forward(&v, s, &cfg, &acq).unwrap_err();
    assert!(matches!(e, PhysicsError::OutsideGrid { .. }), "{e}");
}
