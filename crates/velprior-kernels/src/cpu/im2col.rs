//! Geometry of a 2-D convolution and the im2col / col2im transforms of one sample, over a band
//! of output rows (so that the column matrix of a band stays in cache).

/// Shapes of one convolution: input (cin, h, w), kernel (cout, cin, kh, kw), square stride and
/// zero padding, output (cout, ho, wo).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ConvGeom {
    pub cin: usize,
    pub h: usize,
    pub w: usize,
    pub cout: usize,
    pub kh: usize,
    pub kw: usize,
    pub stride: usize,
    pub pad: usize,
    pub ho: usize,
    pub wo: usize,
}

/// Column-matrix elements per band (f32): 512 KiB, about half of a core's L2.
const BAND_ELEMS: usize = 1 << 17;
/// Fewest output pixels per band, so that gemm's packing of the kernel matrix stays cheap.
const MIN_BAND_PIXELS: usize = 512;

impl ConvGeom {
    /// Geometry from the input (cin, h, w), the kernel (cout, kh, kw), stride and padding;
    /// `None` when the (padded) input is smaller than the kernel.
    pub fn new(
        (cin, h, w): (usize, usize, usize),
        (cout, kh, kw): (usize, usize, usize),
        stride: usize,
        pad: usize,
    ) -> Option<Self> {
        let (hp, wp) = (h + 2 * pad, w + 2 * pad);
        if stride == 0 || hp < kh || wp < kw {
            return None;
        }
        Some(ConvGeom {
            cin,
            h,
            w,
            cout,
            kh,
            kw,
            stride,
            pad,
            ho: (hp - kh) / stride + 1,
            wo: (wp - kw) / stride + 1,
        })
    }

    /// Rows of the column matrix: cin · kh · kw.
    pub fn k(&self) -> usize {
        self.cin * self.kh * self.kw
    }

    /// A 1×1, stride-1, unpadded conv: the input already is its column matrix.
    pub fn is_pointwise(&self) -> bool {
        self.kh == 1 && self.kw == 1 && self.stride == 1 && self.pad == 0
    }

    /// Output-row bands `[oy0, oy1)` covering `0..ho`.
    pub fn bands(&self) -> impl Iterator<Item = (usize, usize)> + use<> {
        let rows = if self.is_pointwise() {
            self.ho
        } else {
            let by_cache = BAND_ELEMS / (self.k() * self.wo).max(1);
            let by_gemm = MIN_BAND_PIXELS.div_ceil(self.wo);
            by_cache.max(by_gemm).clamp(1, self.ho)
        };
        let ho = self.ho;
        (0..ho.div_ceil(rows)).map(move |b| (b * rows, ((b + 1) * rows).min(ho)))
    }

    /// Output columns `ox` whose input column `ox·stride + j − pad` lies inside `0..w`.
    fn valid_cols(&self, j: usize) -> (usize, usize) {
        let (s, p) = (self.stride, self.pad);
        let lo = p.saturating_sub(j).div_ceil(s);
        let hi = if self.w + p > j {
            ((self.w + p - j - 1) / s + 1).min(self.wo)
        } else {
            0
        };
        (lo.min(hi), hi)
    }

    /// Input row of output row `oy` and kernel row `i`, if inside the image.
    fn in_row(&self, oy: usize, i: usize) -> Option<usize> {
        (oy * self.stride + i)
            .checked_sub(self.pad)
            .filter(|&iy| iy < self.h)
    }
}

/// Column matrix of one sample `x` (cin, h, w) for output rows `oy0..oy1`:
/// `cols[(c·kh + i)·kw + j][(oy − oy0)·wo + ox] = x[c][oy·s + i − p][ox·s + j − p]` (0 outside).
pub(crate) fn im2col(x: &[f32], g: &ConvGeom, (oy0, oy1): (usize, usize), cols: &mut [f32]) {
    let (hw, wo) = (g.h * g.w, g.wo);
    let t = (oy1 - oy0) * wo;
    for c in 0..g.cin {
        let xc = &x[c * hw..(c + 1) * hw];
        for i in 0..g.kh {
            for j in 0..g.kw {
                let (lo, hi) = g.valid_cols(j);
                let r = (c * g.kh + i) * g.kw + j;
                let row = &mut cols[r * t..(r + 1) * t];
                for oy in oy0..oy1 {
                    let dst = &mut row[(oy - oy0) * wo..(oy - oy0 + 1) * wo];
                    let Some(iy) = g.in_row(oy, i) else {
                        dst.fill(0.0);
                        continue;
                    };
                    dst[..lo].fill(0.0);
                    dst[hi..].fill(0.0);
                    if lo < hi {
                        let src = &xc[iy * g.w..(iy + 1) * g.w];
                        let x0 = lo * g.stride + j - g.pad;
                        if g.stride == 1 {
                            dst[lo..hi].copy_from_slice(&src[x0..x0 + hi - lo]);
                        } else {
                            for (k, d) in dst[lo..hi].iter_mut().enumerate() {
                                *d = src[x0 + k * g.stride];
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Adjoint of [`im2col`]: adds the column matrix of output rows `oy0..oy1` back onto the
/// sample gradient `dx` (cin, h, w).
pub(crate) fn col2im_add(cols: &[f32], g: &ConvGeom, (oy0, oy1): (usize, usize), dx: &mut [f32]) {
    let (hw, wo) = (g.h * g.w, g.wo);
    let t = (oy1 - oy0) * wo;
    for c in 0..g.cin {
        let dxc = &mut dx[c * hw..(c + 1) * hw];
        for i in 0..g.kh {
            for j in 0..g.kw {
                let (lo, hi) = g.valid_cols(j);
                if lo >= hi {
                    continue;
                }
                let r = (c * g.kh + i) * g.kw + j;
                let row = &cols[r * t..(r + 1) * t];
                for oy in oy0..oy1 {
                    let Some(iy) = g.in_row(oy, i) else { continue };
                    let src = &row[(oy - oy0) * wo + lo..(oy - oy0) * wo + hi];
                    let dst = &mut dxc[iy * g.w..(iy + 1) * g.w];
                    let x0 = lo * g.stride + j - g.pad;
                    if g.stride == 1 {
                        for (d, &s) in dst[x0..x0 + hi - lo].iter_mut().zip(src) {
                            *d += s;
                        }
                    } else {
                        for (k, &s) in src.iter().enumerate() {
                            dst[x0 + k * g.stride] += s;
                        }
                    }
                }
            }
        }
    }
}

/// Pixel-major column matrix of output rows `oy0..oy1` from a padded channels-last sample `xp`
/// ([`pad_channels_last`](super::channels_last::pad_channels_last)): `cols[(oy − oy0)·wo + ox][(i·kw + j)·cin + c] = x[c][oy·s + i − p][ox·s + j − p]`.
/// The taps are ordered (i, j, c), not (c, i, j) as in [`im2col`].
pub(crate) fn im2col_pixel_major(
    xp: &[f32],
    g: &ConvGeom,
    (oy0, oy1): (usize, usize),
    cols: &mut [f32],
) {
    let (cin, s, k) = (g.cin, g.stride, g.k());
    let wp = g.w + 2 * g.pad;
    for oy in oy0..oy1 {
        for ox in 0..g.wo {
            let row = &mut cols[((oy - oy0) * g.wo + ox) * k..][..k];
            for i in 0..g.kh {
                let src = &xp[((oy * s + i) * wp + ox * s) * cin..];
                let n = g.kw * cin;
                row[i * n..(i + 1) * n].copy_from_slice(&src[..n]);
            }
        }
    }
}
