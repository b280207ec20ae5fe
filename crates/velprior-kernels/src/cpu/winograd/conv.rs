//! The convolution: bands of tiles of the batch in parallel, each transformed, multiplied by
//! the transformed kernel and transformed back.

use std::mem::MaybeUninit;

use rayon::prelude::*;

use super::level::Level;
use super::transforms::{input_transform, output_transform};
use super::{BAND_FLOATS, COUT_BLOCK, Geometry, Scratch, TILE_GROUP, WinogradKernel};
#[cfg(target_arch = "x86_64")]
use super::{avx2, avx512};
use crate::cpu::conv3x3::Epilogue;
use crate::cpu::simd::{Simd, detected_simd};

/// The output pointer shared by the band tasks, each of which writes its own pixels.
#[derive(Clone, Copy)]
struct OutPtr(*mut f32);
// SAFETY: tasks write disjoint pixels (see `conv3x3_winograd`).
unsafe impl Send for OutPtr {}
unsafe impl Sync for OutPtr {}

impl OutPtr {
    /// The pointer (a method, so that closures capture the `Send` wrapper, not its field).
    fn get(self) -> *mut f32 {
        self.0
    }
}

/// `out = conv(x, w) + epilogue` over a batch by Winograd F(2×2, 3×3): x (n, cin, h, w), out
/// (n, cout, h, w), with the vectors of `level` (AVX-512 or AVX2). Writes every element of
/// `out`.
#[cfg_attr(not(target_arch = "x86_64"), allow(unused_variables))]
pub(crate) fn conv3x3_winograd(
    x: &[f32],
    k: &WinogradKernel,
    epilogue: Epilogue<'_>,
    (h, w): (usize, usize),
    level: Simd,
    out: &mut [MaybeUninit<f32>],
) {
    let (cin, cout, hw) = (k.cin, k.cout, h * w);
    let n = x.len() / (cin * hw);
    assert!(
        n * cin * hw == x.len()
            && n * cout * hw == out.len()
            && hw > 0
            && level <= detected_simd()
            && level != Simd::Portable,
        "conv3x3_winograd: buffer sizes do not match the geometry"
    );
    let geom = Geometry::new(cin, cout, (h, w));
    let cblocks = cout.div_ceil(COUT_BLOCK);
    // Tiles of the whole batch, numbered g = (s·th + ty)·tw + tx, in bands of whole register
    // tiles whose V and M fit in BAND_FLOATS.
    let tiles = n * geom.th * geom.tw;
    let per_tile = 16 * (cin + cblocks * COUT_BLOCK);
    let band = (BAND_FLOATS / per_tile / TILE_GROUP).max(1) * TILE_GROUP;
    let ptr = OutPtr(out.as_mut_ptr().cast::<f32>());
    (0..tiles.div_ceil(band))
        .into_par_iter()
        .for_each_init(Scratch::default, |scr, b| {
            let g = (b * band, ((b + 1) * band).min(tiles));
            // SAFETY: the assert checked the level against the CPU and the sizes; this task
            // writes the output pixels of tiles g.0..g.1, which no other task writes.
            #[cfg(target_arch = "x86_64")]
            unsafe {
                match level {
                    Simd::Avx512 => avx512::band(x, k, epilogue, &geom, g, scr, ptr.get()),
                    _ => avx2::band(x, k, epilogue, &geom, g, scr, ptr.get()),
                }
            }
            #[cfg(not(target_arch = "x86_64"))]
            unreachable!(
                "no vector level on this architecture: {:?}",
                (g, &scr.v, ptr.get())
            );
        });
}

/// Tiles g0..g1 of the batch: transform the input into V, multiply by U into M, transform M
/// into the output pixels. Inlined into each level's `#[target_feature]` function.
///
/// # Safety
/// `out` points to the batch's (n, cout, h, w) output; the CPU runs level `L`.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
#[inline(always)]
pub(super) unsafe fn band_with<L: Level>(
    x: &[f32],
    k: &WinogradKernel,
    epilogue: Epilogue<'_>,
    geom: &Geometry,
    (g0, g1): (usize, usize),
    scr: &mut Scratch,
    out: *mut f32,
) {
    let (cin, cout) = (geom.cin, geom.cout);
    let t_pad = (g1 - g0).div_ceil(TILE_GROUP) * TILE_GROUP;
    let cblocks = cout.div_ceil(COUT_BLOCK);
    // SAFETY (caller): the CPU runs L.
    let vs = unsafe { input_transform::<L>(x, geom, (g0, g1), scr) };
    // M[ξ][co][t] = Σ_ci U[ξ][co][ci] V[ξ][ci][t].
    let per_xi = cblocks * cin * COUT_BLOCK;
    scr.m.resize(16 * cblocks * COUT_BLOCK * vs, 0.0);
    for xi in 0..16 {
        let v = &scr.v[xi * cin * vs..(xi + 1) * cin * vs];
        for b in 0..cblocks {
            let u = &k.data[xi * per_xi + b * cin * COUT_BLOCK..][..cin * COUT_BLOCK];
            let m = &mut scr.m[(xi * cblocks + b) * COUT_BLOCK * vs..][..COUT_BLOCK * vs];
            // SAFETY (caller): gemm runs on this CPU; the slices have the sizes it reads.
            unsafe { L::gemm(u, v, cin, t_pad, vs, m) };
        }
    }
    // SAFETY (caller): as this function's.
    unsafe { output_transform::<L>(epilogue, geom, (g0, g1), scr, vs, out) }
}
