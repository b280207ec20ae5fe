//! Transpose of the forward C-PML step (see [`cpml`](super::cpml)): with x = v²dt²·λ and the
//! carries ζ̄, ψ̄ per axis, on every strip cell (a = b = 0 off the PML):
//! ζ̄tot = ζ̄ + x, e = b·ζ̄tot, ζ̄ ← a·ζ̄tot; ψ̄tot = ψ̄ − ∂(x + e), g = b·ψ̄tot, ψ̄ ← a·ψ̄tot;
//! and the correction Wᵀx − ∇²x = ∂²e − ∂g on the strips.

use super::cpml::{Coef, CpmlFields, CpmlProfile, taps};
use crate::propagate::Layout;
use crate::stencil::Stencil;

/// e = b·(ζ̄ + x), ζ̄ ← a·(ζ̄ + x).
#[inline(always)]
fn carry_zeta<C: Coef>(a: C, b: C, zeta: &mut [f32], x: &[f32], e: &mut [f32]) {
    let n = e.len();
    let (zeta, x) = (&mut zeta[..n], &x[..n]);
    let (a, b) = (a.head(n), b.head(n));
    for j in 0..n {
        let zt = zeta[j] + x[j];
        e[j] = b.get(j) * zt;
        zeta[j] = a.get(j) * zt;
    }
}

/// g = b·(ψ̄ − ∂x − ∂e), ψ̄ ← a·(ψ̄ − ∂x − ∂e) for the cells starting at index `xs` of x
/// (stride `xstride`) and `es` of e (stride `estride`).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn carry_psi<const R: usize, C: Coef>(
    d1c: &[f32; 4],
    a: C,
    b: C,
    x: &[f32],
    xs: usize,
    xstride: usize,
    e: &[f32],
    es: usize,
    estride: usize,
    psi: &mut [f32],
    g: &mut [f32],
) {
    let n = g.len();
    let (xp, xm) = taps::<R>(x, xs, xstride, n);
    let (ep, em) = taps::<R>(e, es, estride, n);
    let psi = &mut psi[..n];
    let (a, b) = (a.head(n), b.head(n));
    for j in 0..n {
        let mut d = 0.0;
        for k in 0..R {
            d = d1c[k].mul_add((xp[k][j] - xm[k][j]) + (ep[k][j] - em[k][j]), d);
        }
        let pt = psi[j] - d;
        g[j] = b.get(j) * pt;
        psi[j] = a.get(j) * pt;
    }
}

/// corr = ∂²e − ∂g for the cells starting at index `s` of e and g (stride `stride`).
#[inline(always)]
fn corr_eg<const R: usize>(
    stn: &Stencil,
    e: &[f32],
    g: &[f32],
    s: usize,
    stride: usize,
    corr: &mut [f32],
) {
    let n = corr.len();
    let (ep, em) = taps::<R>(e, s, stride, n);
    let (gp, gm) = taps::<R>(g, s, stride, n);
    let e0 = &e[s..s + n];
    for (j, c) in corr.iter_mut().enumerate() {
        let mut v = stn.d2[0] * e0[j];
        for k in 0..R {
            v = stn.d2[k + 1].mul_add(ep[k][j] + em[k][j], v);
            v = (-stn.d1[k]).mul_add(gp[k][j] - gm[k][j], v);
        }
        *c = v;
    }
}

impl CpmlProfile {
    /// Transpose of [`Self::forward_step`] applied to `x` (= v²dt²·λ, storage grid of layout
    /// `l`): advance the adjoint carries in `f` one step backwards and set the corrections
    /// Wᵀx − ∇²x of all rows in `f`.
    pub fn adjoint_step(&self, st: &Stencil, l: &Layout, x: &[f32], f: &mut CpmlFields) {
        self.adjoint_rows(st, l, x, f, |_, _| {}, false);
    }

    /// As [`Self::adjoint_step`], calling `each(i, f)` as soon as the corrections of padded
    /// row i are set when `interleave` is true, or never when false.
    pub fn adjoint_rows(
        &self,
        st: &Stencil,
        l: &Layout,
        x: &[f32],
        f: &mut CpmlFields,
        each: impl FnMut(usize, &CpmlFields),
        interleave: bool,
    ) {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
            {
                // SAFETY: the CPU supports the enabled features.
                unsafe { self.adjoint_avx2(st, l, x, f, each, interleave) };
                return;
            }
        }
        self.adjoint_dispatch(st, l, x, f, each, interleave);
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn adjoint_avx2(
        &self,
        st: &Stencil,
        l: &Layout,
        x: &[f32],
        f: &mut CpmlFields,
        each: impl FnMut(usize, &CpmlFields),
        interleave: bool,
    ) {
        self.adjoint_dispatch(st, l, x, f, each, interleave);
    }

    #[inline(always)]
    fn adjoint_dispatch(
        &self,
        st: &Stencil,
        l: &Layout,
        x: &[f32],
        f: &mut CpmlFields,
        each: impl FnMut(usize, &CpmlFields),
        interleave: bool,
    ) {
        if st.radius == 2 {
            self.adjoint_r::<2>(st, l, x, f, each, interleave)
        } else {
            self.adjoint_r::<4>(st, l, x, f, each, interleave)
        }
    }

