//! Forward modelling: 2-D constant-density acoustic wave equation, leapfrog in time.
//!
//! uⁿ = 2uⁿ⁻¹ − uⁿ⁻² + v²dt²·W(uⁿ⁻¹) [− d·dt·(uⁿ⁻¹ − uⁿ⁻²)] + v_s²dt²·w[n]·δ_s,
//! with W the 4th/8th-order Laplacian (plus the C-PML terms) and the source term scaled by
//! v²dt² at the source cell, as the OpenFWI generator does. Receivers sample uⁿ after injection.

use rayon::prelude::*;

use crate::boundary::cpml::{CpmlFields, CpmlProfile};
use crate::boundary::damping::damping_grid;
use crate::boundary::{Boundary, Padding};
use crate::error::{PhysicsError, Result, param};
use crate::geometry::{Acquisition, ModelShape, Shot};
use crate::stencil::{FlushDenormals, Stencil};
use crate::window::Window;

/// Numerical parameters of the finite-difference solver.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SolverConfig {
    /// Grid spacing in both directions (m).
    pub dx: f32,
    /// Time step (s); also the sampling of the wavelet and of the recorded data.
    pub dt: f32,
    /// Spatial order of accuracy: 4 or 8.
    #[serde(default = "default_order")]
    pub order: usize,
    /// Dominant source frequency (Hz): C-PML profile and the points-per-wavelength warning.
    pub freq: f32,
    /// Absorbing border.
    pub boundary: Boundary,
    /// Pressure-free surface at the top row of the model (no border above it).
    #[serde(default)]
    pub free_surface: bool,
}

fn default_order() -> usize {
    4
}

impl SolverConfig {
    /// The OpenFWI generator: dx = 10 m, dt = 1 ms, 15 Hz, 4th order, 120-cell damping border.
    pub fn openfwi() -> Self {
        Self {
            dx: 10.0,
            dt: 1e-3,
            order: 4,
            freq: 15.0,
            boundary: Boundary::Damping {
                width: 120,
                reference_velocity: None,
            },
            free_surface: false,
        }
    }

    /// The fast default: same grid as OpenFWI, 20-cell C-PML.
    pub fn cpml(dx: f32, dt: f32, freq: f32, width: usize) -> Self {
        Self {
            dx,
            dt,
            order: 4,
            freq,
            boundary: Boundary::Cpml {
                width,
                reflection: 1e-3,
                max_velocity: None,
            },
            free_surface: false,
        }
    }
}

/// Padded grid sizes: `nzp` × `nxp` modelling cells, storage row stride `nxs` (= nxp + 2R).
pub(crate) struct Layout {
    pub nzp: usize,
    pub nxp: usize,
    pub nxs: usize,
}

/// A model prepared for propagation: padded coefficients on the storage grid.
pub(crate) struct Medium {
    pub st: Stencil,
    pub shape: ModelShape,
    pub pad: Padding,
    pub lay: Layout,
    pub nzs: usize,
    /// v²dt² on the storage grid (m²), zero on the halo.
    pub c: Vec<f32>,
    /// d·dt on the storage grid (damping border) or empty.
    pub k: Vec<f32>,
    pub cpml: Option<CpmlProfile>,
    pub free_surface: bool,
}

