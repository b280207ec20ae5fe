//! Seismic data written as HDF5 read back with the hdf5 crate: the values in (model, shot,
//! time, receiver) order and the survey's attributes. Catches a transposed layout, lost
//! attributes, or a file left behind by a refused write.

use velprior_data::{SeismicMeta, write_seismic_h5};

#[test]
fn seismic_data_round_trip_through_hdf5() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("d.h5");
    let shape = [2, 3, 5, 4];
    let values: Vec<f32> = (0..120).map(|i| i as f32 * 0.5 - 7.0).collect();
    let meta = SeismicMeta {
        dt: 1e-3,
        dx: 10.0,
        source: "test",
    };
    write_seismic_h5(&path, shape, &values, &meta).unwrap();
    let file = hdf5::File::open(&path).unwrap();
    let data = file.dataset("data").unwrap();
    assert_eq!(data.shape(), vec![2, 3, 5, 4]);
    let back: Vec<f32> = data.read_raw().unwrap();
    assert_eq!(back, values);
    // Element (model 1, shot 2, time 3, receiver 1) sits at its row-major index.
    let a = data.read::<f32, ndarray::Ix4>().unwrap();
    let (m, shot, t, r) = (1, 2, 3, 1);
    assert_eq!(a[[m, shot, t, r]], values[((m * 3 + shot) * 5 + t) * 4 + r]);
    let dt: f64 = data.attr("dt").unwrap().read_scalar().unwrap();
    let dx: f64 = data.attr("dx").unwrap().read_scalar().unwrap();
    assert_eq!((dt, dx), (1e-3, 10.0));

    let refused = dir.path().join("bad.h5");
    let e = write_seismic_h5(&refused, shape, &values[..119], &meta).unwrap_err();
    assert!(e.to_string().contains("do not fill shape"), "{e}");
    assert!(!refused.exists());
}
