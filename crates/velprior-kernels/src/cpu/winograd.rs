//! Winograd F(2×2, 3×3) convolution for 3×3, stride-1, padding-1 convs on AVX-512 and AVX2 +
//! FMA CPUs (Lavin & Gray 2016): each 2×2 block of output pixels is computed from a 4×4 patch
//! of the padded input with 16 products per input and output channel, where the direct kernel
//! takes 36. In the transform domain the convolution is 16 independent matrix products, one
//! per element ξ of the 4×4 patch: M_ξ (cout × tiles) = U_ξ (cout × cin) · V_ξ (cin × tiles),
//! with
//!
//! - U = G g Gᵀ the transformed kernel, once per call ([`WinogradKernel`]);
//! - V = Bᵀ d B the transformed input patches, for a band of tiles of the batch at a time so
//!   that V and M stay in the L2 cache;
//! - y = Aᵀ M A the 2×2 outputs, plus the epilogue (bias, residual).
//!
//! The products use the register tile of the direct kernel (3 × 16 tiles × 8 output channels
//! in AVX-512 registers, 2 × 8 × 4 in AVX2's); the transforms are additions on vectors of
//! consecutive tiles. Their constants are 0, ±1 and ±½, so the result differs from the direct
//! sum by rounding only. The input gradient is the same convolution with the transposed,
//! flipped kernel; the weight gradient ([`weight_grad_winograd`]) sums Ŷ_ξ · V_ξᵀ over the
//! tiles, Ŷ = A dy Aᵀ, and maps the sums back with Gᵀ · G.

use std::mem::MaybeUninit;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU8, Ordering};

use rayon::prelude::*;

use super::conv3x3::Epilogue;
use super::gemm::{MatRef, sgemm};
use super::simd::{Simd, detected_simd};

/// Convolutions with at least this many input and output channels take this path; with fewer,
/// the transforms cost more than the products save and the direct kernel is faster (BENCH.md).
const MIN_CHANNELS: usize = 32;

/// No override: on unless `VELPRIOR_WINOGRAD=0`.
const UNSET: u8 = u8::MAX;

static FORCED: AtomicU8 = AtomicU8::new(UNSET);

/// Whether the weight gradient of such a conv takes this path (else the gemm crate on the
/// padded input in place): at 32 channels in and out the transforms of x and dy cost more
/// than the products save (BENCH.md).
pub(crate) fn serves_weight_grad(cin: usize, cout: usize) -> bool {
    serves(cin, cout) && cin + cout >= 3 * MIN_CHANNELS
}

/// Whether a 3×3, stride-1, padding-1 conv from `cin` to `cout` channels that has a vector
/// path takes this one (else the direct kernel).
pub(crate) fn serves(cin: usize, cout: usize) -> bool {
    winograd_enabled() && cin.min(cout) >= MIN_CHANNELS
}

/// Whether convs with enough channels take the Winograd path: yes unless `VELPRIOR_WINOGRAD=0`
/// or [`force_winograd`] says otherwise.
pub fn winograd_enabled() -> bool {
    match FORCED.load(Ordering::Relaxed) {
        UNSET => {
            static ENV: OnceLock<bool> = OnceLock::new();
            *ENV.get_or_init(|| !std::env::var("VELPRIOR_WINOGRAD").is_ok_and(|v| v == "0"))
        }
        v => v == 1,
    }
}

/// Turns the Winograd path on or off from now on in this process (`None`: back to on, or off
/// with `VELPRIOR_WINOGRAD=0`); for tests and benchmarks that compare it with the direct
/// kernel.
pub fn force_winograd(on: Option<bool>) {
    FORCED.store(on.map_or(UNSET, u8::from), Ordering::Relaxed);
}

/// Output channels per block of the transformed kernel (and per AVX-512 register tile).
const COUT_BLOCK: usize = 8;
/// Tiles per band are a multiple of this, and so of both levels' register tiles (3 × 16 and
/// 2 × 8 tiles).
const TILE_GROUP: usize = 48;
/// Values past the end of every transform row: the transforms run over whole vectors.
const SLACK: usize = 16;
/// Floats of V and M per band (512 KiB): within the L2 cache (1–2 MiB per core) of the CPUs
/// this serves.
const BAND_FLOATS: usize = 1 << 17;

