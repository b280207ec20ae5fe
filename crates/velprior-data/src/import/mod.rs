//! Importers from other formats into a [`Corpus`]: NumPy `.npy`, raw little-endian f32,
//! SEG-Y; with optional resampling, clipping and patch extraction (the standard way to make
//! a Marmousi-style training corpus from one big model).

mod npy;
mod raw;
mod segy;

use std::path::Path;

pub use npy::read_npy;
pub use raw::{RawLayout, read_raw_f32};
pub use segy::{f32_to_ibm, ibm_to_f32, read_segy};

use crate::corpus::{Corpus, CorpusMeta};
use crate::error::{DataError, Result};
use crate::transform::{PatchSpec, clip, extract_patches, resample};

/// An array read from a foreign file: row-major values and their shape.
#[derive(Debug, Clone, PartialEq)]
pub struct RawArray {
    /// Shape as stored (after any reordering to row-major).
    pub shape: Vec<usize>,
    /// Row-major values.
    pub values: Vec<f32>,
}

/// The foreign format of an input file.
#[derive(Debug, Clone, PartialEq)]
pub enum Format {
    /// NumPy `.npy`.
    Npy,
    /// Raw little-endian f32 of one model with the given (H, W) and axis layout.
    RawF32 {
        shape: [usize; 2],
        layout: RawLayout,
    },
    /// SEG-Y rev 1 (IBM or IEEE floats), one trace per column.
    Segy,
}

/// What to do with the imported models.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ImportOptions {
    /// Spacing of the input in m (dx, dz); `None` keeps 10 m.
    pub spacing: Option<(f64, f64)>,
    /// Resample to this spacing in m (both axes), bilinearly.
    pub resample_to: Option<f64>,
    /// Clip velocities to [min, max] m/s.
    pub clip: Option<(f32, f32)>,
    /// Cut patches of this size and stride from every model.
    pub patches: Option<PatchSpec>,
}

/// Velocity models (m/s) from `.npy` of shape (N, 1, H, W), (N, H, W) or (H, W), or from an
/// HDF5 corpus: (count, (H, W), row-major values), checked as velocities.
pub fn read_models(path: &Path) -> Result<(usize, [usize; 2], Vec<f32>)> {
    if path.extension().is_some_and(|e| e == "npy") {
        let raw = read_npy(path)?;
        let (n, h, w) = match raw.shape.as_slice() {
            [n, 1, h, w] | [n, h, w] => (*n, *h, *w),
            [h, w] => (1, *h, *w),
            other => {
                return Err(DataError::invalid(format!(
                    "{}: shape {other:?} is not (N, 1, H, W), (N, H, W) or (H, W) velocity models",
                    path.display()
                )));
            }
        };
        crate::corpus::validate_velocities(&raw.values, [n, h, w], &path.display().to_string())?;
        Ok((n, [h, w], raw.values))
    } else {
        let c = crate::hdf5_io::read_corpus(path, None)?;
        let [n, h, w] = c.shape();
        Ok((n, [h, w], c.into_velocity()))
    }
}

/// One velocity model (m/s) from `.npy` (any shape with two dimensions above 1) or the first
/// model of an HDF5 corpus: ((H, W), row-major values), checked as velocities.
pub fn read_model(path: &Path) -> Result<([usize; 2], Vec<f32>)> {
    let (shape, values) = if path.extension().is_some_and(|e| e == "npy") {
        let raw = read_npy(path)?;
        let dims: Vec<usize> = raw.shape.iter().copied().filter(|&d| d != 1).collect();
        match dims.as_slice() {
            [h, w] => ([*h, *w], raw.values),
            _ => {
                return Err(DataError::invalid(format!(
                    "{}: shape {:?} is not one 2-D model",
                    path.display(),
                    raw.shape
                )));
            }
        }
    } else {
        let c = crate::hdf5_io::read_corpus(path, None)?;
        let [_, h, w] = c.shape();
        ([h, w], c.model(0).to_vec())
    };
    crate::corpus::validate_velocities(
        &values,
        [1, shape[0], shape[1]],
        &path.display().to_string(),
    )?;
    Ok((shape, values))
}

/// Reads `path` in `format` and turns it into a corpus following `options`.
pub fn import(path: &Path, format: &Format, options: &ImportOptions) -> Result<Corpus> {
    let raw = match format {
        Format::Npy => read_npy(path)?,
        Format::RawF32 { shape, layout } => read_raw_f32(path, *shape, *layout)?,
        Format::Segy => read_segy(path)?,
    };
    let (dx, dz) = options.spacing.unwrap_or((10.0, 10.0));
    if !(dx > 0.0 && dz > 0.0) {
        return Err(DataError::invalid(format!(
            "spacing dx = {dx}, dz = {dz} m must be positive"
        )));
    }
    let shape = stack_shape(path, &raw.shape)?;
    let meta = CorpusMeta {
        dx,
        dz,
        source: format!("imported from {}", path.display()),
    };
    let mut corpus = Corpus::new(raw.values, shape, meta)?;
    if let Some(target) = options.resample_to {
        corpus = resample(&corpus, target, target)?;
    }
    if let Some((lo, hi)) = options.clip {
        corpus = clip(corpus, lo, hi)?;
    }
    corpus.validate(&path.display().to_string())?;
    if let Some(spec) = &options.patches {
        corpus = extract_patches(&corpus, spec)?;
    }
    Ok(corpus)
}

/// Guesses the format from the file extension (`.npy`, `.sgy`/`.segy`); raw files need
/// their shape and are never guessed.
pub fn guess_format(path: &Path) -> Option<Format> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    match ext.as_str() {
        "npy" => Some(Format::Npy),
        "sgy" | "segy" => Some(Format::Segy),
        _ => None,
    }
}

/// Maps a stored shape onto (N, H, W): (H, W), (N, H, W) and (N, 1, H, W) are accepted.
fn stack_shape(path: &Path, shape: &[usize]) -> Result<[usize; 3]> {
    let s = match shape {
        [h, w] => [1, *h, *w],
        [n, h, w] => [*n, *h, *w],
        [n, 1, h, w] => [*n, *h, *w],
        _ => {
            return Err(DataError::bad_file(
                path,
                format!("has shape {shape:?}; expected (H, W), (N, H, W) or (N, 1, H, W)"),
            ));
        }
    };
    if s.contains(&0) {
        return Err(DataError::bad_file(
            path,
            format!("is empty (shape {shape:?})"),
        ));
    }
    Ok(s)
}
