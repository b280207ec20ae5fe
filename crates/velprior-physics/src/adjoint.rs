//! Adjoint-state gradient of a data misfit with respect to velocity.
//!
//! With λ̃ⁿ = v²dt²·λⁿ the adjoint recursion is the forward kernel run backwards in time with
//! the transposed boundary terms: λ̃ⁿ = 2λ̃ⁿ⁺¹ − λ̃ⁿ⁺² + v²dt²·Wᵀ(λ̃ⁿ⁺¹) [− k(λ̃ⁿ⁺¹ − λ̃ⁿ⁺²)]
//! plus v²dt²·Rᵀ∂f/∂dⁿ, and ∂f/∂(v²dt²) = Σₙ λⁿ·Wⁿ (+ Σₙ λⁿ_s·w[n] at the source), so
//! ∂f/∂v = 2/v · Σₙ λ̃ⁿ·Wⁿ on the padded grid, folded back onto the model (replicate padding).
//! This is the exact transpose of the discrete forward code (discretise-then-optimise).

use rayon::prelude::*;

use crate::checkpointing::{Storage, plan};
use crate::error::{PhysicsError, Result};
use crate::geometry::{Acquisition, ModelShape, Shot};
use crate::misfit::Misfit;
use crate::propagate::{Medium, SolverConfig, State, advance, shot_indices, within_shot_threads};
use crate::window::Window;

/// Maps a modelled gather to (misfit, ∂f/∂d).
type AdjointSource<'a> = &'a (dyn Fn(&[f32]) -> (f64, Vec<f32>) + Sync);
/// Maps (shot index, modelled gather) to (misfit, ∂f/∂d).
type ShotAdjointSource<'a> = &'a (dyn Fn(usize, &[f32]) -> (f64, Vec<f32>) + Sync);

/// Per-shot result: misfit, Σₙ λ̃ⁿ·Wⁿ on the storage grid, modelled gather (nt, n_rec).
type ShotOut = (f64, Vec<f32>, Vec<f32>);

thread_local! {
    /// The stored-W buffer of the last shot on this thread, reused by the next one: a fresh
    /// allocation (≈ 190 MB for 140×344 cells × 1000 steps) costs a page fault and a kernel
    /// page clear per 4 KiB, ≈ 1/8 of a gradient's time. Held until the thread ends.
    static STORE: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// A buffer of `n` floats reusing this thread's [`STORE`] (old values stay: the forward pass
/// overwrites the cells of each step's window, and only those are read).
fn take_store(n: usize) -> Vec<f32> {
    let mut b = STORE.with(|s| s.take());
    b.resize(n, 0.0);
    b
}

/// One shot's source and receivers on a medium, for its adjoint pass.
struct ShotPass<'a> {
    m: &'a Medium,
    wavelet: &'a [f32],
    src: usize,
    recs: Vec<usize>,
    threads: bool,
}

impl<'a> ShotPass<'a> {
    fn new(m: &'a Medium, shot: &Shot, wavelet: &'a [f32], threads: bool) -> Self {
        let (src, recs) = shot_indices(m, shot);
        Self {
            m,
            wavelet,
            src,
            recs,
            threads,
        }
    }

    /// One adjoint step n using W of step n (`w`, valid inside `win`, zero outside): λ̃ one
    /// step back, the adjoint source `adj` (nt, n_rec) injected, Σ λ̃·W added to `g`.
    fn back(&self, n: usize, w: &[f32], win: &Window, g: &mut [f32], lam: &mut State, adj: &[f32]) {
        let m = self.m;
        let nrec = self.recs.len();
        let (r, nxs) = (m.st.radius, m.lay.nxs);
        let off = r * nxs + r;
        m.step(lam, None, true, self.threads);
        for (k, &ri) in self.recs.iter().enumerate() {
            lam.cur[ri] += m.c[ri] * adj[n * nrec + k];
        }
        m.apply_free_surface(&mut lam.cur);
        // Σ λ̃·W over the cells where W is not zero.
        let cols = win.cols.clone();
        for i in win.rows.clone() {
            let (a, b) = (off + i * nxs + cols.start, i * nxs + r + cols.start);
            let n = cols.len();
            let (gi, li, wi) = (&mut g[a..a + n], &lam.cur[a..a + n], &w[b..b + n]);
            for j in 0..n {
                gi[j] += li[j] * wi[j];
            }
        }
        g[self.src] += lam.cur[self.src] * self.wavelet[n];
    }
}

