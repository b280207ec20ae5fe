//! Direct 3×3, stride-1, padding-1 convolution on AVX-512 and AVX2 + FMA CPUs: no column
//! matrix. The sample is zero-padded once, and each tile of output pixels × output channels is
//! accumulated in registers over (input channel, tap), loading its input vectors straight from
//! the padded image: 3 × 16 pixels × [`COUT_BLOCK`] channels in 24 of AVX-512's 32 registers,
//! 2 × 8 pixels × 4 channels in 8 of AVX2's 16. The same kernel computes the stride-1 input
//! gradient: a convolution of dy with the transposed, flipped kernel
//! ([`Taps::transposed_flipped`]).
//!
//! Output pixels are numbered with the padded image's row stride, q = y·(w + 2) + x, so that a
//! vector of consecutive q reads consecutive padded input at every tap whatever the width (70,
//! 35, 18 as well as 64): the two positions past each row's end are computed and not stored,
//! and a vector that spans a row end is stored as masked runs ([`Runs`]).
//!
//! Convs with at least 32 channels in and out take the Winograd path instead (`winograd/`);
//! other geometries (stride 2, 1×1) and other CPUs keep the im2col path.

use std::mem::MaybeUninit;

use rayon::prelude::*;

use super::im2col::ConvGeom;
use super::simd::{Simd, detected_simd, simd};
use super::taps::Taps;

/// Output channels per block of the packed kernel (and per AVX-512 register tile).
const COUT_BLOCK: usize = 8;
/// Pixel vectors per register tile.
const PIXEL_VECS: usize = 3;

/// f32 lanes of a register at `level`.
fn lanes(level: Simd) -> usize {
    if level == Simd::Avx512 { 16 } else { 8 }
}

/// Zeros after the padded sample: a vector whose first position is the last output pixel
/// reads up to 15 values past the padded image at the last tap.
const SLACK: usize = 16;

/// The vector level [`conv3x3`] serves the geometry `g` with on this CPU, if any.
pub(crate) fn path(g: &ConvGeom) -> Option<Simd> {
    let level = simd();
    let direct = g.kh == 3 && g.kw == 3 && g.stride == 1 && g.pad == 1;
    (direct && level != Simd::Portable).then_some(level)
}

/// A 3×3 kernel laid out for the register tiles: blocks of [`COUT_BLOCK`] output channels,
/// each `(cin, 9 taps, COUT_BLOCK)`, zero past the last output channel.
pub(crate) struct PackedKernel {
    data: Vec<f32>,
    cin: usize,
    cout: usize,
}

impl PackedKernel {
    /// Packs the kernel `taps`.
    pub(crate) fn new(taps: Taps<'_>) -> Self {
        let (cout, cin) = (taps.cout(), taps.cin());
        let blocks = cout.div_ceil(COUT_BLOCK);
        let mut data = vec![0f32; blocks * cin * 9 * COUT_BLOCK];
        for (b, blk) in data.chunks_exact_mut(cin * 9 * COUT_BLOCK).enumerate() {
            for ci in 0..cin {
                for tap in 0..9 {
                    for c in 0..COUT_BLOCK.min(cout - b * COUT_BLOCK) {
                        blk[(ci * 9 + tap) * COUT_BLOCK + c] =
                            taps.get(b * COUT_BLOCK + c, ci, tap);
                    }
                }
            }
        }
        PackedKernel { data, cin, cout }
    }
}

/// What is added to a convolution's output: a bias per channel, shared by the batch (cout
/// values) or per sample (n · cout), and a tensor of the output's shape (a residual).
#[derive(Clone, Copy, Default)]
pub(crate) struct Epilogue<'a> {
    pub bias: Option<&'a [f32]>,
    pub residual: Option<&'a [f32]>,
}

impl<'a> Epilogue<'a> {
    /// The bias (cout) and residual (cout · pixels) of sample `s`.
    pub(crate) fn sample(&self, s: usize, cout: usize, pixels: usize) -> Epilogue<'a> {
        Epilogue {
            bias: self.bias.map(|b| {
                if b.len() == cout {
                    b
                } else {
                    &b[s * cout..(s + 1) * cout]
                }
            }),
            residual: self
                .residual
                .map(|r| &r[s * cout * pixels..(s + 1) * cout * pixels]),
        }
    }
}

