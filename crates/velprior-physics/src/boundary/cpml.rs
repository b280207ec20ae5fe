//! C-PML for the second-order scalar wave equation (Pasalic & McGarry 2010, as in deepwave).
//!
//! Per axis ξ with coefficients a = exp(−(σ+α)dt), b = σ/(σ+α)·(a − 1) (zero inside the model):
//! ψⁿ = a ψⁿ⁻¹ + b ∂ξuⁿ,  T = ∂ξξuⁿ + ∂ξψⁿ,  ζⁿ = a ζⁿ⁻¹ + b T,  Wξ = T + ζⁿ,
//! and uⁿ⁺¹ = 2uⁿ − uⁿ⁻¹ + v²dt² (Wz + Wx). The plain Laplacian is computed by the fused row
//! kernel; this module adds the correction Wξ − ∂ξξu on the border strips (plus a halo of R
//! cells where ∂ξψ reaches into the model), and its exact transpose for the adjoint.

use super::Padding;
use crate::stencil::Stencil;

/// Per-axis C-PML coefficients and the strips where they act.
#[derive(Debug, Clone)]
pub(crate) struct CpmlProfile {
    az: Vec<f32>,
    bz: Vec<f32>,
    ax: Vec<f32>,
    bx: Vec<f32>,
    pml_rows: Vec<usize>,
    corr_rows: Vec<usize>,
    in_corr_row: Vec<bool>,
    pml_cols: Vec<std::ops::Range<usize>>,
    corr_cols: Vec<std::ops::Range<usize>>,
}

/// Auxiliary fields on the storage grid: ψ and ζ per axis (forward), or their adjoint carries.
#[derive(Debug, Clone)]
pub(crate) struct CpmlFields {
    pub psi_z: Vec<f32>,
    pub zeta_z: Vec<f32>,
    pub psi_x: Vec<f32>,
    pub zeta_x: Vec<f32>,
}

impl CpmlFields {
    pub fn zeros(n: usize) -> Self {
        Self {
            psi_z: vec![0.0; n],
            zeta_z: vec![0.0; n],
            psi_x: vec![0.0; n],
            zeta_x: vec![0.0; n],
        }
    }
}

/// Contiguous runs of a sorted index list over 0..n, widened towards the model to a multiple of
/// 8 cells so the loops vectorise without remainders (the extra cells have b = 0 and carry
/// zero corrections, so the result is unchanged).
fn runs(idx: &[usize], n: usize) -> Vec<std::ops::Range<usize>> {
    let mut out = runs_exact(idx);
    for r in &mut out {
        let w = r.len().next_multiple_of(8).min(n);
        if r.start == 0 {
            r.end = w;
        } else if r.end == n {
            r.start = n - w;
        }
    }
    if out.windows(2).any(|p| p[0].end > p[1].start) {
        return runs_exact(idx);
    }
    out
}

/// Contiguous runs of a sorted index list.
fn runs_exact(idx: &[usize]) -> Vec<std::ops::Range<usize>> {
    let mut out: Vec<std::ops::Range<usize>> = Vec::new();
    for &i in idx {
        match out.last_mut() {
            Some(r) if r.end == i => r.end = i + 1,
            _ => out.push(i..i + 1),
        }
    }
    out
}

/// out[j] = Σₖ d1[k]·(src[at + j + (k+1)·stride] − src[at + j − (k+1)·stride]).
#[inline(always)]
fn d1<const R: usize>(c: &[f32; 4], src: &[f32], at: usize, stride: usize, out: &mut [f32]) {
    let n = out.len();
    let p: [&[f32]; R] =
        std::array::from_fn(|k| &src[at + (k + 1) * stride..at + (k + 1) * stride + n]);
    let m: [&[f32]; R] =
        std::array::from_fn(|k| &src[at - (k + 1) * stride..at - (k + 1) * stride + n]);
    for (j, o) in out.iter_mut().enumerate() {
        let mut s = 0.0;
        for k in 0..R {
            s += c[k] * (p[k][j] - m[k][j]);
        }
        *o = s;
    }
}