/// A 3×3 kernel in the transform domain, laid out for the register tiles: for each ξ of the
/// 16, blocks of [`COUT_BLOCK`] output channels, each `(cin, COUT_BLOCK)`, zero past the last
/// output channel.
pub(crate) struct WinogradKernel {
    data: Vec<f32>,
    cin: usize,
    cout: usize,
}

impl WinogradKernel {
    /// Transforms `w` (cout, cin, 3, 3).
    pub(crate) fn new(w: &[f32], cout: usize, cin: usize) -> Self {
        Self::transform(cout, cin, |co, ci, tap| w[(co * cin + ci) * 9 + tap])
    }

    /// The kernel of the input gradient of a conv with `w` (cout, cin, 3, 3):
    /// w'[ci][co][i][j] = w[co][ci][2 − i][2 − j], a conv from cout to cin channels.
    pub(crate) fn transposed_flipped(w: &[f32], cout: usize, cin: usize) -> Self {
        Self::transform(cin, cout, |ci, co, tap| w[(co * cin + ci) * 9 + 8 - tap])
    }

    /// U = G g Gᵀ for every (output, input) channel pair, with G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1].
    fn transform(cout: usize, cin: usize, w: impl Fn(usize, usize, usize) -> f32) -> Self {
        let blocks = cout.div_ceil(COUT_BLOCK);
        let per_xi = blocks * cin * COUT_BLOCK;
        let mut data = vec![0f32; 16 * per_xi];
        for co in 0..cout {
            for ci in 0..cin {
                // G g column by column (cols[j][i] = (G g)[i][j]), then its rows times Gᵀ.
                let cols: [[f32; 4]; 3] = std::array::from_fn(|j| {
                    g_times([w(co, ci, j), w(co, ci, 3 + j), w(co, ci, 6 + j)])
                });
                let u: [[f32; 4]; 4] =
                    std::array::from_fn(|i| g_times([cols[0][i], cols[1][i], cols[2][i]]));
                let (b, c) = (co / COUT_BLOCK, co % COUT_BLOCK);
                for (xi, &v) in u.iter().flatten().enumerate() {
                    data[xi * per_xi + (b * cin + ci) * COUT_BLOCK + c] = v;
                }
            }
        }
        WinogradKernel { data, cin, cout }
    }
}

/// G v for a 3-vector v: [v0, (v0 + v1 + v2)/2, (v0 − v1 + v2)/2, v2].
fn g_times(v: [f32; 3]) -> [f32; 4] {
    [
        v[0],
        0.5 * (v[0] + v[1] + v[2]),
        0.5 * (v[0] - v[1] + v[2]),
        v[2],
    ]
}

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

/// Scratch of one task: a padded image row, the padded input rows of a tile row, the same for
/// the output gradient (weight gradient), V, M (or Ŷ) and two output rows.
#[derive(Default)]
struct Scratch {
    line: Vec<f32>,
    rows: Vec<f32>,
    dy_line: Vec<f32>,
    dy_rows: Vec<f32>,
    v: Vec<f32>,
    m: Vec<f32>,
    y: Vec<f32>,
}

/// `out = conv(x, w) + epilogue` over a batch by Winograd F(2×2, 3×3): x (n, cin, h, w), out
/// (n, cout, h, w), with the vectors of `level` (AVX-512 or AVX2). Writes every element of
/// `out`.
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
    let (th, tw) = (h.div_ceil(2), w.div_ceil(2));
    let cblocks = cout.div_ceil(COUT_BLOCK);
    // Tiles of the whole batch, numbered g = (s·th + ty)·tw + tx, in bands of whole register
    // tiles whose V and M fit in BAND_FLOATS.
    let tiles = n * th * tw;
    let per_tile = 16 * (cin + cblocks * COUT_BLOCK);
    let band = (BAND_FLOATS / per_tile / TILE_GROUP).max(1) * TILE_GROUP;
    let geom = Geometry {
        cin,
        cout,
        h,
        w,
        th,
        tw,
    };
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

