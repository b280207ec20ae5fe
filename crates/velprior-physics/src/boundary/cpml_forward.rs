//! Forward C-PML step: advance ψ, ζ on the strips and compute the correction W − ∇²u there
//! (see [`cpml`](super::cpml) for the equations and the compact layout).

use super::cpml::{Coef, CpmlFields, CpmlProfile, taps};
use crate::propagate::Layout;
use crate::stencil::Stencil;

/// ψ ← a·ψ + b·∂u for the cells starting at storage index `s` (derivative along `stride`).
#[inline(always)]
pub(super) fn psi_update<const R: usize, C: Coef>(
    d1c: &[f32; 4],
    u: &[f32],
    s: usize,
    stride: usize,
    a: C,
    b: C,
    psi: &mut [f32],
) {
    let n = psi.len();
    let (up, um) = taps::<R>(u, s, stride, n);
    let (a, b) = (a.head(n), b.head(n));
    for (j, p) in psi.iter_mut().enumerate() {
        let mut du = 0.0;
        for k in 0..R {
            du = d1c[k].mul_add(up[k][j] - um[k][j], du);
        }
        *p = a.get(j).mul_add(*p, b.get(j) * du);
    }
}

/// ζ ← a·ζ + b·(∂²u + ∂ψ) and corr = ∂ψ + ζ for the cells starting at storage index `s` of u
/// (stride `us`) and index `ps` of ψ (stride `pstride`).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn zeta_corr<const R: usize, C: Coef>(
    stn: &Stencil,
    u: &[f32],
    s: usize,
    us: usize,
    psi: &[f32],
    ps: usize,
    pstride: usize,
    a: C,
    b: C,
    zeta: &mut [f32],
    corr: &mut [f32],
) {
    let n = corr.len();
    let (d1c, d2c) = (&stn.d1, &stn.d2);
    let (pp, pm) = taps::<R>(psi, ps, pstride, n);
    let (up, um) = taps::<R>(u, s, us, n);
    let (u0, zeta) = (&u[s..s + n], &mut zeta[..n]);
    let (a, b) = (a.head(n), b.head(n));
    for (j, c) in corr.iter_mut().enumerate() {
        let (mut dpsi, mut uxx) = (0.0, d2c[0] * u0[j]);
        for k in 0..R {
            dpsi = d1c[k].mul_add(pp[k][j] - pm[k][j], dpsi);
            uxx = d2c[k + 1].mul_add(up[k][j] + um[k][j], uxx);
        }
        let z = a.get(j).mul_add(zeta[j], b.get(j) * (uxx + dpsi));
        zeta[j] = z;
        *c = dpsi + z;
    }
}

/// corr = ∂ψ (halo cells, where ζ = 0) for the cells starting at index `ps` of ψ.
#[inline(always)]
fn dpsi<const R: usize>(d1c: &[f32; 4], psi: &[f32], ps: usize, pstride: usize, corr: &mut [f32]) {
    let (pp, pm) = taps::<R>(psi, ps, pstride, corr.len());
    for (j, c) in corr.iter_mut().enumerate() {
        let mut d = 0.0;
        for k in 0..R {
            d = d1c[k].mul_add(pp[k][j] - pm[k][j], d);
        }
        *c = d;
    }
}

impl CpmlProfile {
    /// Advance ψ, ζ one step for wavefield `u` (storage grid of layout `l`) and set the
    /// corrections of all rows in `f` (the path where threads share the rows of one shot;
    /// one thread per shot uses the fused step of [`cpml_fused`](super::cpml_fused)).
    pub fn forward_step(&self, st: &Stencil, l: &Layout, u: &[f32], f: &mut CpmlFields) {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
            {
                // SAFETY: the CPU supports the enabled features.
                unsafe { self.forward_avx2(st, l, u, f) };
                return;
            }
        }
        self.forward_dispatch(st, l, u, f);
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn forward_avx2(&self, st: &Stencil, l: &Layout, u: &[f32], f: &mut CpmlFields) {
        self.forward_dispatch(st, l, u, f);
    }

