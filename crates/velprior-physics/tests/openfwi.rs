//! The OpenFWI preset reproduces the reference seismic data from its velocity model.

mod common;
use common::{read_npy, rel_l2};
use velprior_physics::{Acquisition, ModelShape, SolverConfig, forward, ricker_openfwi};

#[test]
fn openfwi_preset_reproduces_curvefault_sample() {
    let (v, vs) = read_npy("openfwi-curvefault-sample/velocity.npy");
    let (d_ref, ds) = read_npy("openfwi-curvefault-sample/seismic.npy");
    assert_eq!(vs, vec![1, 1, 70, 70]);
    assert_eq!(ds, vec![1, 5, 1000, 70]);
    let cfg = SolverConfig::openfwi();
    let acq = Acquisition::surface(70, 5, 1, ricker_openfwi(15.0, 1e-3, 1000));
    let d = forward(&v, ModelShape::new(70, 70), &cfg, &acq).unwrap();
    let err = rel_l2(&d, &d_ref);
    println!("OpenFWI curvefault relative L2 error: {err:.3e}");
    assert!(err <= 1e-3, "relative L2 error {err}");
}

#[test]
fn openfwi_preset_reproduces_marmousi_data() {
    // velocity.npy is Fortran-ordered (1, 1, 70, 190); read_npy returns C order.
    let (v, vs) = read_npy("marmousi-70x190/velocity.npy");
    let (d_ref, ds) = read_npy("marmousi-70x190/seismic.npy");
    assert_eq!(vs, vec![1, 1, 70, 190]);
    assert_eq!(ds, vec![1, 5, 1000, 190]);
    let cfg = SolverConfig::openfwi();
    let acq = Acquisition::surface(190, 5, 1, ricker_openfwi(15.0, 1e-3, 1000));
    let d = forward(&v, ModelShape::new(70, 190), &cfg, &acq).unwrap();
    let err = rel_l2(&d, &d_ref);
    println!("OpenFWI preset on Marmousi 70x190 relative L2 error: {err:.3e}");
    assert!(err <= 1e-3, "relative L2 error {err}");
}