/// Channels, image size and tile grid of a call.
struct Geometry {
    cin: usize,
    cout: usize,
    h: usize,
    w: usize,
    th: usize,
    tw: usize,
}

impl Geometry {
    /// The runs of tiles g0..g1 that lie in one tile row, as (sample, ty, tx0, tx1, offset of
    /// the run's first tile in the band).
    fn runs(
        &self,
        (g0, g1): (usize, usize),
    ) -> impl Iterator<Item = (usize, usize, usize, usize, usize)> {
        let tw = self.tw;
        (g0 / tw..g1.div_ceil(tw)).map(move |row| {
            let tx0 = g0.max(row * tw) - row * tw;
            let tx1 = g1.min((row + 1) * tw) - row * tw;
            (row / self.th, row % self.th, tx0, tx1, row * tw + tx0 - g0)
        })
    }
}

#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
/// What a vector level provides to [`band_with`]. Every function must only be called on a CPU
/// that runs the level.
trait Level {
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

/// V[ξ][ci][t] = (Bᵀ d B)_ξ for the input patch d of channel ci of tile g0 + t, t < g1 − g0,
/// into `scr.v` (rows of the returned stride). Inlined into each level's `#[target_feature]`
/// function.
///
/// The transforms run over whole vectors of tiles: a run of n tiles computes n rounded up to
/// LANES, and every row they read or write has SLACK values past its end; the values past a
/// run are garbage (finite or not) that the next run overwrites or that is never used.
///
/// # Safety
/// The CPU runs level `L`.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
#[inline(always)]
unsafe fn input_transform<L: Level>(
    x: &[f32],
    geom: &Geometry,
    (g0, g1): (usize, usize),
    scr: &mut Scratch,
) -> usize {
    let &Geometry { cin, h, w, tw, .. } = geom;
    let lanes = L::LANES;
    const { assert!(L::LANES <= SLACK) };
    let hw = h * w;
    let hstride = tw + 1 + SLACK;
    let wp = 2 * hstride;
    let t_pad = (g1 - g0).div_ceil(TILE_GROUP) * TILE_GROUP;
    let vs = t_pad + SLACK;
    // V[ξ][ci][t], t = g − g0, rows of stride vs.
    scr.v.resize(16 * cin * vs, 0.0);
    // The 4 padded input rows of a tile row, each stored as its even columns then its odd
    // ones (tw + 1 each, at stride hstride), so that the transforms read consecutive values.
    scr.rows.resize(4 * wp, 0.0);
    // One image row zero-padded by one on the left and by 2·SLACK + 1 (at least) on the
    // right; only columns 1..=w are ever written.
    scr.line.resize(2 * tw + 2 + 2 * SLACK, 0.0);
    for (s, ty, tx0, tx1, t0) in geom.runs((g0, g1)) {
        for ci in 0..cin {
            let plane = &x[(s * cin + ci) * hw..][..hw];
            // Only the columns of tiles tx0..tx1: even and odd padded columns tx0..=tx1,
            // image columns 2·tx0 − 1 .. 2·tx1 + 1 copied into the zero-padded line first.
            let n = tx1 - tx0;
            let (c0, c1) = ((2 * tx0).max(1) - 1, (2 * tx1 + 1).min(w));
            for (i, row) in scr.rows.chunks_exact_mut(wp).enumerate() {
                let y = (2 * ty + i).wrapping_sub(1);
                let (e, o) = row.split_at_mut(hstride);
                if y < h {
                    scr.line[c0 + 1..c1 + 1].copy_from_slice(&plane[y * w + c0..y * w + c1]);
                    let nv = (n + 1).next_multiple_of(lanes);
                    // SAFETY: the CPU runs L.
                    unsafe {
                        L::deinterleave(
                            &scr.line[2 * tx0..],
                            &mut e[tx0..tx0 + nv],
                            &mut o[tx0..tx0 + nv],
                        )
                    };
                } else {
                    e[tx0..=tx1].fill(0.0);
                    o[tx0..=tx1].fill(0.0);
                }
            }
            // V = Bᵀ d B: the rows d0 − d2, d1 + d2, d2 − d1, d1 − d3 of the 4 padded rows,
            // then of each the columns e0 − e1, o0 + e1, e1 − o0, o0 − o1 (e, o: even and odd
            // padded columns, 1: one tile on).
            let rows = scr.rows.as_ptr();
            let v = scr.v.as_mut_ptr();
            for t in (0..tx1 - tx0).step_by(lanes) {
                // SAFETY: reads stay within the 4 rows (tx0 + t + lanes + 1 <= hstride) and
                // writes within the rows of V (t0 + t + lanes <= vs); the CPU runs L.
                unsafe {
                    let col = |odd: usize, shift: usize| {
                        let ld =
                            |i: usize| L::load(rows.add(i * wp + odd * hstride + tx0 + t + shift));
                        let r = [ld(0), ld(1), ld(2), ld(3)];
                        [
                            L::sub(r[0], r[2]),
                            L::add(r[1], r[2]),
                            L::sub(r[2], r[1]),
                            L::sub(r[1], r[3]),
                        ]
                    };
                    let (e0, e1, o0, o1) = (col(0, 0), col(0, 1), col(1, 0), col(1, 1));
                    for i in 0..4 {
                        let vals = [
                            L::sub(e0[i], e1[i]),
                            L::add(o0[i], e1[i]),
                            L::sub(e1[i], o0[i]),
                            L::sub(o0[i], o1[i]),
                        ];
                        for (j, &val) in vals.iter().enumerate() {
                            L::store(v.add(((4 * i + j) * cin + ci) * vs + t0 + t), val);
                        }
                    }
                }
            }
        }
    }
    vs
}

/// Tiles g0..g1 of the batch: transform the input into V, multiply by U into M, transform M
/// into the output pixels. Inlined into each level's `#[target_feature]` function.
///
/// # Safety
/// `out` points to the batch's (n, cout, h, w) output; the CPU runs level `L`.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
#[inline(always)]
unsafe fn band_with<L: Level>(
    x: &[f32],
    k: &WinogradKernel,
    epilogue: Epilogue<'_>,
    geom: &Geometry,
    (g0, g1): (usize, usize),
    scr: &mut Scratch,
    out: *mut f32,
) {
    let &Geometry {
        cin,
        cout,
        h,
        w,
        tw,
        ..
    } = geom;
    let lanes = L::LANES;
    let hw = h * w;
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
    // y = Aᵀ M A with Aᵀ = [1 1 1 0; 0 1 −1 −1], plus the epilogue, run by run:
    // s0_j = m_j + m_4+j + m_8+j and s1_j = m_4+j − m_8+j − m_12+j (ξ = 4i + j), then
    // y_a0 = s_a0 + s_a1 + s_a2 and y_a1 = s_a1 − s_a2 − s_a3, interleaved into row 2ty + a.
    let mstride = cblocks * COUT_BLOCK * vs;
    let ys = 2 * (tw + SLACK);
    scr.y.resize(2 * ys, 0.0);
    for (s, ty, tx0, tx1, t0) in geom.runs((g0, g1)) {
        let ep = epilogue.sample(s, cout, hw);
        // Output columns 2·tx0 .. min(2·tx1, w).
        let (x0, x1) = (2 * tx0, (2 * tx1).min(w));
        for co in 0..cout {
            let m = scr.m.as_ptr();
            let y = scr.y.as_mut_ptr();
            // SAFETY: the CPU runs L.
            let bias = unsafe { L::splat(ep.bias.map_or(0.0, |b| b[co])) };
            for t in (0..tx1 - tx0).step_by(lanes) {
                // SAFETY: reads stay within the rows of M (t0 + t + lanes <= vs), writes
                // within the two row buffers (2(t + lanes) <= ys); the CPU runs L.
                unsafe {
                    let m: [L::V; 16] =
                        std::array::from_fn(|xi| L::load(m.add(xi * mstride + co * vs + t0 + t)));
                    let s0: [L::V; 4] =
                        std::array::from_fn(|j| L::add(L::add(m[j], m[4 + j]), m[8 + j]));
                    let s1: [L::V; 4] =
                        std::array::from_fn(|j| L::sub(L::sub(m[4 + j], m[8 + j]), m[12 + j]));
                    for (a, sa) in [s0, s1].iter().enumerate() {
                        let y0 = L::add(L::add(L::add(sa[0], sa[1]), sa[2]), bias);
                        let y1 = L::add(L::sub(L::sub(sa[1], sa[2]), sa[3]), bias);
                        let (lo, hi) = L::zip(y0, y1);
                        L::store(y.add(a * ys + 2 * t), lo);
                        L::store(y.add(a * ys + 2 * t + lanes), hi);
                    }
                }
            }
            for a in 0..2 {
                let oy = 2 * ty + a;
                if oy >= h {
                    continue;
                }
                // SAFETY (caller): pixels x0..x1 of row oy of channel co lie in the output.
                let row = unsafe { out.add((s * cout + co) * hw + oy * w + x0) };
                let ya = &scr.y[a * ys..][..x1 - x0];
                match ep.residual {
                    Some(res) => {
                        let r = &res[co * hw + oy * w + x0..][..x1 - x0];
                        for (i, (y, r)) in ya.iter().zip(r).enumerate() {
                            // SAFETY: as above, i < x1 − x0.
                            unsafe { row.add(i).write(y + r) };
                        }
                    }
                    // SAFETY: as above; the row buffer is not the output.
                    None => unsafe { std::ptr::copy_nonoverlapping(ya.as_ptr(), row, x1 - x0) },
                }
            }
        }
    }
}

/// The weight gradient of a 3×3, stride-1, padding-1 conv from `cin` to `cout` channels over
/// samples `samples` of x (n, cin, h, w) and dy (n, cout, h, w), by the same transforms:
/// dW = Σ_tiles Gᵀ [(A dy Aᵀ) ⊙ (Bᵀ d B)] G, the products summed over the tiles as 16 matrix
/// products dU_ξ (cout × cin) += Ŷ_ξ (cout × tiles) · V_ξᵀ (tiles × cin) on the `gemm` crate,
/// band by band in order. Returns dW (cout, cin, 3, 3).
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
    let (th, tw) = (h.div_ceil(2), w.div_ceil(2));
    let geom = Geometry {
        cin,
        cout,
        h,
        w,
        th,
        tw,
    };
    let band = (BAND_FLOATS / (16 * (cin + cout)) / TILE_GROUP).max(1) * TILE_GROUP;
    let (ga, gb) = (samples.start * th * tw, samples.end * th * tw);
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
unsafe fn weight_band_with<L: Level>(
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

/// Ŷ[ξ][co][t] = (A dy Aᵀ)_ξ for the 2×2 output-gradient block of channel co of tile g0 + t,
/// A = [1 0; 1 1; 1 −1; 0 −1], zero past the image, into `scr.m` (rows of stride `vs`, as V's).
///
/// # Safety
/// The CPU runs level `L`.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
#[inline(always)]
unsafe fn output_grad_transform<L: Level>(
    dy: &[f32],
    geom: &Geometry,
    (g0, g1): (usize, usize),
    scr: &mut Scratch,
    vs: usize,
) {
    let &Geometry { cout, h, w, tw, .. } = geom;
    let lanes = L::LANES;
    let hw = h * w;
    let hstride = tw + SLACK;
    let wp = 2 * hstride;
    scr.m.resize(16 * cout * vs, 0.0);
    // The two rows of a tile row, each as its even columns then its odd ones (at stride
    // hstride); one row zero past column w (only columns 0..w are ever written).
    scr.dy_rows.resize(2 * wp, 0.0);
    scr.dy_line.resize(2 * tw + 2 * SLACK, 0.0);
    for (s, ty, tx0, tx1, t0) in geom.runs((g0, g1)) {
        let n = tx1 - tx0;
        let (c0, c1) = (2 * tx0, (2 * tx1).min(w));
        for co in 0..cout {
            let plane = &dy[(s * cout + co) * hw..][..hw];
            for (a, row) in scr.dy_rows.chunks_exact_mut(wp).enumerate() {
                let y = 2 * ty + a;
                let (e, o) = row.split_at_mut(hstride);
                if y < h {
                    scr.dy_line[c0..c1].copy_from_slice(&plane[y * w + c0..y * w + c1]);
                    let nv = n.next_multiple_of(lanes);
                    // SAFETY (caller): the CPU runs L.
                    unsafe {
                        L::deinterleave(
                            &scr.dy_line[c0..],
                            &mut e[tx0..tx0 + nv],
                            &mut o[tx0..tx0 + nv],
                        )
                    };
                } else {
                    e[tx0..tx1].fill(0.0);
                    o[tx0..tx1].fill(0.0);
                }
            }
            // A dy: rows r0, r0 + r1, r0 − r1, −r1; then each row (p, q) times Aᵀ:
            // p, p + q, p − q, −q.
            let rows = scr.dy_rows.as_ptr();
            let m = scr.m.as_mut_ptr();
            for t in (0..n).step_by(lanes) {
                // SAFETY: reads stay within the 2 rows (tx0 + t + lanes <= hstride), writes
                // within the rows of Ŷ (t0 + t + lanes <= vs); the CPU runs L.
                unsafe {
                    let ld =
                        |a: usize, odd: usize| L::load(rows.add(a * wp + odd * hstride + tx0 + t));
                    let (p0, q0, p1, q1) = (ld(0, 0), ld(0, 1), ld(1, 0), ld(1, 1));
                    let zero = L::splat(0.0);
                    let r = [
                        (p0, q0),
                        (L::add(p0, p1), L::add(q0, q1)),
                        (L::sub(p0, p1), L::sub(q0, q1)),
                        (L::sub(zero, p1), L::sub(zero, q1)),
                    ];
                    for (i, &(p, q)) in r.iter().enumerate() {
                        let vals = [p, L::add(p, q), L::sub(p, q), L::sub(zero, q)];
                        for (j, &val) in vals.iter().enumerate() {
                            L::store(m.add(((4 * i + j) * cout + co) * vs + t0 + t), val);
                        }
                    }
                }
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::{
        __m512, _mm512_add_ps, _mm512_fmadd_ps, _mm512_loadu_ps, _mm512_permutex2var_ps,
        _mm512_set1_ps, _mm512_setr_epi32, _mm512_setzero_ps, _mm512_storeu_ps, _mm512_sub_ps,
    };

    use super::{
        COUT_BLOCK, Epilogue, Geometry, Level, Scratch, TILE_GROUP, WinogradKernel, band_with,
        weight_band_with,
    };

    const LANES: usize = 16;
    const VECS: usize = TILE_GROUP / LANES;

    struct Avx512;

    /// See [`band_with`].
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn band(
        x: &[f32],
        k: &WinogradKernel,
        ep: Epilogue<'_>,
        geom: &Geometry,
        tiles: (usize, usize),
        scr: &mut Scratch,
        out: *mut f32,
    ) {
        unsafe { band_with::<Avx512>(x, k, ep, geom, tiles, scr, out) }
    }

    /// See [`weight_band_with`].
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn weight_band(
        x: &[f32],
        dy: &[f32],
        geom: &Geometry,
        tiles: (usize, usize),
        scr: &mut Scratch,
        du: &mut [f32],
    ) {
        unsafe { weight_band_with::<Avx512>(x, dy, geom, tiles, scr, du) }
    }

    impl Level for Avx512 {
        type V = __m512;
        const LANES: usize = LANES;

        #[inline(always)]
        unsafe fn load(p: *const f32) -> __m512 {
            unsafe { _mm512_loadu_ps(p) }
        }

        #[inline(always)]
        unsafe fn store(p: *mut f32, v: __m512) {
            unsafe { _mm512_storeu_ps(p, v) }
        }

        #[inline(always)]
        unsafe fn add(a: __m512, b: __m512) -> __m512 {
            unsafe { _mm512_add_ps(a, b) }
        }

        #[inline(always)]
        unsafe fn sub(a: __m512, b: __m512) -> __m512 {
            unsafe { _mm512_sub_ps(a, b) }
        }

        #[inline(always)]
        unsafe fn splat(x: f32) -> __m512 {
            unsafe { _mm512_set1_ps(x) }
        }

        #[target_feature(enable = "avx512f")]
        unsafe fn gemm(u: &[f32], v: &[f32], cin: usize, t: usize, stride: usize, m: &mut [f32]) {
            assert!(
                u.len() >= cin * COUT_BLOCK
                    && t <= stride
                    && v.len() >= cin * stride
                    && m.len() >= COUT_BLOCK * stride
            );
            for t0 in (0..t).step_by(TILE_GROUP) {
                let mut acc: [[__m512; VECS]; COUT_BLOCK] =
                    [[_mm512_setzero_ps(); VECS]; COUT_BLOCK];
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
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::{
        __m256, _mm256_add_ps, _mm256_broadcast_ss, _mm256_castpd_ps, _mm256_castps_pd,
        _mm256_fmadd_ps, _mm256_loadu_ps, _mm256_permute2f128_ps, _mm256_permute4x64_pd,
        _mm256_set1_ps, _mm256_setzero_ps, _mm256_shuffle_ps, _mm256_storeu_ps, _mm256_sub_ps,
        _mm256_unpackhi_ps, _mm256_unpacklo_ps,
    };

    use super::{
        COUT_BLOCK, Epilogue, Geometry, Level, Scratch, TILE_GROUP, WinogradKernel, band_with,
        weight_band_with,
    };

    struct Avx2;

    const LANES: usize = 8;
    /// Output channels per register tile: half a kernel block.
    const COUT: usize = 4;
    /// Tile vectors per register tile: 2 × 4 = 8 accumulators, 2 input vectors and a
    /// broadcast weight in the 16 registers.
    const VECS: usize = 2;

    /// See [`band_with`].
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn band(
        x: &[f32],
        k: &WinogradKernel,
        ep: Epilogue<'_>,
        geom: &Geometry,
        tiles: (usize, usize),
        scr: &mut Scratch,
        out: *mut f32,
    ) {
        unsafe { band_with::<Avx2>(x, k, ep, geom, tiles, scr, out) }
    }

    /// See [`weight_band_with`].
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn weight_band(
        x: &[f32],
        dy: &[f32],
        geom: &Geometry,
        tiles: (usize, usize),
        scr: &mut Scratch,
        du: &mut [f32],
    ) {
        unsafe { weight_band_with::<Avx2>(x, dy, geom, tiles, scr, du) }
    }

    impl Level for Avx2 {
        type V = __m256;
        const LANES: usize = LANES;

        #[inline(always)]
        unsafe fn load(p: *const f32) -> __m256 {
            unsafe { _mm256_loadu_ps(p) }
        }

        #[inline(always)]
        unsafe fn store(p: *mut f32, v: __m256) {
            unsafe { _mm256_storeu_ps(p, v) }
        }

        #[inline(always)]
        unsafe fn add(a: __m256, b: __m256) -> __m256 {
            unsafe { _mm256_add_ps(a, b) }
        }

        #[inline(always)]
        unsafe fn sub(a: __m256, b: __m256) -> __m256 {
            unsafe { _mm256_sub_ps(a, b) }
        }

        #[inline(always)]
        unsafe fn splat(x: f32) -> __m256 {
            unsafe { _mm256_set1_ps(x) }
        }

        #[target_feature(enable = "avx2,fma")]
        unsafe fn gemm(u: &[f32], v: &[f32], cin: usize, t: usize, stride: usize, m: &mut [f32]) {
            assert!(
                u.len() >= cin * COUT_BLOCK
                    && t <= stride
                    && v.len() >= cin * stride
                    && m.len() >= COUT_BLOCK * stride
            );
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
}
