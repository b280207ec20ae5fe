//! SEG-Y rev 1 import: IBM and IEEE floats, one trace per column, big-endian.
//!
//! File layout: 3200-byte textual header, 400-byte binary header (sample count at bytes
//! 3221–3222, format code at 3225–3226, extended textual header count at 3505–3506), then
//! traces of a 240-byte header and `ns` samples each.

use std::path::Path;

use crate::error::{DataError, Result};
use crate::import::RawArray;

const TEXT_HEADER: usize = 3200;
const BINARY_HEADER: usize = 400;
const TRACE_HEADER: usize = 240;

/// Reads a SEG-Y file as an (H = samples per trace, W = traces) model.
pub fn read_segy(path: &Path) -> Result<RawArray> {
    let bytes = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
    if bytes.len() < TEXT_HEADER + BINARY_HEADER {
        return Err(DataError::bad_file(
            path,
            format!(
                "is {} bytes, shorter than the 3600-byte SEG-Y headers: not SEG-Y or truncated",
                bytes.len()
            ),
        ));
    }
    let bin = &bytes[TEXT_HEADER..TEXT_HEADER + BINARY_HEADER];
    let be16 = |o: usize| u16::from_be_bytes([bin[o], bin[o + 1]]);
    let ns = be16(20) as usize;
    let format = be16(24);
    let extended = be16(304) as usize;
    let sample_bytes = match format {
        1 | 5 => 4,
        other => {
            return Err(DataError::bad_file(
                path,
                format!(
                    "SEG-Y data format code {other} is not supported; velprior reads IBM (1) and \
                     IEEE (5) floats"
                ),
            ));
        }
    };
    if ns == 0 {
        return Err(DataError::bad_file(
            path,
            "binary header gives 0 samples per trace: not a valid SEG-Y file",
        ));
    }
    let start = TEXT_HEADER + BINARY_HEADER + extended * TEXT_HEADER;
    let trace_len = TRACE_HEADER + ns * sample_bytes;
    let body = bytes.len().saturating_sub(start);
    if body == 0 || body % trace_len != 0 {
        return Err(DataError::bad_file(
            path,
            format!(
                "is truncated or not fixed-length SEG-Y: {body} bytes of traces is not a whole \
                 number of {trace_len}-byte traces ({ns} samples)"
            ),
        ));
    }
    let nt = body / trace_len;
    let mut values = vec![0.0f32; ns * nt];
    for (x, trace) in bytes[start..].chunks_exact(trace_len).enumerate() {
        for (z, s) in trace[TRACE_HEADER..].chunks_exact(4).enumerate() {
            let word = u32::from_be_bytes([s[0], s[1], s[2], s[3]]);
            values[z * nt + x] = if format == 1 {
                ibm_to_f32(word)
            } else {
                f32::from_bits(word)
            };
        }
    }
    Ok(RawArray {
        shape: vec![ns, nt],
        values,
    })
}

/// Converts an IBM System/360 single-precision float to IEEE f32.
///
/// value = (−1)^sign · 0.mantissa(24 bits, base 16) · 16^(exponent − 64).
pub fn ibm_to_f32(word: u32) -> f32 {
    let sign = if word >> 31 == 1 { -1.0 } else { 1.0 };
    let exponent = ((word >> 24) & 0x7f) as i32 - 64;
    let mantissa = (word & 0x00ff_ffff) as f64 / (1u64 << 24) as f64;
    (sign * mantissa * 16f64.powi(exponent)) as f32
}

/// Converts an IEEE f32 to the IBM System/360 single-precision encoding (for writing test
/// files and exports).
pub fn f32_to_ibm(value: f32) -> u32 {
    if value == 0.0 {
        return 0;
    }
    let sign = if value < 0.0 { 1u32 << 31 } else { 0 };
    let mut v = value.abs() as f64;
    let mut exponent = 64i32;
    while v >= 1.0 {
        v /= 16.0;
        exponent += 1;
    }
    while v < 1.0 / 16.0 {
        v *= 16.0;
        exponent -= 1;
    }
    let mantissa = (v * (1u64 << 24) as f64).round() as u32 & 0x00ff_ffff;
    sign | ((exponent as u32) << 24) | mantissa
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ibm_reference_values() {
        // Classic examples: 0xC276A000 = -118.625, 0x41100000 = 1.0, 0x42640000 = 100.0.
        assert_eq!(ibm_to_f32(0xC276_A000), -118.625);
        assert_eq!(ibm_to_f32(0x4110_0000), 1.0);
        assert_eq!(ibm_to_f32(0x4264_0000), 100.0);
        for v in [1500.0f32, 4500.25, -3.5, 0.1] {
            assert!((ibm_to_f32(f32_to_ibm(v)) - v).abs() <= v.abs() * 1e-6);
        }
    }
}
