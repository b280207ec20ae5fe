//! A sample (cin, h, w) zero-padded and stored channels-last, the layout the weight gradient
//! reads: 16×16 blocks (channels × pixels of a row) transposed in AVX-512 registers where the
//! CPU has them, element by element otherwise.

use super::has_avx512;
use super::im2col::ConvGeom;

/// Channels (and pixels) per transposed block.
const BLOCK: usize = 16;

/// Sample `x` (cin, h, w) zero-padded by `pad` and stored channels-last: `xp[(y·wp + x)·cin + c]`
/// with wp = w + 2·pad. A buffer already of that size is one this function filled for the same
/// geometry: its border is still zero, and only the interior is written.
pub(crate) fn pad_channels_last(x: &[f32], g: &ConvGeom, xp: &mut Vec<f32>) {
    let (p, cin, hw) = (g.pad, g.cin, g.h * g.w);
    let (hp, wp) = (g.h + 2 * p, g.w + 2 * p);
    assert_eq!(x.len(), cin * hw, "pad_channels_last: sample size");
    if xp.len() != hp * wp * cin {
        xp.clear();
        xp.resize(hp * wp * cin, 0.0);
    }
    let at = |y: usize, xx: usize| ((y + p) * wp + xx + p) * cin;
    let simd = has_avx512();
    for c0 in (0..cin).step_by(BLOCK) {
        let cs = c0..(c0 + BLOCK).min(cin);
        for y in 0..g.h {
            let mut x0 = 0;
            if simd && cs.len() == BLOCK {
                #[cfg(target_arch = "x86_64")]
                while x0 + BLOCK <= g.w {
                    // SAFETY: AVX-512F is present; rows c0..c0+16 of pixels x0..x0+16 of row y
                    // are inside x, and the 16 destination pixels' channels c0..c0+16 inside
                    // xp (asserted sizes above).
                    unsafe {
                        avx512::transpose16(
                            x.as_ptr().add(c0 * hw + y * g.w + x0),
                            hw,
                            xp.as_mut_ptr().add(at(y, x0) + c0),
                            cin,
                        )
                    };
                    x0 += BLOCK;
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Against the definition, with full and partial blocks of channels and pixels.
    #[test]
    fn matches_the_definition() {
        for (cin, h, w, pad) in [(32, 3, 16, 1), (21, 2, 37, 1), (16, 4, 32, 0)] {
            let x: Vec<f32> = (0..cin * h * w).map(|i| i as f32 * 0.5 - 7.0).collect();
            let g = ConvGeom::new((cin, h, w), (4, 3, 3), 1, pad).unwrap();
            let mut xp = Vec::new();
            pad_channels_last(&x, &g, &mut xp);
            let wp = w + 2 * pad;
            for y in 0..h + 2 * pad {
                for xx in 0..wp {
                    for c in 0..cin {
                        let inside = (pad..h + pad).contains(&y) && (pad..w + pad).contains(&xx);
                        let want = match inside {
                            true => x[(c * h + y - pad) * w + xx - pad],
                            false => 0.0,
                        };
                        assert_eq!(xp[(y * wp + xx) * cin + c], want, "{:?}", (cin, y, xx, c));
                    }
                }
            }
        }
    }
}