/// The forward pass of one shot with W(uⁿ) of every step kept for adjoint passes.
pub(crate) struct StoredShot {
    /// W of step n at `[n·step_len..]`, valid inside `windows[n]`.
    buf: Vec<f32>,
    windows: Vec<Window>,
    /// The modelled gather (nt, n_rec).
    pub data: Vec<f32>,
}

/// Run one shot forward from rest keeping W of every step in `buf` (resized to nt·step_len).
pub(crate) fn forward_stored(
    m: &Medium,
    shot: &Shot,
    wavelet: &[f32],
    mut buf: Vec<f32>,
    threads: bool,
) -> StoredShot {
    let nt = wavelet.len();
    buf.resize(nt * m.step_len(), 0.0);
    let (src, recs) = shot_indices(m, shot);
    let mut data = vec![0.0f32; nt * recs.len()];
    let mut windows = Vec::with_capacity(nt);
    advance(
        m,
        &mut State::new(m),
        0..nt,
        wavelet,
        src,
        &recs,
        Some(&mut data),
        Some((&mut buf, &mut windows)),
        |_, _| {},
        threads,
    );
    StoredShot { buf, windows, data }
}

/// The adjoint pass of one shot over its stored forward pass: Σₙ λ̃ⁿ·Wⁿ on the storage grid
/// for the adjoint source `adj` (nt, n_rec).
pub(crate) fn adjoint_stored(
    m: &Medium,
    shot: &Shot,
    wavelet: &[f32],
    stored: &StoredShot,
    adj: &[f32],
    threads: bool,
) -> Vec<f32> {
    let _ftz = crate::stencil::FlushDenormals::new();
    let sl = m.step_len();
    let pass = ShotPass::new(m, shot, wavelet, threads);
    let mut g = vec![0.0f32; m.field_len()];
    let mut lam = State::new(m);
    for n in (0..wavelet.len()).rev() {
        pass.back(
            n,
            &stored.buf[n * sl..(n + 1) * sl],
            &stored.windows[n],
            &mut g,
            &mut lam,
            adj,
        );
    }
    g
}

/// Forward then adjoint pass of one shot. `adjoint_source` maps the modelled gather to
/// (misfit, ∂f/∂d).
fn shot_gradient(
    m: &Medium,
    shot: &Shot,
    wavelet: &[f32],
    adjoint_source: AdjointSource,
    storage: Storage,
    threads: bool,
) -> ShotOut {
    let _ftz = crate::stencil::FlushDenormals::new();
    let nt = wavelet.len();
    match storage {
        Storage::Checkpointed { every } => {
            let sl = m.step_len();
            let pass = ShotPass::new(m, shot, wavelet, threads);
            let k = every.max(1);
            let mut data = vec![0.0f32; nt * pass.recs.len()];
            let mut snaps: Vec<State> = Vec::with_capacity(nt.div_ceil(k));
            let mut s = State::new(m);
            let keep = |n: usize, st: &State| {
                if n.is_multiple_of(k) {
                    snaps.push(st.clone())
                }
            };
            advance(
                m,
                &mut s,
                0..nt,
                wavelet,
                pass.src,
                &pass.recs,
                Some(&mut data),
                None,
                keep,
                threads,
            );
            let (f, adj) = adjoint_source(&data);
            let mut g = vec![0.0f32; m.field_len()];
            let mut lam = State::new(m);
            let mut buf = take_store(k * sl);
            let mut wins = Vec::with_capacity(k);
            for (si, snap) in snaps.into_iter().enumerate().rev() {
                let (n0, n1) = (si * k, ((si + 1) * k).min(nt));
                let mut s = snap;
                wins.clear();
                advance(
                    m,
                    &mut s,
                    n0..n1,
                    wavelet,
                    pass.src,
                    &pass.recs,
                    None,
                    Some((&mut buf, &mut wins)),
                    |_, _| {},
                    threads,
                );
                for n in (n0..n1).rev() {
                    pass.back(
                        n,
                        &buf[(n - n0) * sl..(n - n0 + 1) * sl],
                        &wins[n - n0],
                        &mut g,
                        &mut lam,
                        &adj,
                    );
                }
            }
            STORE.with(|s| s.replace(buf));
            (f, g, data)
        }
        _ => {
            let stored = forward_stored(m, shot, wavelet, take_store(nt * m.step_len()), threads);
            let (f, adj) = adjoint_source(&stored.data);
            let g = adjoint_stored(m, shot, wavelet, &stored, &adj, threads);
            STORE.with(|s| s.replace(stored.buf));
            (f, g, stored.data)
        }
    }
}

