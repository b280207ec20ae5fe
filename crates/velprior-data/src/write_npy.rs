//! NumPy `.npy` output (f32, C order), written atomically: the counterpart of
//! [`crate::import::npy::read_npy`] for arrays that are not velocity corpora (seismic data).

use std::path::Path;

use npyz::WriterBuilder;

use crate::atomic::write_bytes;
use crate::error::{DataError, Result};

/// Writes `values` (row-major) as an f32 `.npy` array of `shape` at `path`; the file appears
/// only when complete.
pub fn write_npy(path: &Path, shape: &[usize], values: &[f32]) -> Result<()> {
    if shape.iter().product::<usize>() != values.len() {
        return Err(DataError::invalid(format!(
            "{}: {} values do not fill shape {shape:?}",
            path.display(),
            values.len()
        )));
    }
    let dims: Vec<u64> = shape.iter().map(|&d| d as u64).collect();
    let mut bytes = Vec::with_capacity(values.len() * 4 + 128);
    let io = |e: std::io::Error| DataError::io(path, e);
    let mut w = npyz::WriteOptions::new()
        .default_dtype()
        .shape(&dims)
        .writer(&mut bytes)
        .begin_nd()
        .map_err(io)?;
    w.extend(values.iter().copied()).map_err(io)?;
    w.finish().map_err(io)?;
    write_bytes(path, &bytes)
}
