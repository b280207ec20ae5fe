//! Corpus transforms: bilinear resampling to a new spacing, clipping, patch extraction,
//! lateral flips.

use crate::corpus::{Corpus, CorpusMeta};
use crate::error::{DataError, Result};

/// Size and stride of patches cut from larger models, in samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PatchSpec {
    /// Patch depth samples H.
    pub h: usize,
    /// Patch lateral samples W.
    pub w: usize,
    /// Step between patch origins along depth.
    pub stride_z: usize,
    /// Step between patch origins laterally.
    pub stride_x: usize,
}

/// Resamples every model bilinearly from its spacing to (`dx`, `dz`) m, keeping the
/// physical extent (the first and last samples stay where they are).
pub fn resample(corpus: &Corpus, dx: f64, dz: f64) -> Result<Corpus> {
    if !(dx > 0.0 && dz > 0.0) {
        return Err(DataError::invalid(format!(
            "resample spacing {dx} x {dz} m must be positive"
        )));
    }
    let [n, h, w] = corpus.shape();
    let meta = &corpus.meta;
    let new_h = (((h - 1) as f64 * meta.dz / dz).round() as usize + 1).max(1);
    let new_w = (((w - 1) as f64 * meta.dx / dx).round() as usize + 1).max(1);
    let mut out = Vec::with_capacity(n * new_h * new_w);
    for i in 0..n {
        out.extend(bilinear(corpus.model(i), [h, w], [new_h, new_w]));
    }
    let meta = CorpusMeta {
        dx,
        dz,
        source: format!("{} resampled to {dx}x{dz} m", meta.source),
    };
    Corpus::new(out, [n, new_h, new_w], meta)
}

/// Bilinear interpolation of a row-major (h, w) image onto (new_h, new_w) samples spanning
/// the same extent.
pub fn bilinear(image: &[f32], [h, w]: [usize; 2], [new_h, new_w]: [usize; 2]) -> Vec<f32> {
    let coords = |len: usize, new_len: usize, k: usize| -> (usize, usize, f32) {
        if len == 1 || new_len == 1 {
            return (0, 0, 0.0);
        }
        let pos = k as f64 * (len - 1) as f64 / (new_len - 1) as f64;
        let i0 = (pos.floor() as usize).min(len - 1);
        let i1 = (i0 + 1).min(len - 1);
        (i0, i1, (pos - i0 as f64) as f32)
    };
    let mut out = Vec::with_capacity(new_h * new_w);
    for z in 0..new_h {
        let (z0, z1, fz) = coords(h, new_h, z);
        for x in 0..new_w {
            let (x0, x1, fx) = coords(w, new_w, x);
            let top = image[z0 * w + x0] * (1.0 - fx) + image[z0 * w + x1] * fx;
            let bottom = image[z1 * w + x0] * (1.0 - fx) + image[z1 * w + x1] * fx;
            out.push(top * (1.0 - fz) + bottom * fz);
        }
    }
    out
}

/// Clips every velocity to [`lo`, `hi`] m/s; NaN stays NaN (and is caught by validation).
pub fn clip(corpus: Corpus, lo: f32, hi: f32) -> Result<Corpus> {
    if !(lo > 0.0 && lo < hi) {
        return Err(DataError::invalid(format!(
            "clip range [{lo}, {hi}] m/s must satisfy 0 < min < max"
        )));
    }
    let shape = corpus.shape();
    let meta = corpus.meta.clone();
    let params = corpus.parameters.clone();
    let v: Vec<f32> = corpus
        .into_velocity()
        .into_iter()
        .map(|v| v.clamp(lo, hi))
        .collect();
    let mut out = Corpus::new(v, shape, meta)?;
    out.parameters = params;
    Ok(out)
}

