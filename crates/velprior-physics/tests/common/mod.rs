//! Shared helpers for the integration tests: reading the reference .npy files.
#![allow(dead_code)]

use std::path::PathBuf;

/// Path of a file under the shared reference data directory.
pub fn data_path(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../data/reference")
        .join(rel)
}

/// Read an .npy array as f32 in C (row-major) order, with its shape.
pub fn read_npy(rel: &str) -> (Vec<f32>, Vec<usize>) {
    let bytes = std::fs::read(data_path(rel)).unwrap_or_else(|e| panic!("reading {rel}: {e}"));
    let npy = npyz::NpyFile::new(&bytes[..]).unwrap();
    let shape: Vec<usize> = npy.shape().iter().map(|&s| s as usize).collect();
    let fortran = npy.order() == npyz::Order::Fortran;
    let dtype = npy.dtype();
    let raw: Vec<f32> = match dtype.descr().as_str() {
        "<f8" => npy
            .into_vec::<f64>()
            .unwrap()
            .into_iter()
            .map(|x| x as f32)
            .collect(),
        _ => npy.into_vec::<f32>().unwrap(),
    };
    if !fortran {
        return (raw, shape);
    }
    // Fortran order: index (i0, i1, ..) at Σ i_k·stride_k with stride_0 = 1.
    let n = raw.len();
    let nd = shape.len();
    let mut out = vec![0.0f32; n];
    let mut idx = vec![0usize; nd];
    for o in out.iter_mut() {
        let mut f = 0;
        let mut stride = 1;
        for k in 0..nd {
            f += idx[k] * stride;
            stride *= shape[k];
        }
        *o = raw[f];
        for k in (0..nd).rev() {
            idx[k] += 1;
            if idx[k] < shape[k] {
                break;
            }
            idx[k] = 0;
        }
    }
    (out, shape)
}

/// ‖a − b‖ / ‖b‖.
pub fn rel_l2(a: &[f32], b: &[f32]) -> f64 {
    let num: f64 = a
        .iter()
        .zip(b)
        .map(|(x, y)| (f64::from(*x) - f64::from(*y)).powi(2))
        .sum();
    let den: f64 = b.iter().map(|y| f64::from(*y).powi(2)).sum();
    (num / den).sqrt()
}

/// Read member `name` (e.g. "result.npy") of an uncompressed .npz as f32, C order, with shape.
pub fn read_npz_member(rel: &str, name: &str) -> (Vec<f32>, Vec<usize>) {
    let bytes = std::fs::read(data_path(rel)).unwrap();
    let mut off = 0;
    while bytes[off..off + 4] == [0x50, 0x4b, 0x03, 0x04] {
        let u16_at = |o: usize| u16::from_le_bytes([bytes[o], bytes[o + 1]]) as usize;
        let size = u32::from_le_bytes(bytes[off + 18..off + 22].try_into().unwrap()) as usize;
        let (nl, el) = (u16_at(off + 26), u16_at(off + 28));
        let fname = std::str::from_utf8(&bytes[off + 30..off + 30 + nl]).unwrap();
        let start = off + 30 + nl + el;
        if fname == name {
            assert_eq!(u16_at(off + 8), 0, "npz member must be stored uncompressed");
            let npy = npyz::NpyFile::new(&bytes[start..start + size]).unwrap();
            let shape = npy.shape().iter().map(|&s| s as usize).collect();
            return (npy.into_vec::<f32>().unwrap(), shape);
        }
        off = start + size;
    }
    panic!("{name} not found in {rel}");
}