    #[inline(always)]
    fn forward_dispatch(&self, st: &Stencil, l: &Layout, u: &[f32], f: &mut CpmlFields) {
        if st.radius == 2 {
            self.forward_r::<2>(st, l, u, f)
        } else {
            self.forward_r::<4>(st, l, u, f)
        }
    }

    #[inline(always)]
    fn forward_r<const R: usize>(&self, st: &Stencil, l: &Layout, u: &[f32], f: &mut CpmlFields) {
        for i in 0..l.nzp {
            self.psi_z_row::<R>(st, l, u, f, i, 0..l.nxp);
        }
        for i in 0..l.nzp {
            self.corr_row::<R>(st, l, u, f, i);
        }
    }

    /// ψz ← a·ψz + b·∂zu on padded row i, columns `cols` (no-op off the z PML: ψz stays zero
    /// there).
    #[inline(always)]
    pub(super) fn psi_z_row<const R: usize>(
        &self,
        st: &Stencil,
        l: &Layout,
        u: &[f32],
        f: &mut CpmlFields,
        i: usize,
        cols: std::ops::Range<usize>,
    ) {
        if i >= l.nzp || self.bz[i] == 0.0 {
            return;
        }
        let Some((k, li)) = self.z_row(i) else {
            return;
        };
        let (nxp, nxs) = (l.nxp, l.nxs);
        let row = &mut f.psi_z[k][(li + R) * nxp + cols.start..(li + R) * nxp + cols.end];
        let s = (i + R) * nxs + R + cols.start;
        psi_update::<R, _>(&st.d1, u, s, nxs, self.az[i], self.bz[i], row);
    }

    /// ψx, ζ and the corrections of padded row i (ψz of rows i − R ..= i + R must be current).
    #[inline(always)]
    fn corr_row<const R: usize>(
        &self,
        st: &Stencil,
        l: &Layout,
        u: &[f32],
        f: &mut CpmlFields,
        i: usize,
    ) {
        let (nxp, nxs) = (l.nxp, l.nxs);
        let at = |j: usize| (i + R) * nxs + j + R;
        let zrow = self.z_row(i);
        if let Some((k, li)) = zrow {
            let (a, b) = (self.az[i], self.bz[i]);
            let psi = &f.psi_z[k];
            let zeta = &mut f.zeta_z[k][li * nxp..(li + 1) * nxp];
            let corr = &mut f.corr_z[k][li * nxp..(li + 1) * nxp];
            let ps = (li + R) * nxp;
            if b == 0.0 {
                // Halo row: ζ = 0, only ∂zψ.
                dpsi::<R>(&st.d1, psi, ps, nxp, corr);
            } else {
                zeta_corr::<R, _>(st, u, at(0), nxs, psi, ps, nxp, a, b, zeta, corr);
            }
        }
        for (k, xr) in self.xs.iter().enumerate() {
            let (w, ws) = (xr.len(), xr.len() + 2 * R);
            let (ax, bx) = (&self.ax[xr.clone()], &self.bx[xr.clone()]);
            let psi = &mut f.psi_x[k][i * ws..(i + 1) * ws];
            psi_update::<R, _>(&st.d1, u, at(xr.start), 1, ax, bx, &mut psi[R..R + w]);
            let zeta = &mut f.zeta_x[k][i * w..(i + 1) * w];
            let corr = &mut f.corr_x[k][i * w..(i + 1) * w];
            zeta_corr::<R, _>(st, u, at(xr.start), 1, psi, R, 1, ax, bx, zeta, corr);
            if let Some((kz, li)) = zrow {
                let cz = &mut f.corr_z[kz][li * nxp + xr.start..li * nxp + xr.end];
                cz.iter_mut().zip(corr.iter()).for_each(|(z, x)| *z += x);
            }
        }
    }
}
