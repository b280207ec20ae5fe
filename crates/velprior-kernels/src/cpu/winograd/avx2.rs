//! The AVX2 + FMA level: 8 lanes, a register tile of 2 × 8 tiles × 4 output channels.

use std::arch::x86_64::{
    __m256, _mm256_add_ps, _mm256_broadcast_ss, _mm256_castpd_ps, _mm256_castps_pd,
    _mm256_fmadd_ps, _mm256_loadu_ps, _mm256_permute2f128_ps, _mm256_permute4x64_pd,
    _mm256_set1_ps, _mm256_setzero_ps, _mm256_shuffle_ps, _mm256_storeu_ps, _mm256_sub_ps,
    _mm256_unpackhi_ps, _mm256_unpacklo_ps,
};

use super::level::{Level, check_gemm_sizes, elementwise_ops, entry_points};
use super::{COUT_BLOCK, TILE_GROUP};

struct Avx2;

const LANES: usize = 8;
/// Output channels per register tile: half a kernel block.
const COUT: usize = 4;
/// Tile vectors per register tile: 2 × 4 = 8 accumulators, 2 input vectors and a
/// broadcast weight in the 16 registers.
const VECS: usize = 2;

entry_points!(Avx2, "avx2,fma");

impl Level for Avx2 {
    elementwise_ops!(
        __m256,
        LANES,
        _mm256_loadu_ps,
        _mm256_storeu_ps,
        _mm256_add_ps,
        _mm256_sub_ps,
        _mm256_set1_ps
    );

    #[target_feature(enable = "avx2,fma")]
    unsafe fn gemm(u: &[f32], v: &[f32], cin: usize, t: usize, stride: usize, m: &mut [f32]) {
        check_gemm_sizes(u, v, cin, t, stride, m);
        const { assert!(TILE_GROUP.is_multiple_of(VECS * LANES)) };
        for c0 in (0..COUT_BLOCK).step_by(COUT) {
            for t0 in (0..t).step_by(VECS * LANES) {
                let mut acc: [[__m256; VECS]; COUT] = [[_mm256_setzero_ps(); VECS]; COUT];
                let (mut vp, mut up) =
                    (unsafe { v.as_ptr().add(t0) }, unsafe { u.as_ptr().add(c0) });
                for _ in 0..cin {
                    // SAFETY: the assert bounds every row of v and u read here.
                    let xv: [__m256; VECS] =
                        std::array::from_fn(|i| unsafe { _mm256_loadu_ps(vp.add(i * LANES)) });
                    for (c, a) in acc.iter_mut().enumerate() {
                        let wv = unsafe { _mm256_broadcast_ss(&*up.add(c)) };
                        for i in 0..VECS {
                            a[i] = _mm256_fmadd_ps(xv[i], wv, a[i]);
                        }
                    }
                    vp = unsafe { vp.add(stride) };
                    up = unsafe { up.add(COUT_BLOCK) };
                }
                for (c, a) in acc.iter().enumerate() {
                    for (i, &ai) in a.iter().enumerate() {
                        let at = (c0 + c) * stride + t0 + i * LANES;
                        unsafe { _mm256_storeu_ps(m.as_mut_ptr().add(at), ai) };
                    }
                }
            }
        }
    }

    #[target_feature(enable = "avx2,fma")]
    unsafe fn deinterleave(src: &[f32], e: &mut [f32], o: &mut [f32]) {
        let n = e.len();
        assert!(o.len() == n && src.len() >= 2 * n && n.is_multiple_of(LANES));
        for i in (0..n).step_by(LANES) {
            // SAFETY: 2i + 16 <= 2n <= src.len(), i + 8 <= n.
            unsafe {
                let a = _mm256_loadu_ps(src.as_ptr().add(2 * i));
                let b = _mm256_loadu_ps(src.as_ptr().add(2 * i + LANES));
                // Within 128-bit halves: a0 a2 b0 b2 | a4 a6 b4 b6; then the 64-bit
                // quarters in order 0, 2, 1, 3.
                let ev = _mm256_castps_pd(_mm256_shuffle_ps::<0x88>(a, b));
                let od = _mm256_castps_pd(_mm256_shuffle_ps::<0xdd>(a, b));
                let ev = _mm256_castpd_ps(_mm256_permute4x64_pd::<0xd8>(ev));
                let od = _mm256_castpd_ps(_mm256_permute4x64_pd::<0xd8>(od));
                _mm256_storeu_ps(e.as_mut_ptr().add(i), ev);
                _mm256_storeu_ps(o.as_mut_ptr().add(i), od);
            }
        }
    }

    #[inline(always)]
    unsafe fn zip(a: __m256, b: __m256) -> (__m256, __m256) {
        // a0 b0 a1 b1 | a4 b4 a5 b5 and a2 b2 a3 b3 | a6 b6 a7 b7, then their halves.
        unsafe {
            let (lo, hi) = (_mm256_unpacklo_ps(a, b), _mm256_unpackhi_ps(a, b));
            (
                _mm256_permute2f128_ps::<0x20>(lo, hi),
                _mm256_permute2f128_ps::<0x31>(lo, hi),
            )
        }
    }
}
