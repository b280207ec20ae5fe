//! Central finite-difference stencils (4th and 8th order) and the fused leapfrog row update.
//!
//! Fields live on a *storage grid*: the padded modelling grid (nzp, nxp) surrounded by a halo of
//! `R = order/2` zero cells on every side, row-major, so every stencil is a contiguous slice
//! operation without bounds tests. Halo cells are never written: the field is zero-extended.

use crate::boundary::cpml::{CorrView, RowCorr};
use crate::error::{Result, param};

/// Second-derivative coefficients c0..c4 (centre first) for orders 4 and 8, unit spacing.
const D2_4: [f32; 5] = [-2.5, 4.0 / 3.0, -1.0 / 12.0, 0.0, 0.0];
const D2_8: [f32; 5] = [
    -205.0 / 72.0,
    8.0 / 5.0,
    -1.0 / 5.0,
    8.0 / 315.0,
    -1.0 / 560.0,
];
/// First-derivative coefficients a1..a4 for orders 4 and 8, unit spacing.
const D1_4: [f32; 4] = [2.0 / 3.0, -1.0 / 12.0, 0.0, 0.0];
const D1_8: [f32; 4] = [4.0 / 5.0, -1.0 / 5.0, 4.0 / 105.0, -1.0 / 280.0];

/// Stencil coefficients scaled by the grid spacing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stencil {
    /// Half-width R (2 for 4th order, 4 for 8th order).
    pub radius: usize,
    /// 1-D second-derivative coefficients /dx² (centre first), 1/m².
    pub d2: [f32; 5],
    /// 1-D first-derivative coefficients /dx, 1/m.
    pub d1: [f32; 4],
}

impl Stencil {
    /// Stencil of spatial accuracy `order` (4 or 8) for grid spacing `dx` (m).
    pub fn new(order: usize, dx: f32) -> Result<Self> {
        let (d2, d1, radius) = match order {
            4 => (D2_4, D1_4, 2),
            8 => (D2_8, D1_8, 4),
            _ => {
                return Err(param(
                    "order",
                    format!("spatial order must be 4 or 8, got {order}"),
                ));
            }
        };
        if !(dx.is_finite() && dx > 0.0) {
            return Err(param("dx", format!("grid spacing must be > 0 m, got {dx}")));
        }
        let s2 = 1.0 / (dx * dx);
        Ok(Self {
            radius,
            d2: d2.map(|c| c * s2),
            d1: d1.map(|c| c / dx),
        })
    }

    /// Largest eigenvalue of −∇² (2-D) of this stencil, 1/m²: the Nyquist symbol.
    pub fn laplacian_spectral_radius(&self) -> f32 {
        let one_d: f32 = -self.d2[0]
            - 2.0
                * (1..5)
                    .map(|k| if k % 2 == 1 { -self.d2[k] } else { self.d2[k] })
                    .sum::<f32>();
        2.0 * one_d
    }

    /// Largest stable leapfrog time step (s) for velocity `vmax` (m/s): v²dt²λmax ≤ 4.
    pub fn max_stable_dt(&self, vmax: f32) -> f32 {
        2.0 / (vmax * self.laplacian_spectral_radius().sqrt())
    }
}

/// What one leapfrog row update does besides `next = 2u − prev + c·W`.
#[derive(Clone, Copy)]
pub(crate) struct RowKind {
    /// Subtract k·(u − prev) (quadratic damping border).
    pub damp: bool,
    /// Write W = ∇²u (+ correction) to a store buffer (for the gradient).
    pub store: bool,
}

/// Inputs of a block of rows: all slices are full storage-grid arrays except `out`/`store`
/// which start at storage row `row0` and hold whole storage rows.
pub(crate) struct RowBlock<'a> {
    pub st: &'a Stencil,
    pub nxs: usize,
    pub nxp: usize,
    pub row0: usize,
    /// Padded columns to update (all of them when `corr` is given).
    pub cols: std::ops::Range<usize>,
    pub cur: &'a [f32],
    pub c: &'a [f32],
    pub k: &'a [f32],
    /// C-PML corrections added to W on the strips.
    pub corr: Option<CorrView<'a>>,
}

/// Update the rows held by `out` (the previous wavefield, overwritten by the next one):
/// next = 2u − prev + c·(∇²u + corr) − k·(u − prev).
pub(crate) fn update_rows(b: &RowBlock, out: &mut [f32], store: &mut [f32], kind: RowKind) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: the CPU supports the features enabled on `update_rows_avx2`.
            unsafe { update_rows_avx2(b, out, store, kind) };
            return;
        }
    }
    update_rows_generic(b, out, store, kind);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn update_rows_avx2(b: &RowBlock, out: &mut [f32], store: &mut [f32], kind: RowKind) {
    update_rows_generic(b, out, store, kind);
}

#[inline(always)]
fn update_rows_generic(b: &RowBlock, out: &mut [f32], store: &mut [f32], kind: RowKind) {
    match (b.st.radius, kind.damp, kind.store) {
        (2, true, false) => rows::<2, true, false>(b, out, store),
        (2, true, true) => rows::<2, true, true>(b, out, store),
        (2, false, false) => rows::<2, false, false>(b, out, store),
        (2, false, true) => rows::<2, false, true>(b, out, store),
        (_, true, false) => rows::<4, true, false>(b, out, store),
        (_, true, true) => rows::<4, true, true>(b, out, store),
        (_, false, false) => rows::<4, false, false>(b, out, store),
        (_, false, true) => rows::<4, false, true>(b, out, store),
    }
}

