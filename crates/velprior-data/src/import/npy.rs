//! NumPy `.npy` import: C and Fortran order, float and integer dtypes, any rank that maps
//! onto (N, H, W).

use std::path::Path;

use npyz::{NpyFile, Order};

use crate::error::{DataError, Result};
use crate::import::RawArray;

/// Reads a `.npy` file as f32 in C (row-major) order with its shape.
///
/// Fortran-ordered files (e.g. arrays saved from MATLAB-derived data) are transposed so
/// that the returned values are row-major for the returned shape.
pub fn read_npy(path: &Path) -> Result<RawArray> {
    let bytes = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
    let npy = NpyFile::new(&bytes[..]).map_err(|e| {
        DataError::bad_file(
            path,
            format!("is not a valid .npy file ({e}); save it with numpy.save"),
        )
    })?;
    let shape: Vec<usize> = npy.shape().iter().map(|&d| d as usize).collect();
    let order = npy.order();
    let type_str = match npy.dtype() {
        npyz::DType::Plain(t) => t.to_string(),
        other => {
            return Err(DataError::bad_file(
                path,
                format!("has dtype {other:?}; only plain float and integer arrays can be imported"),
            ));
        }
    };
    let count: usize = shape.iter().product();
    let bad_len = |e: std::io::Error| {
        DataError::bad_file(
            path,
            format!(
                "is truncated or corrupt: the header promises {count} values of {type_str} ({e})"
            ),
        )
    };
    let values: Vec<f32> = match &type_str[1..] {
        "f4" => npy.into_vec::<f32>().map_err(bad_len)?,
        "f8" => npy
            .into_vec::<f64>()
            .map_err(bad_len)?
            .into_iter()
            .map(|v| v as f32)
            .collect(),
        "f2" => {
            return Err(DataError::bad_file(
                path,
                "has dtype float16; convert it to float32 first",
            ));
        }
        "i1" => convert(npy.into_vec::<i8>().map_err(bad_len)?),
        "i2" => convert(npy.into_vec::<i16>().map_err(bad_len)?),
        "i4" => convert(npy.into_vec::<i32>().map_err(bad_len)?),
        "i8" => npy
            .into_vec::<i64>()
            .map_err(bad_len)?
            .into_iter()
            .map(|v| v as f32)
            .collect(),
        "u1" => convert(npy.into_vec::<u8>().map_err(bad_len)?),
        "u2" => convert(npy.into_vec::<u16>().map_err(bad_len)?),
        "u4" => npy
            .into_vec::<u32>()
            .map_err(bad_len)?
            .into_iter()
            .map(|v| v as f32)
            .collect(),
        _ => {
            return Err(DataError::bad_file(
                path,
                format!("has dtype '{type_str}'; only float and integer arrays can be imported"),
            ));
        }
    };
    if values.len() != count {
        return Err(DataError::bad_file(
            path,
            format!("is truncated: {} of {count} values present", values.len()),
        ));
    }
    let values = match order {
        Order::C => values,
        Order::Fortran => fortran_to_c(&values, &shape),
    };
    Ok(RawArray { shape, values })
}

fn convert<T: Into<f64>>(v: Vec<T>) -> Vec<f32> {
    v.into_iter().map(|x| x.into() as f32).collect()
}

/// Reorders a column-major array of `shape` into row-major order.
fn fortran_to_c(values: &[f32], shape: &[usize]) -> Vec<f32> {
    let rank = shape.len();
    let mut f_strides = vec![1usize; rank];
    for k in 1..rank {
        f_strides[k] = f_strides[k - 1] * shape[k - 1];
    }
    let mut out = Vec::with_capacity(values.len());
    let mut idx = vec![0usize; rank];
    for _ in 0..values.len() {
        let offset: usize = idx.iter().zip(&f_strides).map(|(i, s)| i * s).sum();
        out.push(values[offset]);
        for k in (0..rank).rev() {
            idx[k] += 1;
            if idx[k] < shape[k] {
                break;
            }
            idx[k] = 0;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::fortran_to_c;

    #[test]
    fn fortran_order_is_transposed() {
        // A 2x3 array [[0,1,2],[3,4,5]] stored column-major is 0,3,1,4,2,5.
        let f = [0.0, 3.0, 1.0, 4.0, 2.0, 5.0];
        assert_eq!(
            fortran_to_c(&f, &[2, 3]),
            vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
        );
    }
}
