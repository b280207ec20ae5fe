//! C-PML for the second-order scalar wave equation (Pasalic & McGarry 2010, as in deepwave).
//!
//! Per axis ξ with coefficients a = exp(−(σ+α)dt), b = σ/(σ+α)·(a − 1) (zero inside the model):
//! ψⁿ = a ψⁿ⁻¹ + b ∂ξuⁿ,  T = ∂ξξuⁿ + ∂ξψⁿ,  ζⁿ = a ζⁿ⁻¹ + b T,  Wξ = (1 + b) T + ζⁿ,
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
    pml_cols: Vec<usize>,
    corr_cols: Vec<usize>,
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
        Self { psi_z: vec![0.0; n], zeta_z: vec![0.0; n], psi_x: vec![0.0; n], zeta_x: vec![0.0; n] }
    }
}

/// (a, b) for one axis of `n_model` cells padded by `lo`/`hi` cells.
fn axis_coeffs(lo: usize, hi: usize, n_model: usize, dx: f32, dt: f32, vmax: f32, freq: f32, refl: f32) -> (Vec<f32>, Vec<f32>) {
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
    pub fn new(pad: Padding, nz: usize, nx: usize, dx: f32, dt: f32, vmax: f32, freq: f32, refl: f32, r: usize) -> Self {
        let (az, bz) = axis_coeffs(pad.top, pad.bottom, nz, dx, dt, vmax, freq, refl);
        let (ax, bx) = axis_coeffs(pad.left, pad.right, nx, dx, dt, vmax, freq, refl);
        let (pml_rows, corr_rows) = strips(&bz, r);
        let (pml_cols, corr_cols) = strips(&bx, r);
        let mut in_corr_row = vec![false; bz.len()];
        for &i in &corr_rows {
            in_corr_row[i] = true;
        }
        Self { az, bz, ax, bx, pml_rows, corr_rows, in_corr_row, pml_cols, corr_cols }
    }

    /// corr = W − ∇²u on the strips for wavefield `u`, advancing ψ, ζ one step.
    pub fn forward_correction(&self, st: &Stencil, l: &Layout, u: &[f32], f: &mut CpmlFields, corr: &mut [f32]) {
        let r = st.radius;
        let (d1, d2) = (&st.d1[..r], &st.d2);
        let idx = |i: usize, j: usize| (i + r) * l.nxs + j + r;
        let nxs = l.nxs;
        // z axis: ψz on PML rows, then the correction on PML rows + halo (assigned).
        for &i in &self.pml_rows {
            let (a, b) = (self.az[i], self.bz[i]);
            for j in 0..l.nxp {
                let s = idx(i, j);
                let du: f32 = (0..r).map(|k| d1[k] * (u[s + (k + 1) * nxs] - u[s - (k + 1) * nxs])).sum();
                f.psi_z[s] = a * f.psi_z[s] + b * du;
            }
        }
        for &i in &self.corr_rows {
            let (a, b) = (self.az[i], self.bz[i]);
            for j in 0..l.nxp {
                let s = idx(i, j);
                let dpsi: f32 = (0..r).map(|k| d1[k] * (f.psi_z[s + (k + 1) * nxs] - f.psi_z[s - (k + 1) * nxs])).sum();
                corr[s] = if b != 0.0 {
                    let uzz = d2[0] * u[s] + (0..r).map(|k| d2[k + 1] * (u[s + (k + 1) * nxs] + u[s - (k + 1) * nxs])).sum::<f32>();
                    let t = uzz + dpsi;
                    f.zeta_z[s] = a * f.zeta_z[s] + b * t;
                    dpsi + b * t + f.zeta_z[s]
                } else {
                    dpsi
                };
            }
        }
        // x axis: per row, ψx on PML columns then the correction (added on z-strip rows).
        for i in 0..l.nzp {
            for &j in &self.pml_cols {
                let s = idx(i, j);
                let du: f32 = (0..r).map(|k| d1[k] * (u[s + k + 1] - u[s - k - 1])).sum();
                f.psi_x[s] = self.ax[j] * f.psi_x[s] + self.bx[j] * du;
            }
            let add = self.in_corr_row[i];
            for &j in &self.corr_cols {
                let s = idx(i, j);
                let (a, b) = (self.ax[j], self.bx[j]);
                let dpsi: f32 = (0..r).map(|k| d1[k] * (f.psi_x[s + k + 1] - f.psi_x[s - k - 1])).sum();
                let c = if b != 0.0 {
                    let uxx = d2[0] * u[s] + (0..r).map(|k| d2[k + 1] * (u[s + k + 1] + u[s - k - 1])).sum::<f32>();
                    let t = uxx + dpsi;
                    f.zeta_x[s] = a * f.zeta_x[s] + b * t;
                    dpsi + b * t + f.zeta_x[s]
                } else {
                    dpsi
                };
                corr[s] = if add { corr[s] + c } else { c };
            }
        }
    }

    /// Transpose of [`Self::forward_correction`] applied to `x` (= v²dt²·λ): corr = Wᵀx − ∇²x,
    /// advancing the adjoint carries in `f` (ψ̄, ζ̄) one step backwards. `e`, `g` are scratch
    /// storage-grid arrays that must be zero outside the PML strips (they stay so).
    pub fn adjoint_correction(&self, st: &Stencil, l: &Layout, x: &[f32], f: &mut CpmlFields, e: &mut [f32], g: &mut [f32], corr: &mut [f32]) {
        let r = st.radius;
        let (d1, d2) = (&st.d1[..r], &st.d2);
        let idx = |i: usize, j: usize| (i + r) * l.nxs + j + r;
        let nxs = l.nxs;
        // z axis. ζ̄tot = ζ̄ + x; e = b(x + ζ̄tot); ψ̄tot = ψ̄ − ∂z(x + e); g = b ψ̄tot;
        // corr = ∂zz e − ∂z g; carries ← a·tot.
        for &i in &self.pml_rows {
            let (a, b) = (self.az[i], self.bz[i]);
            for j in 0..l.nxp {
                let s = idx(i, j);
                let zt = f.zeta_z[s] + x[s];
                e[s] = b * (x[s] + zt);
                f.zeta_z[s] = a * zt;
            }
        }
        for &i in &self.pml_rows {
            let (a, b) = (self.az[i], self.bz[i]);
            for j in 0..l.nxp {
                let s = idx(i, j);
                let dxe: f32 = (0..r)
                    .map(|k| {
                        let (p, m) = (s + (k + 1) * nxs, s - (k + 1) * nxs);
                        d1[k] * ((x[p] + e[p]) - (x[m] + e[m]))
                    })
                    .sum();
                let pt = f.psi_z[s] - dxe;
                g[s] = b * pt;
                f.psi_z[s] = a * pt;
            }
        }
        for &i in &self.corr_rows {
            for j in 0..l.nxp {
                let s = idx(i, j);
                let ezz = d2[0] * e[s] + (0..r).map(|k| d2[k + 1] * (e[s + (k + 1) * nxs] + e[s - (k + 1) * nxs])).sum::<f32>();
                let gz: f32 = (0..r).map(|k| d1[k] * (g[s + (k + 1) * nxs] - g[s - (k + 1) * nxs])).sum();
                corr[s] = ezz - gz;
            }
        }
        // x axis: the same along rows; e and g are reused (their z values are no longer needed,
        // but they must be zero off the x strips: clear the z strips first).
        for &i in &self.pml_rows {
            let row = idx(i, 0);
            e[row..row + l.nxp].fill(0.0);
            g[row..row + l.nxp].fill(0.0);
        }
        for i in 0..l.nzp {
            for &j in &self.pml_cols {
                let s = idx(i, j);
                let zt = f.zeta_x[s] + x[s];
                e[s] = self.bx[j] * (x[s] + zt);
                f.zeta_x[s] = self.ax[j] * zt;
            }
            for &j in &self.pml_cols {
                let s = idx(i, j);
                let dxe: f32 = (0..r).map(|k| d1[k] * ((x[s + k + 1] + e[s + k + 1]) - (x[s - k - 1] + e[s - k - 1]))).sum();
                let pt = f.psi_x[s] - dxe;
                g[s] = self.bx[j] * pt;
                f.psi_x[s] = self.ax[j] * pt;
            }
            let add = self.in_corr_row[i];
            for &j in &self.corr_cols {
                let s = idx(i, j);
                let exx = d2[0] * e[s] + (0..r).map(|k| d2[k + 1] * (e[s + k + 1] + e[s - k - 1])).sum::<f32>();
                let gx: f32 = (0..r).map(|k| d1[k] * (g[s + k + 1] - g[s - k - 1])).sum();
                let c = exx - gx;
                corr[s] = if add { corr[s] + c } else { c };
            }
        }
        // Leave e and g zero off the strips for the next call (clear the x strips).
        for i in 0..l.nzp {
            for &j in &self.pml_cols {
                let s = idx(i, j);
                e[s] = 0.0;
                g[s] = 0.0;
            }
        }
    }
}