/// Fold Σ λ̃·W on the storage grid into ∂f/∂v on the model: ×2/v, replicate padding summed
/// back onto the edge cells.
pub(crate) fn fold_gradient(m: &Medium, g: &[f32], v: &[f32]) -> Vec<f32> {
    let (nz, nx) = (m.shape.nz, m.shape.nx);
    let r = m.st.radius;
    let mut out = vec![0.0f64; nz * nx];
    for i in 0..m.lay.nzp {
        let iz = i.saturating_sub(m.pad.top).min(nz - 1);
        for j in 0..m.lay.nxp {
            let ix = j.saturating_sub(m.pad.left).min(nx - 1);
            out[iz * nx + ix] += f64::from(g[(i + r) * m.lay.nxs + j + r]);
        }
    }
    out.iter()
        .zip(v)
        .map(|(gi, vi)| (2.0 * gi / f64::from(*vi)) as f32)
        .collect()
}

/// Options of the gradient computation.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GradientOptions {
    /// Data misfit.
    #[serde(default)]
    pub misfit: Misfit,
    /// Wavefield storage for the adjoint pass.
    #[serde(default)]
    pub storage: Storage,
}

/// Run all shots forward and adjoint. `adjoint_source(shot_index, gather)` gives the misfit of
/// a shot and ∂f/∂d for it. Returns (Σ misfit, ∂f/∂v (nz, nx), data).
fn run_gradient(
    v: &[f32],
    shape: ModelShape,
    cfg: &SolverConfig,
    acq: &Acquisition,
    adjoint_source: ShotAdjointSource,
    storage: Storage,
) -> Result<(f64, Vec<f32>, Vec<f32>)> {
    let m = Medium::new(v, shape, cfg, Some(acq))?;
    let threads = within_shot_threads(acq.shots.len());
    let conc = if threads {
        1
    } else {
        rayon::current_num_threads().min(acq.shots.len())
    };
    let snap = State::new(&m).len();
    let storage = plan(storage, acq.nt(), m.step_len(), snap, conc);
    tracing::debug!(?storage, "wavefield storage for the adjoint");
    let one = |(i, shot): (usize, &Shot)| {
        let adj = |d: &[f32]| adjoint_source(i, d);
        shot_gradient(&m, shot, &acq.wavelet, &adj, storage, threads)
    };
    let outs: Vec<ShotOut> = if threads {
        acq.shots.iter().enumerate().map(one).collect()
    } else {
        acq.shots.par_iter().enumerate().map(one).collect()
    };
    let mut g = vec![0.0f32; m.field_len()];
    let mut f = 0.0;
    let mut data = Vec::with_capacity(acq.data_len());
    for (fs, gs, ds) in outs {
        f += fs;
        g.iter_mut().zip(&gs).for_each(|(x, y)| *x += y);
        data.extend_from_slice(&ds);
    }
    Ok((f, fold_gradient(&m, &g, v), data))
}

/// Gradient ∂f/∂v (shape (nz, nx), units of f per m/s) for a given adjoint source ∂f/∂d
/// (same layout as the data). Linear in `adj_src`: this is Jᵀ·adj_src.
pub fn adjoint_gradient(
    v: &[f32],
    shape: ModelShape,
    cfg: &SolverConfig,
    acq: &Acquisition,
    adj_src: &[f32],
    storage: Storage,
) -> Result<Vec<f32>> {
    if adj_src.len() != acq.data_len() {
        return Err(PhysicsError::Shape {
            what: "adjoint source",
            expected: acq.data_len(),
            got: adj_src.len(),
        });
    }
    let offs = acq.data_offsets();
    let adj = |i: usize, d: &[f32]| (0.0, adj_src[offs[i]..offs[i] + d.len()].to_vec());
    Ok(run_gradient(v, shape, cfg, acq, &adj, storage)?.1)
}

/// Misfit f(F(v), d_obs) and its gradient ∂f/∂v (shape (nz, nx)), plus the modelled data.
/// One forward and one adjoint propagation per shot.
pub fn misfit_and_gradient(
    v: &[f32],
    shape: ModelShape,
    cfg: &SolverConfig,
    acq: &Acquisition,
    d_obs: &[f32],
    opts: GradientOptions,
) -> Result<(f64, Vec<f32>, Vec<f32>)> {
    if d_obs.len() != acq.data_len() {
        return Err(PhysicsError::Shape {
            what: "observed data",
            expected: acq.data_len(),
            got: d_obs.len(),
        });
    }
    let offs = acq.data_offsets();
    let adj = |i: usize, d: &[f32]| {
        opts.misfit
            .value_and_residual(d, &d_obs[offs[i]..offs[i] + d.len()])
    };
    run_gradient(v, shape, cfg, acq, &adj, opts.storage)
}
