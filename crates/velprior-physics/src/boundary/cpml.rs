//! C-PML for the second-order scalar wave equation (Pasalic & McGarry 2010, as in deepwave).
//!
//! Per axis ξ with coefficients a = exp(−(σ+α)dt), b = σ/(σ+α)·(a − 1) (both zero inside the
//! model): ψⁿ = a ψⁿ⁻¹ + b ∂ξuⁿ,  T = ∂ξξuⁿ + ∂ξψⁿ,  ζⁿ = a ζⁿ⁻¹ + b T,  Wξ = T + ζⁿ,
//! and uⁿ⁺¹ = 2uⁿ − uⁿ⁻¹ + v²dt² (Wz + Wx). The plain Laplacian is computed by the row kernel;
//! the correction Wξ − ∂ξξu is non-zero only on *strips*: the PML cells plus a halo of R cells
//! where ∂ξψ reaches into the model. The memory variables and the correction are stored
//! compactly per strip (z strips: whole rows, x strips: a few columns of every row), so the
//! working set of a shot stays close to the three full-grid arrays (u, uⁿ⁻¹, v²dt²).
//! [`cpml_forward`](super::cpml_forward) advances them, [`cpml_adjoint`](super::cpml_adjoint)
//! applies the exact transpose.

use std::ops::Range;

use super::Padding;

/// Per-axis C-PML coefficients and the strips where they act.
#[derive(Debug, Clone)]
pub(crate) struct CpmlProfile {
    pub az: Vec<f32>,
    pub bz: Vec<f32>,
    pub ax: Vec<f32>,
    pub bx: Vec<f32>,
    /// Stencil half-width R.
    pub r: usize,
    /// Padded-grid rows of the z strips (PML rows + R-row halo towards the model).
    pub zs: Vec<Range<usize>>,
    /// Padded-grid columns of the x strips (PML columns + halo, widened to multiples of 8
    /// cells where the strips stay apart; the extra cells have a = b = 0).
    pub xs: Vec<Range<usize>>,
}

/// Compact per-strip C-PML state: ψ and ζ per axis (forward), or their adjoint carries, plus
/// the correction W − ∇²u of the current step.
///
/// z strip k of `len` rows: ψ is (len + 2R) × nxp (R zero rows on each side, so ∂zψ needs no
/// bounds tests), ζ and the correction are len × nxp. x strip k of `len` columns: ψ is
/// nzp × (len + 2R), ζ and the correction nzp × len.
#[derive(Debug, Clone)]
pub(crate) struct CpmlFields {
    pub psi_z: Vec<Vec<f32>>,
    pub zeta_z: Vec<Vec<f32>>,
    pub corr_z: Vec<Vec<f32>>,
    pub psi_x: Vec<Vec<f32>>,
    pub zeta_x: Vec<Vec<f32>>,
    pub corr_x: Vec<Vec<f32>>,
    /// Adjoint scratch e, g per z strip ((len + 2R) × nxp, zero pads) and for one x-strip row.
    pub e_z: Vec<Vec<f32>>,
    pub g_z: Vec<Vec<f32>>,
    pub e_row: Vec<f32>,
    pub g_row: Vec<f32>,
    /// The correction of the current row off the z strips (zero between the x strips), when
    /// rows are updated one at a time: lets the row kernel run one long loop per row.
    pub row: Vec<f32>,
}

impl CpmlFields {
    /// Zero state for `p` on a padded grid of `nzp` rows and `nxp` columns.
    pub fn zeros(p: &CpmlProfile, nzp: usize, nxp: usize) -> Self {
        let r2 = 2 * p.r;
        let z = |extra: usize| -> Vec<Vec<f32>> {
            p.zs.iter()
                .map(|s| vec![0.0; (s.len() + extra) * nxp])
                .collect()
        };
        let x = |extra: usize| -> Vec<Vec<f32>> {
            p.xs.iter()
                .map(|s| vec![0.0; nzp * (s.len() + extra)])
                .collect()
        };
        let wmax = p.xs.iter().map(|s| s.len() + r2).max().unwrap_or(0);
        Self {
            psi_z: z(r2),
            zeta_z: z(0),
            corr_z: z(0),
            psi_x: x(r2),
            zeta_x: x(0),
            corr_x: x(0),
            e_z: z(r2),
            g_z: z(r2),
            e_row: vec![0.0; wmax],
            g_row: vec![0.0; wmax],
            row: vec![0.0; nxp],
        }
    }

    /// Number of floats held (for memory planning).
    pub fn len(&self) -> usize {
        let sum = |v: &[Vec<f32>]| v.iter().map(Vec::len).sum::<usize>();
        sum(&self.psi_z)
            + sum(&self.zeta_z)
            + sum(&self.corr_z)
            + sum(&self.psi_x)
            + sum(&self.zeta_x)
            + sum(&self.corr_x)
            + sum(&self.e_z)
            + sum(&self.g_z)
            + self.e_row.len()
            + self.g_row.len()
            + self.row.len()
    }
}

