//! Forward C-PML step: advance ψ, ζ on the strips and compute the correction W − ∇²u there
//! (see [`cpml`](super::cpml) for the equations and the compact layout).

use super::cpml::{Coef, CpmlFields, CpmlProfile, taps};
use crate::stencil::Stencil;

/// ψ ← a·ψ + b·∂u for the cells starting at storage index `s` (derivative along `stride`).
#[inline(always)]
fn psi_update<const R: usize, C: Coef>(
    d1c: &[f32; 4],
    u: &[f32],
    s: usize,
    stride: usize,
    a: C,
    b: C,
    psi: &mut [f32],
) {
    let (up, um) = taps::<R>(u, s, stride, psi.len());
    for (j, p) in psi.iter_mut().enumerate() {
        let mut du = 0.0;
        for k in 0..R {
            du += d1c[k] * (up[k][j] - um[k][j]);
        }
        *p = a.get(j) * *p + b.get(j) * du;
    }
}

/// ζ ← a·ζ + b·(∂²u + ∂ψ) and corr = ∂ψ + ζ for the cells starting at storage index `s` of u
/// (stride `us`) and index `ps` of ψ (stride `pstride`).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn zeta_corr<const R: usize, C: Coef>(
    st: &Stencil,
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
    let (d1c, d2c) = (&st.d1, &st.d2);
    let (pp, pm) = taps::<R>(psi, ps, pstride, n);
    let (up, um) = taps::<R>(u, s, us, n);
    let u0 = &u[s..s + n];
    let zeta = &mut zeta[..n];
    for (j, c) in corr.iter_mut().enumerate() {
        let (mut dpsi, mut uxx) = (0.0, d2c[0] * u0[j]);
        for k in 0..R {
            dpsi += d1c[k] * (pp[k][j] - pm[k][j]);
            uxx += d2c[k + 1] * (up[k][j] + um[k][j]);
        }
        let z = a.get(j) * zeta[j] + b.get(j) * (uxx + dpsi);
        zeta[j] = z;
        *c = dpsi + z;
    }
}

impl CpmlProfile {
    /// Advance ψ, ζ one step for wavefield `u` (storage grid, row stride `nxs`, `nzp` × `nxp`
    /// padded cells) and set the corrections in `f`.
    pub fn forward_step(
        &self,
        st: &Stencil,
        nzp: usize,
        nxp: usize,
        nxs: usize,
        u: &[f32],
        f: &mut CpmlFields,
    ) {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
            {
                // SAFETY: the CPU supports the enabled features.
                unsafe { self.forward_avx2(st, nzp, nxp, nxs, u, f) };
                return;
            }
        }
        self.forward_dispatch(st, nzp, nxp, nxs, u, f);
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn forward_avx2(
        &self,
        st: &Stencil,
        nzp: usize,
        nxp: usize,
        nxs: usize,
        u: &[f32],
        f: &mut CpmlFields,
    ) {
        self.forward_dispatch(st, nzp, nxp, nxs, u, f);
    }

    #[inline(always)]
    fn forward_dispatch(
        &self,
        st: &Stencil,
        nzp: usize,
        nxp: usize,
        nxs: usize,
        u: &[f32],
        f: &mut CpmlFields,
    ) {
        if st.radius == 2 {
            self.forward_r::<2>(st, nzp, nxp, nxs, u, f)
        } else {
            self.forward_r::<4>(st, nzp, nxp, nxs, u, f)
        }
    }

    #[inline(always)]
    fn forward_r<const R: usize>(
        &self,
        st: &Stencil,
        nzp: usize,
        nxp: usize,
        nxs: usize,
        u: &[f32],
        f: &mut CpmlFields,
    ) {
        let at = |i: usize, j: usize| (i + R) * nxs + j + R;
        for (k, zr) in self.zs.iter().enumerate() {
            let (psi, zeta, corr) = (&mut f.psi_z[k], &mut f.zeta_z[k], &mut f.corr_z[k]);
            for i in zr.clone() {
                let li = i - zr.start + R;
                let (a, b) = (self.az[i], self.bz[i]);
                let row = &mut psi[li * nxp..(li + 1) * nxp];
                psi_update::<R, _>(&st.d1, u, at(i, 0), nxs, a, b, row);
            }
            for i in zr.clone() {
                let li = i - zr.start;
                let (a, b) = (self.az[i], self.bz[i]);
                let (zeta, corr) = (
                    &mut zeta[li * nxp..(li + 1) * nxp],
                    &mut corr[li * nxp..(li + 1) * nxp],
                );
                zeta_corr::<R, _>(st, u, at(i, 0), nxs, psi, (li + R) * nxp, nxp, a, b, zeta, corr);
            }
        }
        for (k, xr) in self.xs.iter().enumerate() {
            let (w, ws) = (xr.len(), xr.len() + 2 * R);
            let (ax, bx) = (&self.ax[xr.clone()], &self.bx[xr.clone()]);
            for i in 0..nzp {
                let psi = &mut f.psi_x[k][i * ws..(i + 1) * ws];
                psi_update::<R, _>(&st.d1, u, at(i, xr.start), 1, ax, bx, &mut psi[R..R + w]);
                let zeta = &mut f.zeta_x[k][i * w..(i + 1) * w];
                let corr = &mut f.corr_x[k][i * w..(i + 1) * w];
                zeta_corr::<R, _>(st, u, at(i, xr.start), 1, psi, R, 1, ax, bx, zeta, corr);
                if let Some((kz, li)) = self.z_row(i) {
                    let cz = &mut f.corr_z[kz][li * nxp + xr.start..li * nxp + xr.end];
                    cz.iter_mut().zip(corr.iter()).for_each(|(z, x)| *z += x);
                }
            }
        }
    }
}