impl Medium {
    /// Validate inputs (velocity, CFL, geometry) and build the padded coefficients.
    pub fn new(
        v: &[f32],
        shape: ModelShape,
        cfg: &SolverConfig,
        acq: Option<&Acquisition>,
    ) -> Result<Self> {
        shape.check_velocity(v)?;
        if let Some(a) = acq {
            a.check(shape)?;
        }
        let st = Stencil::new(cfg.order, cfg.dx)?;
        if !(cfg.dt.is_finite() && cfg.dt > 0.0) {
            return Err(param(
                "dt",
                format!("time step must be > 0 s, got {}", cfg.dt),
            ));
        }
        let vmax = v.iter().copied().fold(0.0f32, f32::max);
        let vmin = v.iter().copied().fold(f32::INFINITY, f32::min);
        let dt_max = st.max_stable_dt(vmax);
        if cfg.dt > dt_max {
            return Err(PhysicsError::Unstable {
                dt: cfg.dt,
                vmax,
                dx: cfg.dx,
                dt_max,
            });
        }
        if cfg.freq > 0.0 {
            let ppw = vmin / (2.0 * cfg.freq * cfg.dx);
            if ppw < 3.0 {
                return Err(PhysicsError::Dispersive {
                    points: ppw,
                    vmin,
                    freq: cfg.freq,
                    dx: cfg.dx,
                    dx_max: vmin / (2.0 * cfg.freq * 5.0),
                });
            }
            if ppw < 5.0 {
                tracing::warn!(
                    "only {ppw:.1} grid points per minimum wavelength (vmin {vmin} m/s, 2×{} Hz, dx {} m): expect dispersion",
                    cfg.freq,
                    cfg.dx
                );
            }
        }
        let w = cfg.boundary.width();
        let pad = Padding {
            top: if cfg.free_surface { 0 } else { w },
            bottom: w,
            left: w,
            right: w,
        };
        let (nz, nx) = (shape.nz, shape.nx);
        let (nzp, nxp) = (nz + pad.top + pad.bottom, nx + pad.left + pad.right);
        let r = st.radius;
        let (nzs, nxs) = (nzp + 2 * r, nxp + 2 * r);
        let lay = Layout { nzp, nxp, nxs };
        let dt2 = cfg.dt * cfg.dt;
        let mut c = vec![0.0f32; nzs * nxs];
        for i in 0..nzp {
            let iz = i.saturating_sub(pad.top).min(nz - 1);
            for j in 0..nxp {
                let ix = j.saturating_sub(pad.left).min(nx - 1);
                let vv = v[iz * nx + ix];
                c[(i + r) * nxs + j + r] = vv * vv * dt2;
            }
        }
        let (k, cpml) = match cfg.boundary {
            Boundary::Damping {
                reference_velocity, ..
            } => {
                let kp = damping_grid(
                    pad,
                    nz,
                    nx,
                    cfg.dx,
                    cfg.dt,
                    reference_velocity.unwrap_or(vmin),
                );
                let mut k = vec![0.0f32; nzs * nxs];
                for i in 0..nzp {
                    k[(i + r) * nxs + r..(i + r) * nxs + r + nxp]
                        .copy_from_slice(&kp[i * nxp..(i + 1) * nxp]);
                }
                (k, None)
            }
            Boundary::Cpml {
                reflection,
                max_velocity,
                ..
            } => {
                if !(reflection > 0.0 && reflection < 1.0) {
                    return Err(param(
                        "boundary.reflection",
                        format!("must be in (0, 1), got {reflection}"),
                    ));
                }
                let prof = CpmlProfile::new(
                    pad,
                    nz,
                    nx,
                    cfg.dx,
                    cfg.dt,
                    max_velocity.unwrap_or(vmax),
                    cfg.freq.max(1e-3),
                    reflection,
                    r,
                );
                (Vec::new(), Some(prof))
            }
        };
        Ok(Self {
            st,
            shape,
            pad,
            lay,
            nzs,
            c,
            k,
            cpml,
            free_surface: cfg.free_surface,
        })
    }

    /// Storage-grid index of model cell (iz, ix).
    pub fn index(&self, (iz, ix): (usize, usize)) -> usize {
        let r = self.st.radius;
        (iz + self.pad.top + r) * self.lay.nxs + ix + self.pad.left + r
    }

    /// Padded-grid (row, column) of storage index `k`.
    pub fn padded_cell(&self, k: usize) -> (usize, usize) {
        let r = self.st.radius;
        (k / self.lay.nxs - r, k % self.lay.nxs - r)
    }

    /// Number of floats in one storage-grid field.
    pub fn field_len(&self) -> usize {
        self.nzs * self.lay.nxs
    }

    /// Number of floats of W stored per time step (rows of the padded grid, storage width).
    pub fn step_len(&self) -> usize {
        self.lay.nzp * self.lay.nxs
    }

    /// Zero the top model row (free surface), applied after every step in both directions.
    pub fn apply_free_surface(&self, u: &mut [f32]) {
        if self.free_surface {
            let r = self.st.radius;
            let row = r * self.lay.nxs + r;
            u[row..row + self.lay.nxp].fill(0.0);
        }
    }
}

/// Wavefields of one shot: uⁿ⁻² (overwritten by uⁿ), uⁿ⁻¹, the C-PML state, and the window
/// outside which all of them are zero.
#[derive(Clone)]
pub(crate) struct State {
    pub prev: Vec<f32>,
    pub cur: Vec<f32>,
    pub aux: Option<CpmlFields>,
    pub window: Window,
}

impl State {
    pub fn new(m: &Medium) -> Self {
        let n = m.field_len();
        Self {
            prev: vec![0.0; n],
            cur: vec![0.0; n],
            aux: m
                .cpml
                .as_ref()
                .map(|p| CpmlFields::zeros(p, m.lay.nzp, m.lay.nxp)),
            window: Window::empty(),
        }
    }