#[inline(always)]
fn rows<const R: usize, const DAMP: bool, const STORE: bool>(
    b: &RowBlock,
    out: &mut [f32],
    store: &mut [f32],
) {
    let (nxs, n) = (b.nxs, b.nxp);
    let nrows = out.len() / nxs;
    for r in 0..nrows {
        let i = b.row0 + r;
        let o = &mut out[r * nxs..(r + 1) * nxs];
        let w: &mut [f32] = if STORE {
            &mut store[r * nxs..(r + 1) * nxs]
        } else {
            &mut []
        };
        let Some(cv) = &b.corr else {
            // No C-PML: only the window's columns.
            segment::<R, DAMP, false, STORE>(b, i, b.cols.clone(), o, w, &[]);
            continue;
        };
        match cv.row(i - R) {
            RowCorr::Full(cz) => segment::<R, DAMP, true, STORE>(b, i, 0..n, o, w, cz),
            RowCorr::Strips => {
                let mut j0 = 0;
                for (k, xr) in cv.prof.xs.iter().enumerate() {
                    segment::<R, DAMP, false, STORE>(b, i, j0..xr.start, o, w, &[]);
                    let cx = cv.x_row(k, i - R);
                    segment::<R, DAMP, true, STORE>(b, i, xr.clone(), o, w, cx);
                    j0 = xr.end;
                }
                segment::<R, DAMP, false, STORE>(b, i, j0..n, o, w, &[]);
            }
        }
    }
}

/// Columns `cols` of storage row `i`: `o` and `w` hold the whole storage row, `corr` the
/// correction of the segment's cells.
#[inline(always)]
fn segment<const R: usize, const DAMP: bool, const CORR: bool, const STORE: bool>(
    b: &RowBlock,
    i: usize,
    cols: std::ops::Range<usize>,
    o: &mut [f32],
    w: &mut [f32],
    corr: &[f32],
) {
    let n = cols.len();
    if n == 0 {
        return;
    }
    let nxs = b.nxs;
    let centre = 2.0 * b.st.d2[0];
    let cf: [f32; R] = std::array::from_fn(|k| b.st.d2[k + 1]);
    let base = i * nxs + R + cols.start;
    let o = &mut o[R + cols.start..R + cols.end];
    let u0 = &b.cur[base..base + n];
    let c = &b.c[base..base + n];
    let kk: &[f32] = if DAMP { &b.k[base..base + n] } else { &[] };
    let corr: &[f32] = if CORR { &corr[..n] } else { &[] };
    let xm: [&[f32]; R] = std::array::from_fn(|k| &b.cur[base - k - 1..base - k - 1 + n]);
    let xp: [&[f32]; R] = std::array::from_fn(|k| &b.cur[base + k + 1..base + k + 1 + n]);
    let zm: [&[f32]; R] =
        std::array::from_fn(|k| &b.cur[base - (k + 1) * nxs..base - (k + 1) * nxs + n]);
    let zp: [&[f32]; R] =
        std::array::from_fn(|k| &b.cur[base + (k + 1) * nxs..base + (k + 1) * nxs + n]);
    let st: &mut [f32] = if STORE {
        &mut w[R + cols.start..R + cols.end]
    } else {
        &mut []
    };
    for j in 0..n {
        let mut lap = centre * u0[j];
        for k in 0..R {
            lap = cf[k].mul_add((xm[k][j] + xp[k][j]) + (zm[k][j] + zp[k][j]), lap);
        }
        let wv = if CORR { lap + corr[j] } else { lap };
        if STORE {
            st[j] = wv;
        }
        let (u, p) = (u0[j], o[j]);
        let mut next = c[j].mul_add(wv, 2.0 * u - p);
        if DAMP {
            next = (-kk[j]).mul_add(u - p, next);
        }
        o[j] = next;
    }
}

/// Flush denormals to zero on this thread while alive (x86-64 MXCSR FTZ|DAZ), restoring the
/// previous mode on drop. Wavefields and C-PML memory variables decay exponentially in the
/// absorbing border; without this, denormal arithmetic makes steps up to ~50× slower.
pub(crate) struct FlushDenormals {
    #[cfg(target_arch = "x86_64")]
    old: u32,
}

impl FlushDenormals {
    pub fn new() -> Self {
        #[cfg(target_arch = "x86_64")]
        {
            let mut old: u32 = 0;
            // SAFETY: stmxcsr/ldmxcsr only read/write the SSE control register through a valid
            // pointer to a local; FTZ|DAZ only changes how denormal results are rounded.
            unsafe {
                std::arch::asm!("stmxcsr [{}]", in(reg) &mut old, options(nostack));
                let new = old | 0x8040;
                std::arch::asm!("ldmxcsr [{}]", in(reg) &new, options(nostack, readonly));
            }
            Self { old }
        }
        #[cfg(not(target_arch = "x86_64"))]
        Self {}
    }
}

impl Drop for FlushDenormals {
    fn drop(&mut self) {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: restores the value read in `new`.
        unsafe {
            std::arch::asm!("ldmxcsr [{}]", in(reg) &self.old, options(nostack, readonly));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cfl_limit_of_4th_order() {
        let s = Stencil::new(4, 10.0).unwrap();
        // 1-D Nyquist symbol of the 4th-order stencil is 16/3; 2-D is 32/3 (unit spacing).
        assert!((s.laplacian_spectral_radius() * 100.0 - 32.0 / 3.0).abs() < 1e-4);
        let dt = s.max_stable_dt(4500.0);
        assert!((dt - 2.0 * 10.0 / (4500.0 * (32.0f32 / 3.0).sqrt())).abs() < 1e-8);
        assert!(Stencil::new(6, 10.0).is_err());
    }
}
