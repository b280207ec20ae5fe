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
//!
//! Files: `kernel.rs` (U), `transforms.rs` (V, Ŷ and y), `conv.rs` (the convolution),
//! `weight_grad.rs`, `level.rs` (what a vector level provides) and one file per level.

mod conv;
mod kernel;
mod level;
mod transforms;
mod weight_grad;

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
mod avx512;

pub(crate) use conv::conv3x3_winograd;
pub(crate) use kernel::WinogradKernel;
pub(crate) use weight_grad::weight_grad_winograd;

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU8, Ordering};

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
    /// A conv from `cin` to `cout` channels on h × w images, in 2×2 tiles.
    fn new(cin: usize, cout: usize, (h, w): (usize, usize)) -> Self {
        Geometry {
            cin,
            cout,
            h,
            w,
            th: h.div_ceil(2),
            tw: w.div_ceil(2),
        }
    }

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
