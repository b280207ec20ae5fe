//! Seismic data as HDF5 (written atomically): dataset `data`, f32 (N, shots, nt, receivers),
//! one model's shots per chunk, with the time step and grid spacing as attributes.

use std::path::Path;

use ndarray::ArrayView4;

use crate::atomic::AtomicPath;
use crate::error::{DataError, Result};
use crate::hdf5_io::{write_attr_f64, write_attr_str};

/// The survey a data set was simulated with, stored as attributes of `data`.
pub struct SeismicMeta<'a> {
    /// Time step (s).
    pub dt: f64,
    /// Grid spacing (m).
    pub dx: f64,
    /// How the data were made (command, preset, noise).
    pub source: &'a str,
}

/// Writes `values` (row-major (N, shots, nt, receivers)) to `path` as dataset `data`; the
/// file appears only when complete.
pub fn write_seismic_h5(
    path: &Path,
    shape: [usize; 4],
    values: &[f32],
    meta: &SeismicMeta,
) -> Result<()> {
    let [n, shots, nt, receivers] = shape;
    let view = ArrayView4::from_shape((n, shots, nt, receivers), values).map_err(|_| {
        DataError::invalid(format!(
            "{}: {} values do not fill shape {shape:?}",
            path.display(),
            values.len()
        ))
    })?;
    if values.is_empty() {
        return Err(DataError::invalid(format!(
            "{}: refusing to write empty seismic data of shape {shape:?}",
            path.display()
        )));
    }
    let out = AtomicPath::new(path)?;
    let e = |err: hdf5::Error| DataError::hdf5(path, err);
    let file = hdf5::File::create(out.temp()).map_err(e)?;
    {
        let dataset = file
            .new_dataset::<f32>()
            .chunk((1, shots, nt, receivers))
            .shuffle()
            .deflate(4)
            .shape((n, shots, nt, receivers))
            .create("data")
            .map_err(e)?;
        dataset.write(view).map_err(e)?;
        write_attr_f64(&dataset, "dt", meta.dt).map_err(e)?;
        write_attr_f64(&dataset, "dx", meta.dx).map_err(e)?;
        write_attr_str(&dataset, "layout", "(model, shot, time, receiver)").map_err(e)?;
        write_attr_str(&dataset, "source", meta.source).map_err(e)?;
    }
    file.close()
        .map_err(|err| DataError::hdf5(out.temp(), err))?;
    out.commit()
}
