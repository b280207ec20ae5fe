//! Parsers for compact command-line values: sizes `HxW`, ranges `MIN,MAX`, patches.

use velprior_data::transform::PatchSpec;

/// `--device cpu|cuda|cuda:N`.
pub fn device(s: &str) -> Result<velprior_kernels::DeviceSpec, String> {
    s.parse()
        .map_err(|e: velprior_kernels::Error| e.to_string())
}

/// Parses `HxW` (e.g. `70x70`) into [H, W].
pub fn size(s: &str) -> Result<[usize; 2], String> {
    let (h, w) = s
        .split_once(['x', 'X'])
        .ok_or_else(|| format!("'{s}' is not HxW, e.g. 70x70"))?;
    let h: usize = h
        .trim()
        .parse()
        .map_err(|_| format!("'{h}' in '{s}' is not a whole number"))?;
    let w: usize = w
        .trim()
        .parse()
        .map_err(|_| format!("'{w}' in '{s}' is not a whole number"))?;
    if h == 0 || w == 0 {
        return Err(format!("size '{s}' must be positive"));
    }
    Ok([h, w])
}

/// Parses `MIN,MAX` into (min, max) with min < max.
pub fn range(s: &str) -> Result<(f32, f32), String> {
    let (a, b) = s
        .split_once(',')
        .ok_or_else(|| format!("'{s}' is not MIN,MAX, e.g. 1500,4500"))?;
    let a: f32 = a
        .trim()
        .parse()
        .map_err(|_| format!("'{a}' in '{s}' is not a number"))?;
    let b: f32 = b
        .trim()
        .parse()
        .map_err(|_| format!("'{b}' in '{s}' is not a number"))?;
    if a >= b || a.is_nan() || b.is_nan() {
        return Err(format!("range '{s}' needs MIN < MAX"));
    }
    Ok((a, b))
}

/// Parses a spacing `D` or `DX,DZ` in metres.
pub fn spacing(s: &str) -> Result<(f64, f64), String> {
    let parse = |t: &str| -> Result<f64, String> {
        let v: f64 = t
            .trim()
            .parse()
            .map_err(|_| format!("'{t}' is not a number of metres"))?;
        if v > 0.0 {
            Ok(v)
        } else {
            Err(format!("spacing '{t}' must be positive"))
        }
    };
    match s.split_once(',') {
        Some((dx, dz)) => Ok((parse(dx)?, parse(dz)?)),
        None => parse(s).map(|d| (d, d)),
    }
}

/// Parses a patch `HxW` (stride = size) or `HxW/SZxSX`.
pub fn patch(s: &str) -> Result<PatchSpec, String> {
    let (dims, stride) = match s.split_once('/') {
        Some((d, st)) => (size(d)?, size(st)?),
        None => {
            let d = size(s)?;
            (d, d)
        }
    };
    Ok(PatchSpec {
        h: dims[0],
        w: dims[1],
        stride_z: stride[0],
        stride_x: stride[1],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_compact_values() {
        assert_eq!(size("70x190").unwrap(), [70, 190]);
        assert!(size("70").is_err());
        assert_eq!(range("1500,4500").unwrap(), (1500.0, 4500.0));
        assert!(range("4500,1500").is_err());
        assert_eq!(spacing("12.5").unwrap(), (12.5, 12.5));
        let p = patch("70x70/35x35").unwrap();
        assert_eq!((p.h, p.w, p.stride_z, p.stride_x), (70, 70, 35, 35));
    }
}