/// `out = conv(x, w) + epilogue` over a batch: x (n, cin, h, w), out (n, cout, h, w), with
/// the vectors of `level` (from [`path`] for the geometry). Writes every element of `out`.
pub(crate) fn conv3x3(
    x: &[f32],
    k: &PackedKernel,
    epilogue: Epilogue<'_>,
    (h, w): (usize, usize),
    level: Simd,
    out: &mut [MaybeUninit<f32>],
) {
    let (cin, cout, hw) = (k.cin, k.cout, h * w);
    let n = x.len() / (cin * hw);
    assert_eq!(n, out.len() / (cout * hw), "conv3x3: batch sizes differ");
    // One task per sample when the batch fills the pool, else one per block of channels.
    let blocks_per_task = if n >= rayon::current_num_threads() {
        cout.div_ceil(COUT_BLOCK)
    } else {
        1
    };
    out.par_chunks_mut(cout * hw)
        .zip(x.par_chunks(cin * hw))
        .enumerate()
        .for_each_init(Vec::new, |xp, (s, (out_s, xs))| {
            pad_sample(xs, cin, (h, w), xp);
            let ep = epilogue.sample(s, cout, hw);
            out_s
                .par_chunks_mut(blocks_per_task * COUT_BLOCK * hw)
                .enumerate()
                .for_each(|(t, out_g)| {
                    channels(xp, k, ep, (h, w), level, t * blocks_per_task, out_g);
                });
        });
}

/// `xs` (cin, h, w) zero-padded by one pixel on each side into `xp` (cin, h + 2, w + 2),
/// followed by [`SLACK`] zeros. A buffer already of that size is one this function filled for
/// the same geometry: its border is still zero, and only the interior is written.
fn pad_sample(xs: &[f32], cin: usize, (h, w): (usize, usize), xp: &mut Vec<f32>) {
    let wp = w + 2;
    let len = cin * (h + 2) * wp + SLACK;
    if xp.len() != len {
        xp.clear();
        xp.resize(len, 0.0);
    }
    for (xc, pc) in xs
        .chunks_exact(h * w)
        .zip(xp.chunks_exact_mut((h + 2) * wp))
    {
        for (src, dst) in xc.chunks_exact(w).zip(pc[wp..].chunks_exact_mut(wp)) {
            dst[1..=w].copy_from_slice(src);
        }
    }
}

/// Padded-input values per band of output pixels (256 KiB, an eighth of the L2 cache): the
/// band's input rows stay in cache while every block of output channels is accumulated.
const BAND_INPUT: usize = 1 << 16;