    #[inline(always)]
    fn adjoint_r<const R: usize>(
        &self,
        st: &Stencil,
        l: &Layout,
        x: &[f32],
        f: &mut CpmlFields,
        mut each: impl FnMut(usize, &CpmlFields),
        interleave: bool,
    ) {
        if interleave {
            // corr of row i needs g of rows up to i + R, which needs e of rows up to i + 2R.
            for i in 0..2 * R {
                self.e_z_row::<R>(l, x, f, i);
            }
            for i in 0..R {
                self.g_z_row::<R>(st, l, x, f, i);
            }
            for i in 0..l.nzp {
                self.e_z_row::<R>(l, x, f, i + 2 * R);
                self.g_z_row::<R>(st, l, x, f, i + R);
                self.corr_row_adj::<R>(st, l, x, f, i);
                self.fill_row(f, i);
                each(i, f);
            }
        } else {
            for i in 0..l.nzp {
                self.e_z_row::<R>(l, x, f, i);
            }
            for i in 0..l.nzp {
                self.g_z_row::<R>(st, l, x, f, i);
            }
            for i in 0..l.nzp {
                self.corr_row_adj::<R>(st, l, x, f, i);
            }
        }
    }

    /// e and ζ̄ of padded row i of a z strip (no-op off the z PML: they stay zero there).
    #[inline(always)]
    fn e_z_row<const R: usize>(&self, l: &Layout, x: &[f32], f: &mut CpmlFields, i: usize) {
        if i >= l.nzp || self.bz[i] == 0.0 {
            return;
        }
        let Some((k, li)) = self.z_row(i) else {
            return;
        };
        let nxp = l.nxp;
        let er = &mut f.e_z[k][(li + R) * nxp..(li + R + 1) * nxp];
        let xs = &x[(i + R) * l.nxs + R..];
        carry_zeta(self.az[i], self.bz[i], &mut f.zeta_z[k][li * nxp..], xs, er);
    }

    /// g and ψ̄ of padded row i of a z strip (e of rows i − R ..= i + R must be current).
    #[inline(always)]
    fn g_z_row<const R: usize>(
        &self,
        st: &Stencil,
        l: &Layout,
        x: &[f32],
        f: &mut CpmlFields,
        i: usize,
    ) {
        if i >= l.nzp || self.bz[i] == 0.0 {
            return;
        }
        let Some((k, li)) = self.z_row(i) else {
            return;
        };
        let (nxp, nxs) = (l.nxp, l.nxs);
        let o = (li + R) * nxp;
        let (p, gr) = (&mut f.psi_z[k][o..o + nxp], &mut f.g_z[k][o..o + nxp]);
        let (a, b, s) = (self.az[i], self.bz[i], (i + R) * nxs + R);
        carry_psi::<R, _>(&st.d1, a, b, x, s, nxs, &f.e_z[k], o, nxp, p, gr);
    }

    /// The x-strip carries and the corrections of padded row i (e, g of the z strip rows
    /// i − R ..= i + R must be current).
    #[inline(always)]
    fn corr_row_adj<const R: usize>(
        &self,
        st: &Stencil,
        l: &Layout,
        x: &[f32],
        f: &mut CpmlFields,
        i: usize,
    ) {
        let nxp = l.nxp;
        let zrow = self.z_row(i);
        if let Some((k, li)) = zrow {
            let corr = &mut f.corr_z[k][li * nxp..(li + 1) * nxp];
            corr_eg::<R>(st, &f.e_z[k], &f.g_z[k], (li + R) * nxp, nxp, corr);
        }
        for (k, xr) in self.xs.iter().enumerate() {
            let (w, ws) = (xr.len(), xr.len() + 2 * R);
            let (ax, bx) = (&self.ax[xr.clone()], &self.bx[xr.clone()]);
            let (e, g) = (&mut f.e_row[..ws], &mut f.g_row[..ws]);
            // Pads stay zero (another strip may have left values there).
            e.fill(0.0);
            g.fill(0.0);
            let s = (i + R) * l.nxs + R + xr.start;
            carry_zeta(ax, bx, &mut f.zeta_x[k][i * w..], &x[s..], &mut e[R..R + w]);
            let psi = &mut f.psi_x[k][i * ws + R..(i + 1) * ws - R];
            carry_psi::<R, _>(&st.d1, ax, bx, x, s, 1, e, R, 1, psi, &mut g[R..R + w]);
            let corr = &mut f.corr_x[k][i * w..(i + 1) * w];
            corr_eg::<R>(st, e, g, R, 1, corr);
            if let Some((kz, li)) = zrow {
                let cz = &mut f.corr_z[kz][li * nxp + xr.start..li * nxp + xr.end];
                cz.iter_mut().zip(corr.iter()).for_each(|(z, x)| *z += x);
            }
        }
    }
}