/// Cuts every model into patches of `spec` (row-major over origins, depth first).
pub fn extract_patches(corpus: &Corpus, spec: &PatchSpec) -> Result<Corpus> {
    let [n, h, w] = corpus.shape();
    if spec.h == 0 || spec.w == 0 || spec.stride_z == 0 || spec.stride_x == 0 {
        return Err(DataError::invalid("patch size and stride must be positive"));
    }
    if spec.h > h || spec.w > w {
        return Err(DataError::invalid(format!(
            "patch {}x{} is larger than the model {h}x{w} (H x W); choose a smaller --patch or \
             resample to a finer spacing",
            spec.h, spec.w
        )));
    }
    let origins_z: Vec<usize> = (0..=h - spec.h).step_by(spec.stride_z).collect();
    let origins_x: Vec<usize> = (0..=w - spec.w).step_by(spec.stride_x).collect();
    let count = n * origins_z.len() * origins_x.len();
    let mut out = Vec::with_capacity(count * spec.h * spec.w);
    for i in 0..n {
        let model = corpus.model(i);
        for &z0 in &origins_z {
            for &x0 in &origins_x {
                for z in z0..z0 + spec.h {
                    out.extend_from_slice(&model[z * w + x0..z * w + x0 + spec.w]);
                }
            }
        }
    }
    let meta = CorpusMeta {
        source: format!(
            "{} cut into {}x{} patches (stride {}x{})",
            corpus.meta.source, spec.h, spec.w, spec.stride_z, spec.stride_x
        ),
        ..corpus.meta.clone()
    };
    Corpus::new(out, [count, spec.h, spec.w], meta)
}

/// Mirrors a row-major (h, w) model left–right in place (the only flip that keeps depth's
/// direction).
pub fn flip_lateral(model: &mut [f32], w: usize) {
    for row in model.chunks_exact_mut(w) {
        row.reverse();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ramp(h: usize, w: usize) -> Corpus {
        let v = (0..h * w).map(|k| 1500.0 + k as f32).collect();
        Corpus::new(v, [1, h, w], CorpusMeta::default()).unwrap()
    }

    #[test]
    fn bilinear_is_exact_on_linear_fields() {
        // f(z, x) = 3z + 2x is reproduced exactly by bilinear interpolation at any new grid.
        let (h, w) = (5, 7);
        let img: Vec<f32> = (0..h * w)
            .map(|k| (3 * (k / w) + 2 * (k % w)) as f32)
            .collect();
        let out = bilinear(&img, [h, w], [9, 13]);
        for z in 0..9 {
            for x in 0..13 {
                let expect = 3.0 * z as f32 * 4.0 / 8.0 + 2.0 * x as f32 * 6.0 / 12.0;
                assert!((out[z * 13 + x] - expect).abs() < 1e-4);
            }
        }
    }

    #[test]
    fn resample_halves_spacing() {
        let c = resample(&ramp(4, 6), 5.0, 5.0).unwrap();
        assert_eq!(c.shape(), [1, 7, 11]);
        assert_eq!(c.model(0)[0], 1500.0);
        assert_eq!(*c.model(0).last().unwrap(), 1500.0 + 23.0);
    }

    #[test]
    fn patches_cover_origins() {
        let c = extract_patches(
            &ramp(4, 6),
            &PatchSpec {
                h: 2,
                w: 3,
                stride_z: 2,
                stride_x: 3,
            },
        )
        .unwrap();
        assert_eq!(c.shape(), [4, 2, 3]);
        // Second patch starts at (z 0, x 3): values 1503.., next row 1509..
        assert_eq!(
            c.model(1),
            &[1503.0, 1504.0, 1505.0, 1509.0, 1510.0, 1511.0]
        );
        let err = extract_patches(
            &ramp(4, 6),
            &PatchSpec {
                h: 5,
                w: 3,
                stride_z: 1,
                stride_x: 1,
            },
        );
        assert!(
            err.unwrap_err()
                .to_string()
                .contains("larger than the model")
        );
    }
}