/// (a, b) for one axis of `n_model` cells padded by `lo`/`hi` cells; a = b = 0 off the PML.
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
    let mut a = vec![0.0f32; n];
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

/// Contiguous runs of the cells within `r` of one with b ≠ 0 (where the correction acts).
fn strip_runs(b: &[f32], r: usize) -> Vec<Range<usize>> {
    let mut out: Vec<Range<usize>> = Vec::new();
    let near = |i: usize| (i.saturating_sub(r)..(i + r + 1).min(b.len())).any(|k| b[k] != 0.0);
    for i in (0..b.len()).filter(|&i| near(i)) {
        match out.last_mut() {
            Some(s) if s.end == i => s.end = i + 1,
            _ => out.push(i..i + 1),
        }
    }
    out
}

/// Widen runs towards the model to multiples of 8 cells (vector width) if they stay apart.
fn widen(runs: Vec<Range<usize>>, n: usize) -> Vec<Range<usize>> {
    let mut out = runs.clone();
    for s in &mut out {
        let w = s.len().next_multiple_of(8).min(n);
        if s.start == 0 {
            s.end = w;
        } else if s.end == n {
            s.start = n - w;
        }
    }
    if out.windows(2).any(|p| p[0].end > p[1].start) {
        return runs;
    }
    out
}

impl CpmlProfile {
    /// Coefficients for a model (nz, nx) padded by `pad`; `vmax` (m/s) and `freq` (Hz), stencil
    /// half-width `r`.
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
        let zs = strip_runs(&bz, r);
        let xs = widen(strip_runs(&bx, r), ax.len());
        Self {
            az,
            bz,
            ax,
            bx,
            r,
            zs,
            xs,
        }
    }

    /// Copy the x-strip corrections of padded row `i` into [`CpmlFields::row`] if the row is
    /// off the z strips.
    pub fn fill_row(&self, f: &mut CpmlFields, i: usize) {
        if self.z_row(i).is_none() {
            for (k, xr) in self.xs.iter().enumerate() {
                let w = xr.len();
                f.row[xr.clone()].copy_from_slice(&f.corr_x[k][i * w..(i + 1) * w]);
            }
        }
    }

    /// The z strip holding padded row `i` and the row's index in it.
    #[inline]
    pub fn z_row(&self, i: usize) -> Option<(usize, usize)> {
        self.zs
            .iter()
            .position(|s| s.contains(&i))
            .map(|k| (k, i - self.zs[k].start))
    }
}

/// The correction of one padded row for the row kernel.
pub(crate) enum RowCorr<'a> {
    /// A z-strip row: the correction of all nxp cells.
    Full(&'a [f32]),
    /// Any other row: corrections on the x strips only.
    Strips,
}

/// Read-only view of the corrections of a step, for the row kernel.
#[derive(Clone, Copy)]
pub(crate) struct CorrView<'a> {
    pub prof: &'a CpmlProfile,
    pub f: &'a CpmlFields,
    pub nxp: usize,
    /// Rows off the z strips read [`CpmlFields::row`] (filled by [`CpmlProfile::fill_row`]).
    pub row_buf: bool,
}

impl<'a> CorrView<'a> {
    /// How padded row `i` is corrected.
    #[inline]
    pub fn row(&self, i: usize) -> RowCorr<'a> {
        match self.prof.z_row(i) {
            Some((k, li)) => RowCorr::Full(&self.f.corr_z[k][li * self.nxp..(li + 1) * self.nxp]),
            None if self.row_buf => RowCorr::Full(&self.f.row),
            None => RowCorr::Strips,
        }
    }

    /// Correction of x strip `k` on padded row `i`.
    #[inline]
    pub fn x_row(&self, k: usize, i: usize) -> &'a [f32] {
        let w = self.prof.xs[k].len();
        &self.f.corr_x[k][i * w..(i + 1) * w]
    }
}

/// Per-cell coefficient: one value for a whole row (z axis) or one per column (x axis).
pub(super) trait Coef: Copy {
    fn get(self, j: usize) -> f32;
    /// The coefficients of the first `n` cells (lets the compiler drop bounds checks).
    fn head(self, n: usize) -> Self;
}

impl Coef for f32 {
    #[inline(always)]
    fn get(self, _: usize) -> f32 {
        self
    }
    #[inline(always)]
    fn head(self, _: usize) -> Self {
        self
    }
}

impl Coef for &[f32] {
    #[inline(always)]
    fn get(self, j: usize) -> f32 {
        self[j]
    }
    #[inline(always)]
    fn head(self, n: usize) -> Self {
        &self[..n]
    }
}

/// The slices src[at ± (k+1)·stride ..][..n], k = 0..R (plus, minus).
#[inline(always)]
pub(super) fn taps<const R: usize>(
    src: &[f32],
    at: usize,
    stride: usize,
    n: usize,
) -> ([&[f32]; R], [&[f32]; R]) {
    (
        std::array::from_fn(|k| &src[at + (k + 1) * stride..at + (k + 1) * stride + n]),
        std::array::from_fn(|k| &src[at - (k + 1) * stride..at - (k + 1) * stride + n]),
    )
}
