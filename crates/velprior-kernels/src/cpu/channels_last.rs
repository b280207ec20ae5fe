//! A sample (cin, h, w) zero-padded and stored channels-last, the layout the weight gradient
//! reads: blocks of channels × pixels of a row transposed in registers — 16×16 with AVX-512,
//! 8×8 with AVX2 — and element by element on the portable path and at the edges.

use super::im2col::ConvGeom;
use super::simd::{Simd, detected_simd};

/// Channels per block of the portable path.
const PORTABLE_BLOCK: usize = 16;

/// Sample `x` (cin, h, w) zero-padded by `pad` and stored channels-last: `xp[(y·wp + x)·cin + c]`
/// with wp = w + 2·pad, transposed with the vectors of `level`. A buffer already of that size is
/// one this function filled for the same geometry: its border is still zero, and only the
/// interior is written.
pub(crate) fn pad_channels_last(x: &[f32], g: &ConvGeom, level: Simd, xp: &mut Vec<f32>) {
    let (p, cin, hw) = (g.pad, g.cin, g.h * g.w);
    let (hp, wp) = (g.h + 2 * p, g.w + 2 * p);
    assert_eq!(x.len(), cin * hw, "pad_channels_last: sample size");
    assert!(
        level <= detected_simd(),
        "pad_channels_last: {level:?} on this CPU"
    );
    if xp.len() != hp * wp * cin {
        xp.clear();
        xp.resize(hp * wp * cin, 0.0);
    }
    let at = |y: usize, xx: usize| ((y + p) * wp + xx + p) * cin;
    let block = match level {
        Simd::Avx512 => 16,
        Simd::Avx2 => 8,
        Simd::Portable => PORTABLE_BLOCK,
    };
    for c0 in (0..cin).step_by(block) {
        let cs = c0..(c0 + block).min(cin);
        for y in 0..g.h {
            #[cfg_attr(not(target_arch = "x86_64"), allow(unused_mut))]
            let mut x0 = 0;
            if level != Simd::Portable && cs.len() == block {
                #[cfg(target_arch = "x86_64")]
                while x0 + block <= g.w {
                    let src = x[c0 * hw + y * g.w + x0..].as_ptr();
                    let dst = xp[at(y, x0) + c0..].as_mut_ptr();
                    // SAFETY: the level was checked against the CPU; rows c0..c0 + block of
                    // pixels x0..x0 + block of row y are inside x, and the block destination
                    // pixels' channels c0..c0 + block inside xp (asserted sizes above).
                    unsafe {
                        match level {
                            Simd::Avx512 => avx512::transpose16(src, hw, dst, cin),
                            _ => avx2::transpose8(src, hw, dst, cin),
                        }
                    };
                    x0 += block;
                }
            }
            for xx in x0..g.w {
                let dst = &mut xp[at(y, xx)..][cs.clone()];
                for (d, c) in dst.iter_mut().zip(cs.clone()) {
                    *d = x[c * hw + y * g.w + xx];
                }
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::{
        __m512, _mm512_castpd_ps, _mm512_castps_pd, _mm512_loadu_ps, _mm512_shuffle_f32x4,
        _mm512_storeu_ps, _mm512_unpackhi_pd, _mm512_unpackhi_ps, _mm512_unpacklo_pd,
        _mm512_unpacklo_ps,
    };

    /// Row j of the 16×16 block at `dst` (rows `dst_stride` apart) = column j of the block at
    /// `src` (rows `src_stride` apart): unpacks of 32-bit then 64-bit pairs, then two rounds of
    /// 128-bit lane shuffles.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn transpose16(
        src: *const f32,
        src_stride: usize,
        dst: *mut f32,
        dst_stride: usize,
    ) {
        // SAFETY (caller): 16 rows of 16 floats at both places.
        let mut r: [__m512; 16] =
            std::array::from_fn(|i| unsafe { _mm512_loadu_ps(src.add(i * src_stride)) });
        let mut t = r;
        for i in 0..8 {
            t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
            t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
        }
        for i in 0..4 {
            let [a, b, c, d] = [0, 1, 2, 3].map(|k| _mm512_castps_pd(t[4 * i + k]));
            r[4 * i] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
            r[4 * i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
            r[4 * i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d));
            r[4 * i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));
        }
        for i in 0..4 {
            t[i] = _mm512_shuffle_f32x4::<0x88>(r[i], r[4 + i]);
            t[4 + i] = _mm512_shuffle_f32x4::<0xdd>(r[i], r[4 + i]);
            t[8 + i] = _mm512_shuffle_f32x4::<0x88>(r[8 + i], r[12 + i]);
            t[12 + i] = _mm512_shuffle_f32x4::<0xdd>(r[8 + i], r[12 + i]);
        }
        for i in 0..4 {
            r[i] = _mm512_shuffle_f32x4::<0x88>(t[i], t[8 + i]);
            r[4 + i] = _mm512_shuffle_f32x4::<0x88>(t[4 + i], t[12 + i]);
            r[8 + i] = _mm512_shuffle_f32x4::<0xdd>(t[i], t[8 + i]);
            r[12 + i] = _mm512_shuffle_f32x4::<0xdd>(t[4 + i], t[12 + i]);
        }
        for (j, row) in r.iter().enumerate() {
            unsafe { _mm512_storeu_ps(dst.add(j * dst_stride), *row) };
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::{
        __m256, _mm256_loadu_ps, _mm256_permute2f128_ps, _mm256_shuffle_ps, _mm256_storeu_ps,
        _mm256_unpackhi_ps, _mm256_unpacklo_ps,
    };

    /// Row j of the 8×8 block at `dst` (rows `dst_stride` apart) = column j of the block at
    /// `src` (rows `src_stride` apart): unpacks of 32-bit pairs, shuffles of 64-bit pairs, then
    /// swaps of 128-bit halves.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn transpose8(
        src: *const f32,
        src_stride: usize,
        dst: *mut f32,
        dst_stride: usize,
    ) {
        // SAFETY (caller): 8 rows of 8 floats at both places.
        let r: [__m256; 8] =
            std::array::from_fn(|i| unsafe { _mm256_loadu_ps(src.add(i * src_stride)) });
        let t: [__m256; 8] = std::array::from_fn(|i| {
            let (a, b) = (r[2 * (i / 2)], r[2 * (i / 2) + 1]);
            if i % 2 == 0 {
                _mm256_unpacklo_ps(a, b)
            } else {
                _mm256_unpackhi_ps(a, b)
            }
        });
        let u = [
            _mm256_shuffle_ps::<0x44>(t[0], t[2]),
            _mm256_shuffle_ps::<0xee>(t[0], t[2]),
            _mm256_shuffle_ps::<0x44>(t[1], t[3]),
            _mm256_shuffle_ps::<0xee>(t[1], t[3]),
            _mm256_shuffle_ps::<0x44>(t[4], t[6]),
            _mm256_shuffle_ps::<0xee>(t[4], t[6]),
            _mm256_shuffle_ps::<0x44>(t[5], t[7]),
            _mm256_shuffle_ps::<0xee>(t[5], t[7]),
        ];
        for j in 0..4 {
            let lo = _mm256_permute2f128_ps::<0x20>(u[j], u[4 + j]);
            let hi = _mm256_permute2f128_ps::<0x31>(u[j], u[4 + j]);
            unsafe {
                _mm256_storeu_ps(dst.add(j * dst_stride), lo);
                _mm256_storeu_ps(dst.add((4 + j) * dst_stride), hi);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Against the definition, at every level this CPU runs, with full and partial blocks of
    /// channels and pixels: catches a wrong shuffle in either transpose.
    #[test]
    fn matches_the_definition() {
        for (cin, h, w, pad) in [(32, 3, 16, 1), (21, 2, 37, 1), (16, 4, 32, 0)] {
            let x: Vec<f32> = (0..cin * h * w).map(|i| i as f32 * 0.5 - 7.0).collect();
            let g = ConvGeom::new((cin, h, w), (4, 3, 3), 1, pad).unwrap();
            for level in Simd::ALL.into_iter().filter(|&l| l <= detected_simd()) {
                let mut xp = Vec::new();
                pad_channels_last(&x, &g, level, &mut xp);
                let wp = w + 2 * pad;
                for y in 0..h + 2 * pad {
                    for xx in 0..wp {
                        for c in 0..cin {
                            let inside =
                                (pad..h + pad).contains(&y) && (pad..w + pad).contains(&xx);
                            let want = match inside {
                                true => x[(c * h + y - pad) * w + xx - pad],
                                false => 0.0,
                            };
                            assert_eq!(
                                xp[(y * wp + xx) * cin + c],
                                want,
                                "{:?}",
                                (level, cin, y, xx, c)
                            );
                        }
                    }
                }
            }
        }
    }
}