/// out[j] = d2[0]·src[at + j] + Σₖ d2[k+1]·(src[at + j + (k+1)·stride] + src[at + j − (k+1)·stride]).
#[inline(always)]
fn d2<const R: usize>(c: &[f32; 5], src: &[f32], at: usize, stride: usize, out: &mut [f32]) {
    let n = out.len();
    let z = &src[at..at + n];
    let p: [&[f32]; R] =
        std::array::from_fn(|k| &src[at + (k + 1) * stride..at + (k + 1) * stride + n]);
    let m: [&[f32]; R] =
        std::array::from_fn(|k| &src[at - (k + 1) * stride..at - (k + 1) * stride + n]);
    for (j, o) in out.iter_mut().enumerate() {
        let mut s = c[0] * z[j];
        for k in 0..R {
            s += c[k + 1] * (p[k][j] + m[k][j]);
        }
        *o = s;
    }
}

/// Per-cell coefficient: one value for a whole row (z axis) or one per column (x axis).
trait Coef: Copy {
    fn get(self, j: usize) -> f32;
}

impl Coef for f32 {
    #[inline(always)]
    fn get(self, _: usize) -> f32 {
        self
    }
}

impl Coef for &[f32] {
    #[inline(always)]
    fn get(self, j: usize) -> f32 {
        self[j]
    }
}

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
    let n = psi.len();
    let up: [&[f32]; R] =
        std::array::from_fn(|k| &u[s + (k + 1) * stride..s + (k + 1) * stride + n]);
    let um: [&[f32]; R] =
        std::array::from_fn(|k| &u[s - (k + 1) * stride..s - (k + 1) * stride + n]);
    for (j, p) in psi.iter_mut().enumerate() {
        let mut du = 0.0;
        for k in 0..R {
            du += d1c[k] * (up[k][j] - um[k][j]);
        }
        *p = a.get(j) * *p + b.get(j) * du;
    }
}

/// corr = ∂ψ + ζ with ζ ← a·ζ + b·(∂²u + ∂ψ) (or corr = ∂ψ where `pml` is false), assigned or
/// added (`add`), for the cells starting at storage index `s` along `stride`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn correction<const R: usize, C: Coef>(
    st: &Stencil,
    u: &[f32],
    psi: &[f32],
    s: usize,
    stride: usize,
    a: C,
    b: C,
    pml: bool,
    zeta: &mut [f32],
    corr: &mut [f32],
    add: bool,
) {
    let n = corr.len();
    let (d1c, d2c) = (&st.d1, &st.d2);
    let pp: [&[f32]; R] =
        std::array::from_fn(|k| &psi[s + (k + 1) * stride..s + (k + 1) * stride + n]);
    let pm: [&[f32]; R] =
        std::array::from_fn(|k| &psi[s - (k + 1) * stride..s - (k + 1) * stride + n]);
    if !pml {
        for (j, c) in corr.iter_mut().enumerate() {
            let mut dpsi = 0.0;
            for k in 0..R {
                dpsi += d1c[k] * (pp[k][j] - pm[k][j]);
            }
            *c = if add { *c + dpsi } else { dpsi };
        }
        return;
    }
    let u0 = &u[s..s + n];
    let up: [&[f32]; R] =
        std::array::from_fn(|k| &u[s + (k + 1) * stride..s + (k + 1) * stride + n]);
    let um: [&[f32]; R] =
        std::array::from_fn(|k| &u[s - (k + 1) * stride..s - (k + 1) * stride + n]);
    let zeta = &mut zeta[..n];
    for (j, c) in corr.iter_mut().enumerate() {
        let (mut dpsi, mut uxx) = (0.0, d2c[0] * u0[j]);
        for k in 0..R {
            dpsi += d1c[k] * (pp[k][j] - pm[k][j]);
            uxx += d2c[k + 1] * (up[k][j] + um[k][j]);
        }
        let z = a.get(j) * zeta[j] + b.get(j) * (uxx + dpsi);
        zeta[j] = z;
        *c = if add { *c + dpsi + z } else { dpsi + z };
    }
}

/// Scratch rows for the correction loops.
#[derive(Debug, Clone, Default)]
pub(crate) struct Scratch {
    t1: Vec<f32>,
    t2: Vec<f32>,
}

