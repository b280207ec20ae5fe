//! Transpose of the forward C-PML step (see [`cpml`](super::cpml)): with x = v²dt²·λ and the
//! carries ζ̄, ψ̄ per axis, on every strip cell (a = b = 0 off the PML):
//! ζ̄tot = ζ̄ + x, e = b·ζ̄tot, ζ̄ ← a·ζ̄tot; ψ̄tot = ψ̄ − ∂(x + e), g = b·ψ̄tot, ψ̄ ← a·ψ̄tot;
//! and the correction Wᵀx − ∇²x = ∂²e − ∂g on the strips.

use super::cpml::{Coef, CpmlFields, CpmlProfile, taps};
use crate::stencil::Stencil;

/// e = b·(ζ̄ + x), ζ̄ ← a·(ζ̄ + x).
#[inline(always)]
fn carry_zeta<C: Coef>(a: C, b: C, zeta: &mut [f32], x: &[f32], e: &mut [f32]) {
    let n = e.len();
    let (zeta, x) = (&mut zeta[..n], &x[..n]);
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
    for j in 0..n {
        let mut d = 0.0;
        for k in 0..R {
            d += d1c[k] * ((xp[k][j] - xm[k][j]) + (ep[k][j] - em[k][j]));
        }
        let pt = psi[j] - d;
        g[j] = b.get(j) * pt;
        psi[j] = a.get(j) * pt;
    }
}

/// corr = ∂²e − ∂g for the cells starting at index `s` of e and g (stride `stride`).
#[inline(always)]
fn corr_eg<const R: usize>(
    st: &Stencil,
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
        let mut v = st.d2[0] * e0[j];
        for k in 0..R {
            v += st.d2[k + 1] * (ep[k][j] + em[k][j]) - st.d1[k] * (gp[k][j] - gm[k][j]);
        }
        *c = v;
    }
}

impl CpmlProfile {
    /// Transpose of [`Self::forward_step`] applied to `x` (= v²dt²·λ, storage grid): advance the
    /// adjoint carries in `f` one step backwards and set the corrections Wᵀx − ∇²x in `f`.
    pub fn adjoint_step(
        &self,
        st: &Stencil,
        nzp: usize,
        nxp: usize,
        nxs: usize,
        x: &[f32],
        f: &mut CpmlFields,
    ) {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
            {
                // SAFETY: the CPU supports the enabled features.
                unsafe { self.adjoint_avx2(st, nzp, nxp, nxs, x, f) };
                return;
            }
        }
        self.adjoint_dispatch(st, nzp, nxp, nxs, x, f);
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn adjoint_avx2(
        &self,
        st: &Stencil,
        nzp: usize,
        nxp: usize,
        nxs: usize,
        x: &[f32],
        f: &mut CpmlFields,
    ) {
        self.adjoint_dispatch(st, nzp, nxp, nxs, x, f);
    }

    #[inline(always)]
    fn adjoint_dispatch(
        &self,
        st: &Stencil,
        nzp: usize,
        nxp: usize,
        nxs: usize,
        x: &[f32],
        f: &mut CpmlFields,
    ) {
        if st.radius == 2 {
            self.adjoint_r::<2>(st, nzp, nxp, nxs, x, f)
        } else {
            self.adjoint_r::<4>(st, nzp, nxp, nxs, x, f)
        }
    }

    #[inline(always)]
    fn adjoint_r<const R: usize>(
        &self,
        st: &Stencil,
        nzp: usize,
        nxp: usize,
        nxs: usize,
        x: &[f32],
        f: &mut CpmlFields,
    ) {
        let at = |i: usize, j: usize| (i + R) * nxs + j + R;
        for (k, zr) in self.zs.iter().enumerate() {
            let (e, g) = (&mut f.e_z[k], &mut f.g_z[k]);
            let (zeta, psi) = (&mut f.zeta_z[k], &mut f.psi_z[k]);
            for i in zr.clone() {
                let li = i - zr.start;
                let (a, b) = (self.az[i], self.bz[i]);
                let er = &mut e[(li + R) * nxp..(li + R + 1) * nxp];
                carry_zeta(a, b, &mut zeta[li * nxp..], &x[at(i, 0)..], er);
            }
            for i in zr.clone() {
                let l = (i - zr.start + R) * nxp;
                let (a, b) = (self.az[i], self.bz[i]);
                let (p, gr) = (&mut psi[l..l + nxp], &mut g[l..l + nxp]);
                carry_psi::<R, _>(&st.d1, a, b, x, at(i, 0), nxs, e, l, nxp, p, gr);
            }
            for i in zr.clone() {
                let li = i - zr.start;
                let corr = &mut f.corr_z[k][li * nxp..(li + 1) * nxp];
                corr_eg::<R>(st, e, g, (li + R) * nxp, nxp, corr);
            }
        }
        for (k, xr) in self.xs.iter().enumerate() {
            let (w, ws) = (xr.len(), xr.len() + 2 * R);
            let (ax, bx) = (&self.ax[xr.clone()], &self.bx[xr.clone()]);
            let (e, g) = (&mut f.e_row[..ws], &mut f.g_row[..ws]);
            // Pads stay zero (another strip may have left values there).
            e.fill(0.0);
            g.fill(0.0);
            for i in 0..nzp {
                let s = at(i, xr.start);
                carry_zeta(ax, bx, &mut f.zeta_x[k][i * w..], &x[s..], &mut e[R..R + w]);
                let psi = &mut f.psi_x[k][i * ws + R..(i + 1) * ws - R];
                carry_psi::<R, _>(&st.d1, ax, bx, x, s, 1, e, R, 1, psi, &mut g[R..R + w]);
                let corr = &mut f.corr_x[k][i * w..(i + 1) * w];
                corr_eg::<R>(st, e, g, R, 1, corr);
                if let Some((kz, li)) = self.z_row(i) {
                    let cz = &mut f.corr_z[kz][li * nxp + xr.start..li * nxp + xr.end];
                    cz.iter_mut().zip(corr.iter()).for_each(|(z, x)| *z += x);
                }
            }
        }
    }
}
