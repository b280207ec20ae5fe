//! What a vector level (AVX-512, AVX2) provides to the transforms and products, and the
//! macros that write each level's share: its element-wise vector ops and its entry points
//! (the generic band functions compiled with the level's target features).

use super::COUT_BLOCK;

/// The vector operations of a level. Every function must only be called on a CPU that runs
/// the level.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
pub(super) trait Level {
    /// A vector of LANES f32.
    type V: Copy;
    const LANES: usize;
    unsafe fn load(p: *const f32) -> Self::V;
    unsafe fn store(p: *mut f32, v: Self::V);
    unsafe fn add(a: Self::V, b: Self::V) -> Self::V;
    unsafe fn sub(a: Self::V, b: Self::V) -> Self::V;
    unsafe fn splat(x: f32) -> Self::V;
    /// The lanes of a and b interleaved (a0, b0, a1, b1, …) as two vectors.
    unsafe fn zip(a: Self::V, b: Self::V) -> (Self::V, Self::V);
    /// m (COUT_BLOCK, t) = uᵀ · v for u (cin, COUT_BLOCK) and v (cin, t), t a multiple of
    /// TILE_GROUP; the rows of v and m at stride `stride` ≥ t.
    unsafe fn gemm(u: &[f32], v: &[f32], cin: usize, t: usize, stride: usize, m: &mut [f32]);
    /// e[i] = src[2i] and o[i] = src[2i + 1] for i < e.len() = o.len(), a multiple of LANES
    /// (src.len() ≥ 2 e.len()).
    unsafe fn deinterleave(src: &[f32], e: &mut [f32], o: &mut [f32]);
}

/// Panics unless the slices of [`Level::gemm`] hold what its sizes say: the bounds its
/// unchecked loads and stores rely on.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
pub(super) fn check_gemm_sizes(
    u: &[f32],
    v: &[f32],
    cin: usize,
    t: usize,
    stride: usize,
    m: &[f32],
) {
    assert!(
        u.len() >= cin * COUT_BLOCK
            && t <= stride
            && v.len() >= cin * stride
            && m.len() >= COUT_BLOCK * stride,
        "Winograd gemm: slices shorter than their sizes"
    );
}

/// The element-wise part of `impl Level`: the vector type, its lane count and load, store,
/// add, sub and splat as the named intrinsics.
#[cfg(target_arch = "x86_64")]
macro_rules! elementwise_ops {
    ($v:ty, $lanes:expr, $load:ident, $store:ident, $add:ident, $sub:ident, $splat:ident) => {
        type V = $v;
        const LANES: usize = $lanes;

        #[inline(always)]
        unsafe fn load(p: *const f32) -> $v {
            unsafe { $load(p) }
        }

        #[inline(always)]
        unsafe fn store(p: *mut f32, v: $v) {
            unsafe { $store(p, v) }
        }

        #[inline(always)]
        unsafe fn add(a: $v, b: $v) -> $v {
            unsafe { $add(a, b) }
        }

        #[inline(always)]
        unsafe fn sub(a: $v, b: $v) -> $v {
            unsafe { $sub(a, b) }
        }

        #[inline(always)]
        unsafe fn splat(x: f32) -> $v {
            unsafe { $splat(x) }
        }
    };
}

/// A level's entry points `band` and `weight_band`: [`band_with`](super::conv::band_with) and
/// [`weight_band_with`](super::weight_grad::weight_band_with) for level `$level`, compiled with
/// `$features` (so that the inlined generic code uses the level's instructions). Expanded in
/// the level's file, a child of `winograd`.
#[cfg(target_arch = "x86_64")]
macro_rules! entry_points {
    ($level:ty, $features:literal) => {
        /// See [`band_with`](super::conv::band_with).
        #[target_feature(enable = $features)]
        pub(super) unsafe fn band(
            x: &[f32],
            k: &super::WinogradKernel,
            ep: crate::cpu::conv3x3::Epilogue<'_>,
            geom: &super::Geometry,
            tiles: (usize, usize),
            scr: &mut super::Scratch,
            out: *mut f32,
        ) {
            unsafe { super::conv::band_with::<$level>(x, k, ep, geom, tiles, scr, out) }
        }

        /// See [`weight_band_with`](super::weight_grad::weight_band_with).
        #[target_feature(enable = $features)]
        pub(super) unsafe fn weight_band(
            x: &[f32],
            dy: &[f32],
            geom: &super::Geometry,
            tiles: (usize, usize),
            scr: &mut super::Scratch,
            du: &mut [f32],
        ) {
            unsafe { super::weight_grad::weight_band_with::<$level>(x, dy, geom, tiles, scr, du) }
        }
    };
}

#[cfg(target_arch = "x86_64")]
pub(super) use {elementwise_ops, entry_points};