/// (a, b) for one axis of `n_model` cells padded by `lo`/`hi` cells.
#[allow(clippy::too_many_arguments)]
fn axis_coeffs(
    lo: usize,
    hi: usize,
    n_model: usize,
    dx: f32,
    dt: f32,
    vmax: f32,
    freq: f32,
    refl: f32,
) -> (Vec<f32>, Vec<f32>) {
    let n = lo + n_model + hi;
    let mut a = vec![1.0f32; n];
    let mut b = vec![0.0f32; n];
    for i in 0..n {
        let (d, w) = if i < lo {
            ((lo - i) as f64, lo as f64)
        } else if i >= lo + n_model {
            ((i + 1 - lo - n_model) as f64, hi as f64)
        } else {
            continue;
        };
        let r = d / w;
        let sigma_max = -3.0 * f64::from(vmax) * f64::from(refl).ln() / (2.0 * w * f64::from(dx));
        let sigma = sigma_max * r * r;
        let alpha = std::f64::consts::PI * f64::from(freq) * (1.0 - r);
        let ai = (-(sigma + alpha) * f64::from(dt)).exp();
        a[i] = ai as f32;
        b[i] = (sigma / (sigma + alpha) * (ai - 1.0)) as f32;
    }
    (a, b)
}

/// Indices with b ≠ 0, and those within `r` of one (where ∂ξψ is non-zero).
fn strips(b: &[f32], r: usize) -> (Vec<usize>, Vec<usize>) {
    let pml: Vec<usize> = (0..b.len()).filter(|&i| b[i] != 0.0).collect();
    let corr = (0..b.len())
        .filter(|&i| (i.saturating_sub(r)..(i + r + 1).min(b.len())).any(|k| b[k] != 0.0))
        .collect();
    (pml, corr)
}

/// Geometry needed by the correction loops.
pub(crate) struct Layout {
    pub nzp: usize,
    pub nxp: usize,
    pub nxs: usize,
}

