//! The AVX-512 level: 16 lanes, a register tile of 3 × 16 tiles × 8 output channels.

use std::arch::x86_64::{
    __m512, _mm512_add_ps, _mm512_fmadd_ps, _mm512_loadu_ps, _mm512_permutex2var_ps,
    _mm512_set1_ps, _mm512_setr_epi32, _mm512_setzero_ps, _mm512_storeu_ps, _mm512_sub_ps,
};

use super::level::{Level, check_gemm_sizes, elementwise_ops, entry_points};
use super::{COUT_BLOCK, TILE_GROUP};

const LANES: usize = 16;
const VECS: usize = TILE_GROUP / LANES;

struct Avx512;

entry_points!(Avx512, "avx512f");

impl Level for Avx512 {
    elementwise_ops!(
        __m512,
        LANES,
        _mm512_loadu_ps,
        _mm512_storeu_ps,
        _mm512_add_ps,
        _mm512_sub_ps,
        _mm512_set1_ps
    );

    #[target_feature(enable = "avx512f")]
    unsafe fn gemm(u: &[f32], v: &[f32], cin: usize, t: usize, stride: usize, m: &mut [f32]) {
        check_gemm_sizes(u, v, cin, t, stride, m);
        for t0 in (0..t).step_by(TILE_GROUP) {
            let mut acc: [[__m512; VECS]; COUT_BLOCK] = [[_mm512_setzero_ps(); VECS]; COUT_BLOCK];
            let (mut vp, mut up) = (unsafe { v.as_ptr().add(t0) }, u.as_ptr());
            for _ in 0..cin {
                // SAFETY: the assert bounds every row of v and u read here.
                let xv: [__m512; VECS] =
                    std::array::from_fn(|i| unsafe { _mm512_loadu_ps(vp.add(i * LANES)) });
                for (c, a) in acc.iter_mut().enumerate() {
                    let wv = _mm512_set1_ps(unsafe { *up.add(c) });
                    for i in 0..VECS {
                        a[i] = _mm512_fmadd_ps(xv[i], wv, a[i]);
                    }
                }
                vp = unsafe { vp.add(stride) };
                up = unsafe { up.add(COUT_BLOCK) };
            }
            for (c, a) in acc.iter().enumerate() {
                for (i, &ai) in a.iter().enumerate() {
                    unsafe {
                        _mm512_storeu_ps(m.as_mut_ptr().add(c * stride + t0 + i * LANES), ai)
                    };
                }
            }
        }
    }

    #[target_feature(enable = "avx512f")]
    unsafe fn deinterleave(src: &[f32], e: &mut [f32], o: &mut [f32]) {
        let n = e.len();
        assert!(o.len() == n && src.len() >= 2 * n && n.is_multiple_of(LANES));
        let even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
        let odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
        for i in (0..n).step_by(LANES) {
            // SAFETY: 2i + 32 <= 2n <= src.len(), i + 16 <= n.
            unsafe {
                let a = _mm512_loadu_ps(src.as_ptr().add(2 * i));
                let b = _mm512_loadu_ps(src.as_ptr().add(2 * i + LANES));
                _mm512_storeu_ps(e.as_mut_ptr().add(i), _mm512_permutex2var_ps(a, even, b));
                _mm512_storeu_ps(o.as_mut_ptr().add(i), _mm512_permutex2var_ps(a, odd, b));
            }
        }
    }

    #[inline(always)]
    unsafe fn zip(a: __m512, b: __m512) -> (__m512, __m512) {
        unsafe {
            let lo = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
            let hi =
                _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
            (
                _mm512_permutex2var_ps(a, lo, b),
                _mm512_permutex2var_ps(a, hi, b),
            )
        }
    }
}