/// Output channels of one sample from block `b0` on (`out_g`: whole channels, h · w values
/// each), band of pixel tiles by band, with the vectors of `level` (never reached on other
/// architectures: [`path`] offers none there).
#[cfg_attr(not(target_arch = "x86_64"), allow(unused_variables, unused_mut))]
fn channels(
    xp: &[f32],
    k: &PackedKernel,
    ep: Epilogue<'_>,
    (h, w): (usize, usize),
    level: Simd,
    b0: usize,
    out_g: &mut [MaybeUninit<f32>],
) {
    let lanes = lanes(level);
    let (cin, hw) = (k.cin, h * w);
    let kblock = cin * 9 * COUT_BLOCK;
    assert!(
        xp.len() == cin * (h + 2) * (w + 2) + SLACK
            && out_g.len().is_multiple_of(hw)
            && b0 * COUT_BLOCK + out_g.len() / hw <= k.cout
            && ep.bias.is_none_or(|b| b.len() == k.cout)
            && ep.residual.is_none_or(|r| r.len() == k.cout * hw)
            && h * w > 0
            && level <= detected_simd()
            && level != Simd::Portable,
        "conv3x3: buffer sizes do not match the geometry"
    );
    // Pixels per register tile; bands are whole tiles, so only an image's last tile is short.
    #[cfg(target_arch = "x86_64")]
    let tile = lanes
        * match level {
            Simd::Avx512 => PIXEL_VECS,
            _ => avx2::PIXEL_VECS,
        };
    #[cfg(not(target_arch = "x86_64"))]
    let tile = PIXEL_VECS * lanes;
    // Output positions q = y·(w + 2) + x, the last pixel's at end − 1.
    let end = (h - 1) * (w + 2) + w;
    let rows = (BAND_INPUT / (cin * (w + 2))).saturating_sub(2).max(1);
    let band = (rows * (w + 2) / tile).max(1) * tile;
    for p0 in (0..end).step_by(band) {
        let p1 = (p0 + band).min(end);
        for (i, out_b) in out_g.chunks_mut(COUT_BLOCK * hw).enumerate() {
            let (b, m) = (b0 + i, out_b.len() / hw);
            let co = b * COUT_BLOCK;
            let mut bb = [0f32; COUT_BLOCK];
            if let Some(bias) = ep.bias {
                bb[..m].copy_from_slice(&bias[co..co + m]);
            }
            let res = ep.residual.map(|r| &r[co * hw..(co + m) * hw]);
            let kb = &k.data[b * kblock..(b + 1) * kblock];
            let mut p = p0;
            let block = (&bb, res);
            #[cfg(target_arch = "x86_64")]
            // SAFETY: the assert above checked the level against the CPU and, with the sizes,
            // that every load of the padded input (q + tap offset + lane < (h + 2)(w + 2) +
            // SLACK past each channel's start, q < end), of the kernel block and every store of
            // the m channels (runs of pixels < h · w) stays in bounds.
            unsafe {
                let at = |p| (xp, cin, (h, w), kb, block, p);
                if level == Simd::Avx512 {
                    while p + tile <= p1 {
                        avx512::tile::<PIXEL_VECS>(at(p), out_b);
                        p += tile;
                    }
                    match (p1 - p).div_ceil(lanes) {
                        3 => avx512::tile::<3>(at(p), out_b),
                        2 => avx512::tile::<2>(at(p), out_b),
                        1 => avx512::tile::<1>(at(p), out_b),
                        _ => {}
                    }
                } else {
                    for half in (0..m).step_by(avx2::COUT) {
                        let mut p = p;
                        while p + tile <= p1 {
                            avx2::tile::<{ avx2::PIXEL_VECS }>(at(p), half, out_b);
                            p += tile;
                        }
                        match (p1 - p).div_ceil(lanes) {
                            2 => avx2::tile::<2>(at(p), half, out_b),
                            1 => avx2::tile::<1>(at(p), half, out_b),
                            _ => {}
                        }
                    }
                }
            }
        }
    }
}

/// The runs of a vector of `width` output positions from `q` (numbered q = y·(w + 2) + x)
/// that hold pixels, as (first lane, lanes, pixel y·w + x of the first lane). Positions past
/// each row's end and past the last pixel are left out.
#[cfg(target_arch = "x86_64")]
struct Runs {
    q: usize,
    width: usize,
    h: usize,
    w: usize,
    y: usize,
    x: usize,
}

#[cfg(target_arch = "x86_64")]
impl Runs {
    #[inline(always)]
    fn new(q: usize, width: usize, (h, w): (usize, usize)) -> Self {
        let (y, x) = (q / (w + 2), q % (w + 2));
        Runs {
            q,
            width,
            h,
            w,
            y,
            x,
        }
    }
}

#[cfg(target_arch = "x86_64")]
impl Iterator for Runs {
    type Item = (usize, usize, usize);

    #[inline(always)]
    fn next(&mut self) -> Option<Self::Item> {
        let Runs { q, width, h, w, .. } = *self;
        loop {
            let (y, x) = (self.y, self.x);
            if y >= h || y * (w + 2) + x >= q + width {
                return None;
            }
            (self.y, self.x) = (y + 1, 0);
            if x < w {
                let lane = y * (w + 2) + x - q;
                return Some((lane, (w - x).min(width - lane), y * w + x));
            }
        }
    }
}