impl CpmlProfile {
    /// Coefficients for a model (nz, nx) padded by `pad`; `vmax` (m/s) and `freq` (Hz).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        pad: Padding,
        nz: usize,
        nx: usize,
        dx: f32,
        dt: f32,
        vmax: f32,
        freq: f32,
        refl: f32,
        r: usize,
    ) -> Self {
        let (az, bz) = axis_coeffs(pad.top, pad.bottom, nz, dx, dt, vmax, freq, refl);
        let (ax, bx) = axis_coeffs(pad.left, pad.right, nx, dx, dt, vmax, freq, refl);
        let (pml_rows, corr_rows) = strips(&bz, r);
        let (pml_cols, corr_cols) = strips(&bx, r);
        let mut in_corr_row = vec![false; bz.len()];
        for &i in &corr_rows {
            in_corr_row[i] = true;
        }
        let nxp = ax.len();
        Self {
            az,
            bz,
            ax,
            bx,
            pml_rows,
            corr_rows,
            in_corr_row,
            pml_cols: runs(&pml_cols, nxp),
            corr_cols: runs(&corr_cols, nxp),
        }
    }

    /// corr = W − ∇²u on the strips for wavefield `u`, advancing ψ, ζ one step.
    pub fn forward_correction(
        &self,
        st: &Stencil,
        l: &Layout,
        u: &[f32],
        f: &mut CpmlFields,
        sc: &mut Scratch,
        corr: &mut [f32],
    ) {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
            {
                // SAFETY: the CPU supports the enabled features.
                unsafe { self.forward_avx2(st, l, u, f, sc, corr) };
                return;
            }
        }
        self.forward_dispatch(st, l, u, f, sc, corr);
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn forward_avx2(
        &self,
        st: &Stencil,
        l: &Layout,
        u: &[f32],
        f: &mut CpmlFields,
        sc: &mut Scratch,
        corr: &mut [f32],
    ) {
        self.forward_dispatch(st, l, u, f, sc, corr);
    }

    #[inline(always)]
    fn forward_dispatch(
        &self,
        st: &Stencil,
        l: &Layout,
        u: &[f32],
        f: &mut CpmlFields,
        sc: &mut Scratch,
        corr: &mut [f32],
    ) {
        if st.radius == 2 {
            self.forward_r::<2>(st, l, u, f, sc, corr)
        } else {
            self.forward_r::<4>(st, l, u, f, sc, corr)
        }
    }

    #[inline(always)]
    fn forward_r<const R: usize>(
        &self,
        st: &Stencil,
        l: &Layout,
        u: &[f32],
        f: &mut CpmlFields,
        _sc: &mut Scratch,
        corr: &mut [f32],
    ) {
        let (nxs, n) = (l.nxs, l.nxp);
        let at = |i: usize, j: usize| (i + R) * nxs + j + R;
        // z axis: ψz on PML rows, then the correction on PML rows + halo (assigned).
        for &i in &self.pml_rows {
            let s = at(i, 0);
            psi_update::<R, _>(
                &st.d1,
                u,
                s,
                nxs,
                self.az[i],
                self.bz[i],
                &mut f.psi_z[s..s + n],
            );
        }
        for &i in &self.corr_rows {
            let s = at(i, 0);
            let (a, b) = (self.az[i], self.bz[i]);
            correction::<R, _>(
                st,
                u,
                &f.psi_z,
                s,
                nxs,
                a,
                b,
                b != 0.0,
                &mut f.zeta_z[s..s + n],
                &mut corr[s..s + n],
                false,
            );
        }
        // x axis: per row and strip, ψx then the correction (added on z-strip rows). The
        // widened runs hold both the PML cells and their halo (b = 0, a = 1 there: ψ stays 0).
        for i in 0..l.nzp {
            let add = self.in_corr_row[i];
            for rg in &self.corr_cols {
                let (s, m) = (at(i, rg.start), rg.len());
                let (ax, bx) = (&self.ax[rg.clone()], &self.bx[rg.clone()]);
                psi_update::<R, _>(&st.d1, u, s, 1, ax, bx, &mut f.psi_x[s..s + m]);
                correction::<R, _>(
                    st,
                    u,
                    &f.psi_x,
                    s,
                    1,
                    ax,
                    bx,
                    true,
                    &mut f.zeta_x[s..s + m],
                    &mut corr[s..s + m],
                    add,
                );
            }
        }
    }

    /// Transpose of [`Self::forward_correction`] applied to `x` (= v²dt²·λ): corr = Wᵀx − ∇²x,
    /// advancing the adjoint carries in `f` (ψ̄, ζ̄) one step backwards. `e`, `g` are scratch
    /// storage-grid arrays that must be zero outside the PML strips (they stay so).
    #[allow(clippy::too_many_arguments)]
    pub fn adjoint_correction(
        &self,
        st: &Stencil,
        l: &Layout,
        x: &[f32],
        f: &mut CpmlFields,
        e: &mut [f32],
        g: &mut [f32],
        sc: &mut Scratch,
        corr: &mut [f32],
    ) {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
            {
                // SAFETY: the CPU supports the enabled features.
                unsafe { self.adjoint_avx2(st, l, x, f, e, g, sc, corr) };
                return;
            }
        }
        self.adjoint_dispatch(st, l, x, f, e, g, sc, corr);
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    #[allow(clippy::too_many_arguments)]
    unsafe fn adjoint_avx2(
        &self,
        st: &Stencil,
        l: &Layout,
        x: &[f32],
        f: &mut CpmlFields,
        e: &mut [f32],
        g: &mut [f32],
        sc: &mut Scratch,
        corr: &mut [f32],
    ) {
        self.adjoint_dispatch(st, l, x, f, e, g, sc, corr);
    }

    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn adjoint_dispatch(
        &self,
        st: &Stencil,
        l: &Layout,
        x: &[f32],
        f: &mut CpmlFields,
        e: &mut [f32],
        g: &mut [f32],
        sc: &mut Scratch,
        corr: &mut [f32],
    ) {
        if st.radius == 2 {
            self.adjoint_r::<2>(st, l, x, f, e, g, sc, corr)
        } else {
            self.adjoint_r::<4>(st, l, x, f, e, g, sc, corr)
        }
    }

    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn adjoint_r<const R: usize>(
        &self,
        st: &Stencil,
        l: &Layout,
        x: &[f32],
        f: &mut CpmlFields,
        e: &mut [f32],
        g: &mut [f32],
        sc: &mut Scratch,
        corr: &mut [f32],
    ) {
        let (nxs, n) = (l.nxs, l.nxp);
        let at = |i: usize, j: usize| (i + R) * nxs + j + R;
        sc.t1.resize(n, 0.0);
        sc.t2.resize(n, 0.0);
        // z axis. ζ̄tot = ζ̄ + x; e = b·ζ̄tot (T̄ = x + e); ψ̄tot = ψ̄ − ∂z(x + e); g = b ψ̄tot;
        // corr = ∂zz e − ∂z g; carries ← a·tot.
        for &i in &self.pml_rows {
            let (a, b, s) = (self.az[i], self.bz[i], at(i, 0));
            for ((ev, z), xv) in e[s..s + n]
                .iter_mut()
                .zip(&mut f.zeta_z[s..s + n])
                .zip(&x[s..s + n])
            {
                let zt = *z + xv;
                *ev = b * zt;
                *z = a * zt;
            }
        }
        for &i in &self.pml_rows {
            let (a, b, s) = (self.az[i], self.bz[i], at(i, 0));
            d1::<R>(&st.d1, x, s, nxs, &mut sc.t1);
            d1::<R>(&st.d1, e, s, nxs, &mut sc.t2);
            for ((gv, p), (dx1, dx2)) in g[s..s + n]
                .iter_mut()
                .zip(&mut f.psi_z[s..s + n])
                .zip(sc.t1.iter().zip(&sc.t2))
            {
                let pt = *p - (dx1 + dx2);
                *gv = b * pt;
                *p = a * pt;
            }
        }
        for &i in &self.corr_rows {
            let s = at(i, 0);
            d2::<R>(&st.d2, e, s, nxs, &mut sc.t1);
            d1::<R>(&st.d1, g, s, nxs, &mut sc.t2);
            for (c, (ezz, gz)) in corr[s..s + n].iter_mut().zip(sc.t1.iter().zip(&sc.t2)) {
                *c = ezz - gz;
            }
        }
        // x axis: the same along rows; e and g are reused, so clear the z strips first.
        for &i in &self.pml_rows {
            let s = at(i, 0);
            e[s..s + n].fill(0.0);
            g[s..s + n].fill(0.0);
        }
        for i in 0..l.nzp {
            for rg in &self.pml_cols {
                let (s, m) = (at(i, rg.start), rg.len());
                let (ax, bx) = (&self.ax[rg.clone()], &self.bx[rg.clone()]);
                let (zx, xs, es) = (&mut f.zeta_x[s..s + m], &x[s..s + m], &mut e[s..s + m]);
                for j in 0..m {
                    let zt = zx[j] + xs[j];
                    es[j] = bx[j] * zt;
                    zx[j] = ax[j] * zt;
                }
            }
            for rg in &self.pml_cols {
                let (s, m) = (at(i, rg.start), rg.len());
                let (t1, t2) = (&mut sc.t1[..m], &mut sc.t2[..m]);
                d1::<R>(&st.d1, x, s, 1, t1);
                d1::<R>(&st.d1, e, s, 1, t2);
                let (ax, bx) = (&self.ax[rg.clone()], &self.bx[rg.clone()]);
                let (px, gs) = (&mut f.psi_x[s..s + m], &mut g[s..s + m]);
                for j in 0..m {
                    let pt = px[j] - (t1[j] + t2[j]);
                    gs[j] = bx[j] * pt;
                    px[j] = ax[j] * pt;
                }
            }
            let add = self.in_corr_row[i];
            for rg in &self.corr_cols {
                let (s, m) = (at(i, rg.start), rg.len());
                let (t1, t2) = (&mut sc.t1[..m], &mut sc.t2[..m]);
                d2::<R>(&st.d2, e, s, 1, t1);
                d1::<R>(&st.d1, g, s, 1, t2);
                let cr = &mut corr[s..s + m];
                if add {
                    cr.iter_mut()
                        .zip(t1.iter().zip(t2.iter()))
                        .for_each(|(c, (a, b))| *c += a - b);
                } else {
                    cr.iter_mut()
                        .zip(t1.iter().zip(t2.iter()))
                        .for_each(|(c, (a, b))| *c = a - b);
                }
            }
            // Leave e and g zero off the strips for the next row and call.
            for rg in &self.pml_cols {
                let (s, m) = (at(i, rg.start), rg.len());
                e[s..s + m].fill(0.0);
                g[s..s + m].fill(0.0);
            }
        }
    }
}