    /// Number of floats held (for memory planning).
    pub fn len(&self) -> usize {
        self.prev.len() + self.cur.len() + self.aux.as_ref().map_or(0, CpmlFields::len)
    }
}

/// Advance `s` over steps `steps` of one shot: step n injects `wavelet[n]` at `src`.
/// W of step n goes to `store[(n − steps.start)·step_len..]` when given, valid inside the
/// window pushed for the step (zero outside it); the receivers' samples of step n go to
/// `data[n·n_rec..]` when given; `checkpoint(n, s)` sees the state before step n.
#[allow(clippy::too_many_arguments)]
pub(crate) fn advance(
    m: &Medium,
    s: &mut State,
    steps: std::ops::Range<usize>,
    wavelet: &[f32],
    src: usize,
    recs: &[usize],
    mut data: Option<&mut [f32]>,
    mut store: Option<(&mut [f32], &mut Vec<Window>)>,
    mut checkpoint: impl FnMut(usize, &State),
    threads: bool,
) {
    let _ftz = FlushDenormals::new();
    let nrec = recs.len();
    let sl = m.step_len();
    let n0 = steps.start;
    for n in steps {
        checkpoint(n, s);
        match store.as_mut() {
            Some((buf, windows)) => {
                let w = m.step(
                    s,
                    Some(&mut buf[(n - n0) * sl..(n - n0 + 1) * sl]),
                    false,
                    threads,
                );
                windows.push(w);
            }
            None => {
                m.step(s, None, false, threads);
            }
        }
        s.cur[src] += m.c[src] * wavelet[n];
        s.window.include(m.padded_cell(src));
        m.apply_free_surface(&mut s.cur);
        if let Some(d) = data.as_deref_mut() {
            for (d, &ri) in d[n * nrec..(n + 1) * nrec].iter_mut().zip(recs) {
                *d = s.cur[ri];
            }
        }
    }
}

/// Storage-grid indices of a shot's source and receivers.
pub(crate) fn shot_indices(m: &Medium, shot: &Shot) -> (usize, Vec<usize>) {
    (
        m.index(shot.source),
        shot.receivers.iter().map(|&p| m.index(p)).collect(),
    )
}

/// Run one shot forward from rest and record (nt, n_rec) into `data`.
pub(crate) fn forward_shot(
    m: &Medium,
    shot: &Shot,
    wavelet: &[f32],
    data: &mut [f32],
    threads: bool,
) {
    let mut s = State::new(m);
    let (src, recs) = shot_indices(m, shot);
    advance(
        m,
        &mut s,
        0..wavelet.len(),
        wavelet,
        src,
        &recs,
        Some(data),
        None,
        |_, _| {},
        threads,
    );
}

/// Split a flat data vector into per-shot gathers.
pub(crate) fn split_shots<'a>(data: &'a mut [f32], acq: &Acquisition) -> Vec<&'a mut [f32]> {
    let nt = acq.nt();
    let mut chunks = Vec::with_capacity(acq.shots.len());
    let mut rest = data;
    for s in &acq.shots {
        let (a, b) = rest.split_at_mut(s.receivers.len() * nt);
        chunks.push(a);
        rest = b;
    }
    chunks
}

/// Whether to parallelise within shots (few shots) or across shots.
pub(crate) fn within_shot_threads(n_shots: usize) -> bool {
    n_shots < rayon::current_num_threads()
}

/// Model all shots of `acq` in velocity `v` (m/s, shape (nz, nx)).
///
/// Returns the data, shots concatenated, each of shape (nt, n_receivers) (time first, as the
/// OpenFWI `seismic.npy` files per shot).
pub fn forward(
    v: &[f32],
    shape: ModelShape,
    cfg: &SolverConfig,
    acq: &Acquisition,
) -> Result<Vec<f32>> {
    let m = Medium::new(v, shape, cfg, Some(acq))?;
    let mut data = vec![0.0f32; acq.data_len()];
    let threads = within_shot_threads(acq.shots.len());
    let mut chunks = split_shots(&mut data, acq);
    let run =
        |(shot, d): (&Shot, &mut &mut [f32])| forward_shot(&m, shot, &acq.wavelet, d, threads);
    if threads {
        acq.shots.iter().zip(chunks.iter_mut()).for_each(run);
    } else {
        acq.shots
            .par_iter()
            .zip(chunks.par_iter_mut())
            .for_each(run);
    }
    Ok(data)
}
