//! Forward leapfrog step with the C-PML terms fused into the row update (the one-thread path of
//! every shot): ψ, ζ and the wavefield of a row are advanced in one pass, so a strip cell costs
//! a few more loads than an interior cell instead of extra passes over correction buffers.
//!
//! Per row i: ψz of row i + R (needed by ∂zψ of rows up to i + R), ψx of row i, then the cells:
//! Wξ = Tξ + ζξ with Tξ = ∂ξξu + ∂ξψξ, ζξ ← aξζξ + bξTξ on the strips of axis ξ, Wξ = ∂ξξu
//! elsewhere, and next = 2u − prev + v²dt²·(Wz + Wx) (see [`cpml`](super::cpml)).

use super::cpml::{CpmlFields, CpmlProfile, taps};
use crate::propagate::Layout;
use crate::stencil::Stencil;
use crate::window::Window;
use std::ops::Range;

/// The fields of one step: the current wavefield and v²dt² (storage grid), the rows being
/// overwritten with the next field and the optional W store (padded rows, storage width).
pub(crate) struct StepIo<'a> {
    pub cur: &'a [f32],
    pub c: &'a [f32],
    pub out: &'a mut [f32],
    /// Empty when W is not stored.
    pub store: &'a mut [f32],
}

/// The x-axis C-PML state of a segment: a, b per column, ψx of the row (with R pad cells on
/// both sides of the segment), ζx of the segment.
struct XTerms<'a> {
    a: &'a [f32],
    b: &'a [f32],
    psi: &'a [f32],
    zeta: &'a mut [f32],
}

/// The z-axis C-PML state of a segment (or of a whole z-strip row): a, b of the row, ψz of the
/// strip with the index of the segment's first cell and the row stride, ζz of the segment.
struct ZTerms<'a> {
    a: f32,
    b: f32,
    psi: &'a [f32],
    at: usize,
    stride: usize,
    zeta: &'a mut [f32],
}

impl CpmlProfile {
    /// One forward step on the calling thread: `io.out` (padded rows of the previous field)
    /// receives the next field, `f` the advanced ψ and ζ, `io.store` (if not empty) W. Only
    /// the cells of `win` are updated: the caller guarantees the others stay zero (W too).
    pub(crate) fn fused_forward_step(
        &self,
        st: &Stencil,
        l: &Layout,
        io: StepIo,
        f: &mut CpmlFields,
        win: &Window,
    ) {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
            {
                // SAFETY: the CPU supports the enabled features.
                unsafe { self.fused_avx2(st, l, io, f, win) };
                return;
            }
        }
        self.fused_dispatch(st, l, io, f, win);
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn fused_avx2(
        &self,
        st: &Stencil,
        l: &Layout,
        io: StepIo,
        f: &mut CpmlFields,
        win: &Window,
    ) {
        self.fused_dispatch(st, l, io, f, win);
    }

    #[inline(always)]
    fn fused_dispatch(
        &self,
        st: &Stencil,
        l: &Layout,
        io: StepIo,
        f: &mut CpmlFields,
        win: &Window,
    ) {
        match (st.radius, io.store.is_empty()) {
            (2, true) => self.fused_r::<2, false>(st, l, io, f, win),
            (2, false) => self.fused_r::<2, true>(st, l, io, f, win),
            (_, true) => self.fused_r::<4, false>(st, l, io, f, win),
            (_, false) => self.fused_r::<4, true>(st, l, io, f, win),
        }
    }

    #[inline(always)]
    fn fused_r<const R: usize, const STORE: bool>(
        &self,
        st: &Stencil,
        l: &Layout,
        io: StepIo,
        f: &mut CpmlFields,
        win: &Window,
    ) {
        let (nxp, nxs) = (l.nxp, l.nxs);
        let cols = win.cols.clone();
        for i in win.rows.start..win.rows.start + R {
            self.psi_z_row::<R>(st, l, io.cur, f, i, cols.clone());
        }
        for i in win.rows.clone() {
            self.psi_z_row::<R>(st, l, io.cur, f, i + R, cols.clone());
            let at = |j: usize| (i + R) * nxs + j + R;
            for (k, xr) in self.xs.iter().enumerate() {
                let part = clip(xr, &cols);
                let (ws, p0) = (xr.len() + 2 * R, part.start - xr.start);
                let psi = &mut f.psi_x[k][i * ws + R + p0..i * ws + R + p0 + part.len()];
                let (ax, bx) = (&self.ax[part.clone()], &self.bx[part.clone()]);
                let s0 = at(part.start);
                super::cpml_forward::psi_update::<R, _>(&st.d1, io.cur, s0, 1, ax, bx, psi);
            }
            let o = &mut io.out[i * nxs + R..i * nxs + R + nxp];
            let w: &mut [f32] = if STORE {
                &mut io.store[i * nxs + R..i * nxs + R + nxp]
            } else {
                &mut []
            };
            let row = Row {
                st,
                cur: io.cur,
                c: io.c,
                base: at(0),
                nxs,
            };
            let mut zr = self.z_row(i).map(|(k, li)| ZTerms {
                a: self.az[i],
                b: self.bz[i],
                psi: &f.psi_z[k],
                at: (li + R) * nxp,
                stride: nxp,
                zeta: &mut f.zeta_z[k][li * nxp..(li + 1) * nxp],
            });
            let mut j0 = 0;
            for (k, xr) in self.xs.iter().enumerate() {
                let plain = clip(&(j0..xr.start), &cols);
                let zt = zr.as_mut().map(|z| z.cols(plain.clone()));
                row.segment::<R, STORE>(plain, o, w, None, zt);
                let part = clip(xr, &cols);
                let (wx, ws, p0) = (xr.len(), xr.len() + 2 * R, part.start - xr.start);
                let x = XTerms {
                    a: &self.ax[part.clone()],
                    b: &self.bx[part.clone()],
                    psi: &f.psi_x[k][i * ws + p0..(i + 1) * ws],
                    zeta: &mut f.zeta_x[k][i * wx + p0..(i + 1) * wx],
                };
                let zt = zr.as_mut().map(|z| z.cols(part.clone()));
                row.segment::<R, STORE>(part, o, w, Some(x), zt);
                j0 = xr.end;
            }
            let plain = clip(&(j0..nxp), &cols);
            let zt = zr.as_mut().map(|z| z.cols(plain.clone()));
            row.segment::<R, STORE>(plain, o, w, None, zt);
        }
    }
}

