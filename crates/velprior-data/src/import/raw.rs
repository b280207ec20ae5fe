//! Raw little-endian f32 import of one model with user-given dimensions.

use std::path::Path;

use crate::error::{DataError, Result};
use crate::import::RawArray;

/// How the samples of a raw file are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RawLayout {
    /// Each trace (a column of H depth samples) is contiguous: the classic
    /// `marmousi_vp.bin` layout (2301 traces × 751 samples).
    DepthFastest,
    /// Each depth row (W lateral samples) is contiguous: row-major (H, W).
    LateralFastest,
}

/// Reads a raw little-endian f32 file holding one (H, W) model stored in `layout`.
pub fn read_raw_f32(path: &Path, shape: [usize; 2], layout: RawLayout) -> Result<RawArray> {
    let [h, w] = shape;
    let bytes = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
    let expected = h * w * 4;
    if bytes.len() != expected {
        let hint = if bytes.len() % 4 == 0 {
            format!("it holds {} f32 values", bytes.len() / 4)
        } else {
            "its size is not a multiple of 4 bytes".to_string()
        };
        return Err(DataError::bad_file(
            path,
            format!(
                "is {} bytes but dims {h}x{w} need {expected} ({hint}); check --shape and that \
                 the file is raw f32",
                bytes.len()
            ),
        ));
    }
    let samples = bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]));
    let values: Vec<f32> = match layout {
        RawLayout::LateralFastest => samples.collect(),
        RawLayout::DepthFastest => {
            let by_trace: Vec<f32> = samples.collect();
            let mut out = vec![0.0; h * w];
            for (x, trace) in by_trace.chunks_exact(h).enumerate() {
                for (z, &v) in trace.iter().enumerate() {
                    out[z * w + x] = v;
                }
            }
            out
        }
    };
    Ok(RawArray {
        shape: vec![h, w],
        values,
    })
}