/// What a register tile reads: the padded sample, its channels, the image size, the kernel
/// block, the block's biases and residual, and the tile's first output position.
#[cfg(target_arch = "x86_64")]
type TileInput<'a> = (
    &'a [f32],
    usize,
    (usize, usize),
    &'a [f32],
    (&'a [f32; COUT_BLOCK], Option<&'a [f32]>),
    usize,
);

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::{
        __m512, _mm512_add_ps, _mm512_fmadd_ps, _mm512_loadu_ps, _mm512_mask_storeu_ps,
        _mm512_maskz_loadu_ps, _mm512_set1_ps, _mm512_storeu_ps,
    };
    use std::mem::MaybeUninit;

    use super::{COUT_BLOCK, Runs, TileInput};

    const LANES: usize = 16;

    /// V vectors of 16 output positions from `q0` (q = y·(w + 2) + x) × COUT_BLOCK channels,
    /// plus the biases and the residual (m channels, as `out_b`); stores the pixels among them
    /// of the m = out_b.len() / (h · w) channels of the block.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn tile<const V: usize>(
        (xp, cin, (h, w), kb, (bias, res), q0): TileInput<'_>,
        out_b: &mut [MaybeUninit<f32>],
    ) {
        let (wp, plane, hw) = (w + 2, (h + 2) * (w + 2), h * w);
        // Offset in the padded plane of each vector's first position at tap (0, 0).
        let base: [usize; V] = std::array::from_fn(|v| q0 + v * LANES);
        let mut acc: [[__m512; V]; COUT_BLOCK] =
            std::array::from_fn(|c| [_mm512_set1_ps(bias[c]); V]);
        let (mut xc, mut wc) = (xp.as_ptr(), kb.as_ptr());
        for _ in 0..cin {
            for i in 0..3 {
                for j in 0..3 {
                    let off = i * wp + j;
                    // SAFETY (caller): base + off + 15 < plane + SLACK for every vector and tap.
                    let xv: [__m512; V] =
                        std::array::from_fn(|v| unsafe { _mm512_loadu_ps(xc.add(base[v] + off)) });
                    for (c, a) in acc.iter_mut().enumerate() {
                        let wv = _mm512_set1_ps(unsafe { *wc.add(c) });
                        for v in 0..V {
                            a[v] = _mm512_fmadd_ps(xv[v], wv, a[v]);
                        }
                    }
                    wc = unsafe { wc.add(COUT_BLOCK) };
                }
            }
            xc = unsafe { xc.add(plane) };
        }
        // Through memory once, with constant indices, so that the loop above keeps the
        // accumulators in registers.
        let mut sums = [[[0f32; LANES]; V]; COUT_BLOCK];
        for c in 0..COUT_BLOCK {
            for v in 0..V {
                unsafe { _mm512_storeu_ps(sums[c][v].as_mut_ptr(), acc[c][v]) };
            }
        }
        let m = out_b.len() / hw;
        let out = out_b.as_mut_ptr().cast::<f32>();
        for (v, &q) in base.iter().enumerate() {
            for (lane, n, pixel) in Runs::new(q, LANES, (h, w)) {
                let mask = (((1u32 << n) - 1) << lane) as u16;
                for (c, sum) in sums.iter().enumerate().take(m) {
                    let a = unsafe { _mm512_loadu_ps(sum[v].as_ptr()) };
                    // Lane 0's address: the run's lanes land on pixels pixel..pixel + n of
                    // channel c, which exist; the masked-off lanes are not touched.
                    let i = (c * hw + pixel).wrapping_sub(lane);
                    let av = match res {
                        Some(r) => _mm512_add_ps(a, unsafe {
                            _mm512_maskz_loadu_ps(mask, r.as_ptr().wrapping_add(i))
                        }),
                        None => a,
                    };
                    unsafe { _mm512_mask_storeu_ps(out.wrapping_add(i), mask, av) };
                }
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::{
        __m256, _mm256_add_ps, _mm256_and_si256, _mm256_broadcast_ss, _mm256_cmpgt_epi32,
        _mm256_fmadd_ps, _mm256_loadu_ps, _mm256_maskload_ps, _mm256_maskstore_ps,
        _mm256_set1_epi32, _mm256_set1_ps, _mm256_setr_epi32, _mm256_storeu_ps,
    };
    use std::mem::MaybeUninit;

    use super::{COUT_BLOCK, Runs, TileInput};

    const LANES: usize = 8;
    /// Output channels per register tile: half a kernel block.
    pub(super) const COUT: usize = 4;
    /// Pixel vectors per register tile: 2 × 4 = 8 accumulators, 2 input vectors and a
    /// broadcast weight in the 16 registers.
    pub(super) const PIXEL_VECS: usize = 2;

    /// V vectors of 8 output positions from `q0` (q = y·(w + 2) + x) × channels `c0..c0 + 4`
    /// of the block, plus their biases and residual; stores the pixels among them of those of
    /// the m = out_b.len() / (h · w) channels of the block that exist.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn tile<const V: usize>(
        (xp, cin, (h, w), kb, (bias, res), q0): TileInput<'_>,
        c0: usize,
        out_b: &mut [MaybeUninit<f32>],
    ) {
        let (wp, plane, hw) = (w + 2, (h + 2) * (w + 2), h * w);
        let base: [usize; V] = std::array::from_fn(|v| q0 + v * LANES);
        let mut acc: [[__m256; V]; COUT] =
            std::array::from_fn(|c| [_mm256_set1_ps(bias[c0 + c]); V]);
        // SAFETY (caller): c0 + 4 <= COUT_BLOCK, so every weight read stays in the block.
        let (mut xc, mut wc) = (xp.as_ptr(), unsafe { kb.as_ptr().add(c0) });
        for _ in 0..cin {
            for i in 0..3 {
                for j in 0..3 {
                    let off = i * wp + j;
                    // SAFETY (caller): base + off + 7 < plane + SLACK for every vector and tap.
                    let xv: [__m256; V] =
                        std::array::from_fn(|v| unsafe { _mm256_loadu_ps(xc.add(base[v] + off)) });
                    for (c, a) in acc.iter_mut().enumerate() {
                        let wv = unsafe { _mm256_broadcast_ss(&*wc.add(c)) };
                        for v in 0..V {
                            a[v] = _mm256_fmadd_ps(xv[v], wv, a[v]);
                        }
                    }
                    wc = unsafe { wc.add(COUT_BLOCK) };
                }
            }
            xc = unsafe { xc.add(plane) };
        }
        // Through memory once, with constant indices, so that the loop above keeps the
        // accumulators in registers.
        let mut sums = [[[0f32; LANES]; V]; COUT];
        for c in 0..COUT {
            for v in 0..V {
                unsafe { _mm256_storeu_ps(sums[c][v].as_mut_ptr(), acc[c][v]) };
            }
        }
        let m = out_b.len() / hw;
        let out = out_b.as_mut_ptr().cast::<f32>();
        let lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        for (v, &q) in base.iter().enumerate() {
            for (lane, n, pixel) in Runs::new(q, LANES, (h, w)) {
                // Lanes lane..lane + n: all bits set in those, none elsewhere.
                let mask = _mm256_and_si256(
                    _mm256_cmpgt_epi32(lanes, _mm256_set1_epi32(lane as i32 - 1)),
                    _mm256_cmpgt_epi32(_mm256_set1_epi32((lane + n) as i32), lanes),
                );
                for (c, sum) in sums.iter().enumerate().take(m.saturating_sub(c0)) {
                    let a = unsafe { _mm256_loadu_ps(sum[v].as_ptr()) };
                    // Lane 0's address: the run's lanes land on pixels pixel..pixel + n of
                    // channel c0 + c, which exist; the masked-off lanes are not touched.
                    let i = ((c0 + c) * hw + pixel).wrapping_sub(lane);
                    let av = match res {
                        Some(r) => _mm256_add_ps(a, unsafe {
                            _mm256_maskload_ps(r.as_ptr().wrapping_add(i), mask)
                        }),
                        None => a,
                    };
                    unsafe { _mm256_maskstore_ps(out.wrapping_add(i), mask, av) };
                }
            }
        }
    }
}