/// `r` ∩ `window`, as an empty range at a valid position when they do not overlap.
fn clip(r: &Range<usize>, window: &Range<usize>) -> Range<usize> {
    let start = r.start.max(window.start).min(r.end);
    start..r.end.min(window.end).max(start)
}

impl ZTerms<'_> {
    /// The terms of padded columns `cols` of a whole z-strip row.
    fn cols(&mut self, cols: std::ops::Range<usize>) -> ZTerms<'_> {
        ZTerms {
            a: self.a,
            b: self.b,
            psi: self.psi,
            at: self.at + cols.start,
            stride: self.stride,
            zeta: &mut self.zeta[cols],
        }
    }
}

/// The inputs of one storage row: `base` is the storage index of its first padded cell.
struct Row<'a> {
    st: &'a Stencil,
    cur: &'a [f32],
    c: &'a [f32],
    base: usize,
    nxs: usize,
}

impl Row<'_> {
    /// Update padded columns `cols` of the row (`o`, `w`: the row's nxp cells), with the
    /// x-axis terms when `x` is given and the z-axis terms when `z` is given.
    #[inline(always)]
    fn segment<const R: usize, const STORE: bool>(
        &self,
        cols: std::ops::Range<usize>,
        o: &mut [f32],
        w: &mut [f32],
        x: Option<XTerms>,
        z: Option<ZTerms>,
    ) {
        match (x, z) {
            (_, _) if cols.is_empty() => {}
            (Some(x), Some(z)) => self.cells::<R, true, true, STORE>(cols, o, w, Some(x), Some(z)),
            (Some(x), None) => self.cells::<R, true, false, STORE>(cols, o, w, Some(x), None),
            (None, Some(z)) => self.cells::<R, false, true, STORE>(cols, o, w, None, Some(z)),
            (None, None) => self.cells::<R, false, false, STORE>(cols, o, w, None, None),
        }
    }

    #[inline(always)]
    fn cells<const R: usize, const X: bool, const Z: bool, const STORE: bool>(
        &self,
        cols: std::ops::Range<usize>,
        o: &mut [f32],
        w: &mut [f32],
        x: Option<XTerms>,
        z: Option<ZTerms>,
    ) {
        let n = cols.len();
        let (d1, d2) = (&self.st.d1, &self.st.d2);
        let s = self.base + cols.start;
        let u0 = &self.cur[s..s + n];
        let c = &self.c[s..s + n];
        let o = &mut o[cols.clone()];
        let w: &mut [f32] = if STORE { &mut w[cols] } else { &mut [] };
        let (xp, xm) = taps::<R>(self.cur, s, 1, n);
        let (zp, zm) = taps::<R>(self.cur, s, self.nxs, n);
        let empty: [&[f32]; R] = [&[]; R];
        let (mut xa, mut xb, mut xz): (&[f32], &[f32], &mut [f32]) = (&[], &[], &mut []);
        let (mut pxp, mut pxm) = (empty, empty);
        if let Some(x) = x {
            (xa, xb, xz) = (&x.a[..n], &x.b[..n], &mut x.zeta[..n]);
            (pxp, pxm) = taps::<R>(x.psi, R, 1, n);
        }
        let (mut za, mut zb, mut zz): (f32, f32, &mut [f32]) = (0.0, 0.0, &mut []);
        let (mut pzp, mut pzm) = (empty, empty);
        if let Some(z) = z {
            (za, zb, zz) = (z.a, z.b, &mut z.zeta[..n]);
            (pzp, pzm) = taps::<R>(z.psi, z.at, z.stride, n);
        }
        for j in 0..n {
            let u = u0[j];
            let wv = if X || Z {
                let (mut uxx, mut uzz) = (d2[0] * u, d2[0] * u);
                for k in 0..R {
                    uxx = d2[k + 1].mul_add(xp[k][j] + xm[k][j], uxx);
                    uzz = d2[k + 1].mul_add(zp[k][j] + zm[k][j], uzz);
                }
                let wx = if X {
                    let mut t = uxx;
                    for k in 0..R {
                        t = d1[k].mul_add(pxp[k][j] - pxm[k][j], t);
                    }
                    let zeta = xa[j].mul_add(xz[j], xb[j] * t);
                    xz[j] = zeta;
                    t + zeta
                } else {
                    uxx
                };
                let wz = if Z {
                    let mut t = uzz;
                    for k in 0..R {
                        t = d1[k].mul_add(pzp[k][j] - pzm[k][j], t);
                    }
                    let zeta = za.mul_add(zz[j], zb * t);
                    zz[j] = zeta;
                    t + zeta
                } else {
                    uzz
                };
                wx + wz
            } else {
                let mut lap = (2.0 * d2[0]) * u;
                for k in 0..R {
                    lap = d2[k + 1].mul_add((xm[k][j] + xp[k][j]) + (zm[k][j] + zp[k][j]), lap);
                }
                lap
            };
            if STORE {
                w[j] = wv;
            }
            o[j] = c[j].mul_add(wv, 2.0 * u - o[j]);
        }
    }
}
