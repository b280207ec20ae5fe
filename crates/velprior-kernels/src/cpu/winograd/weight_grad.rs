//! The weight gradient by the Winograd transforms: dU_ξ = Σ_tiles Ŷ_ξ · V_ξᵀ on the gemm
//! crate, mapped back to the 3×3 taps with Gᵀ · G.

use super::level::Level;
use super::transforms::{input_transform, output_grad_transform};
use super::{BAND_FLOATS, Geometry, Scratch, TILE_GROUP};
#[cfg(target_arch = "x86_64")]
use super::{avx2, avx512};
use crate::cpu::gemm::{MatRef, sgemm};
use crate::cpu::simd::{Simd, detected_simd};

/// The weight gradient of a 3×3, stride-1, padding-1 conv from `cin` to `cout` channels over
/// samples `samples` of x (n, cin, h, w) and dy (n, cout, h, w), by the same transforms:
/// dW = Σ_tiles Gᵀ [(A dy Aᵀ) ⊙ (Bᵀ d B)] G, the products summed over the tiles as 16 matrix
/// products dU_ξ (cout × cin) += Ŷ_ξ (cout × tiles) · V_ξᵀ (tiles × cin) on the `gemm` crate,
/// band by band in order. Returns dW (cout, cin, 3, 3).
#[cfg_attr(not(target_arch = "x86_64"), allow(unused_variables, unused_mut))]
pub(crate) fn weight_grad_winograd(
    x: &[f32],
    dy: &[f32],
    (cin, cout, h, w): (usize, usize, usize, usize),
    samples: std::ops::Range<usize>,
    level: Simd,
) -> Vec<f32> {
    let hw = h * w;
    assert!(
        samples.end * cin * hw <= x.len()
            && samples.end * cout * hw <= dy.len()
            && hw > 0
            && level <= detected_simd()
            && level != Simd::Portable,
        "weight_grad_winograd: buffer sizes do not match the geometry"
    );
    let geom = Geometry::new(cin, cout, (h, w));
    let tiles_per_sample = geom.th * geom.tw;
    let band = (BAND_FLOATS / (16 * (cin + cout)) / TILE_GROUP).max(1) * TILE_GROUP;
    let (ga, gb) = (
        samples.start * tiles_per_sample,
        samples.end * tiles_per_sample,
    );
    let mut du = vec![0f32; 16 * cout * cin];
    let mut scr = Scratch::default();
    for g0 in (ga..gb).step_by(band) {
        let g = (g0, (g0 + band).min(gb));
        // SAFETY: the assert checked the level against the CPU and the sizes.
        #[cfg(target_arch = "x86_64")]
        unsafe {
            match level {
                Simd::Avx512 => avx512::weight_band(x, dy, &geom, g, &mut scr, &mut du),
                _ => avx2::weight_band(x, dy, &geom, g, &mut scr, &mut du),
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        unreachable!("no vector level on this architecture: {g:?}");
    }
    // dW = Gᵀ dU G, Gᵀ = [1 ½ ½ 0; 0 ½ −½ 0; 0 ½ ½ 1].
    let gt = |u: [f32; 4]| {
        [
            u[0] + 0.5 * (u[1] + u[2]),
            0.5 * (u[1] - u[2]),
            0.5 * (u[1] + u[2]) + u[3],
        ]
    };
    let mut dw = vec![0f32; cout * cin * 9];
    for co in 0..cout {
        for ci in 0..cin {
            let u = |i: usize, j: usize| du[((4 * i + j) * cout + co) * cin + ci];
            let cols: [[f32; 3]; 4] =
                std::array::from_fn(|j| gt([u(0, j), u(1, j), u(2, j), u(3, j)]));
            for a in 0..3 {
                let row = gt([cols[0][a], cols[1][a], cols[2][a], cols[3][a]]);
                dw[(co * cin + ci) * 9 + 3 * a..][..3].copy_from_slice(&row);
            }
        }
    }
    dw
}

/// dU_ξ += Ŷ_ξ · V_ξᵀ for tiles g0..g1 (see [`weight_grad_winograd`]); du (16, cout, cin).
/// Inlined into each level's `#[target_feature]` function.
///
/// # Safety
/// The CPU runs level `L`.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
#[inline(always)]
pub(super) unsafe fn weight_band_with<L: Level>(
    x: &[f32],
    dy: &[f32],
    geom: &Geometry,
    (g0, g1): (usize, usize),
    scr: &mut Scratch,
    du: &mut [f32],
) {
    let (cin, cout, tiles) = (geom.cin, geom.cout, g1 - g0);
    // SAFETY (caller): the CPU runs L.
    let vs = unsafe { input_transform::<L>(x, geom, (g0, g1), scr) };
    unsafe { output_grad_transform::<L>(dy, geom, (g0, g1), scr, vs) };
    for xi in 0..16 {
        let lhs = MatRef::new(&scr.m[xi * cout * vs..], cout, tiles, vs, 1);
        let rhs = MatRef::new(&scr.v[xi * cin * vs..], tiles, cin, 1, vs);
        sgemm(
            &mut du[xi * cout * cin..][..cout * cin],
            cin,
            lhs,
            rhs,
            true,
            1,
        );
    }
}
