//! One leapfrog step of a shot, by the path that suits it: one thread per shot with C-PML (the
//! fused row pass of [`cpml_fused`](crate::boundary::cpml_fused)) or with the damping border,
//! both on the [active window](crate::window); the transposed (adjoint) step; and the rows of
//! one shot shared by the threads.

use rayon::prelude::*;

use crate::boundary::cpml::{CorrView, CpmlFields};
use crate::boundary::cpml_fused::StepIo;
use crate::propagate::{Medium, State};
use crate::stencil::{FlushDenormals, RowBlock, RowKind, update_rows};
use crate::window::Window;

impl Medium {
    fn kind(&self, store: bool) -> RowKind {
        RowKind {
            damp: !self.k.is_empty(),
            store,
        }
    }

    /// One leapfrog step on `s` (forward when `adjoint` is false, transposed otherwise):
    /// s.prev ← next, then swap so that s.cur holds the new field. W is written to `store`
    /// inside the returned window (the cells updated; W is zero outside it, and the store's
    /// cells there are left as they were).
    pub fn step(
        &self,
        s: &mut State,
        store: Option<&mut [f32]>,
        adjoint: bool,
        threads: bool,
    ) -> Window {
        let (nzp, nxp, nxs) = (self.lay.nzp, self.lay.nxp, self.lay.nxs);
        let r = self.st.radius;
        let kind = self.kind(store.is_some());
        if let (Some(prof), Some(aux), false, false) =
            (&self.cpml, s.aux.as_mut(), threads, adjoint)
        {
            // One thread per shot: one fused pass over the rows of the active window.
            let win = s.window.grown(2 * r, nzp, nxp);
            let out = &mut s.prev[r * nxs..(r + nzp) * nxs];
            let io = StepIo {
                cur: &s.cur,
                c: &self.c,
                out,
                store: store.unwrap_or(&mut []),
            };
            prof.fused_forward_step(&self.st, &self.lay, io, aux, &win);
            std::mem::swap(&mut s.prev, &mut s.cur);
            s.window.absorb(&win, &s.cur, |i, j| (i + r) * nxs + j + r);
            return win;
        }
        if let (None, false, false) = (&self.cpml, threads, adjoint) {
            // One thread per shot, damping border: the rows of the active window.
            let win = s.window.grown(r, nzp, nxp);
            let rows = (r + win.rows.start) * nxs..(r + win.rows.end) * nxs;
            let blk = RowBlock {
                st: &self.st,
                nxs,
                nxp,
                row0: r + win.rows.start,
                cols: win.cols.clone(),
                cur: &s.cur,
                c: &self.c,
                k: &self.k,
                corr: None,
            };
            let out = &mut s.prev[rows.clone()];
            match store {
                Some(w) => update_rows(
                    &blk,
                    out,
                    &mut w[rows.start - r * nxs..rows.end - r * nxs],
                    kind,
                ),
                None => update_rows(&blk, out, &mut [], kind),
            }
            std::mem::swap(&mut s.prev, &mut s.cur);
            s.window.absorb(&win, &s.cur, |i, j| (i + r) * nxs + j + r);
            return win;
        }
        // Every cell is updated below.
        s.window = Window::full(nzp, nxp);
        if let (Some(prof), Some(aux), false) = (&self.cpml, s.aux.as_mut(), threads) {
            // Single-thread adjoint: update each row right after its C-PML corrections.
            let (cur, c) = (&s.cur, &self.c);
            let out = &mut s.prev[r * nxs..(r + nzp) * nxs];
            let mut store = store;
            let row = |i: usize, f: &CpmlFields| {
                let blk = RowBlock {
                    st: &self.st,
                    nxs,
                    nxp,
                    row0: r + i,
                    cols: 0..nxp,
                    cur,
                    c,
                    k: c,
                    corr: Some(CorrView {
                        prof,
                        f,
                        nxp,
                        row_buf: true,
                    }),
                };
                let o = &mut out[i * nxs..(i + 1) * nxs];
                match store.as_deref_mut() {
                    Some(w) => update_rows(&blk, o, &mut w[i * nxs..(i + 1) * nxs], kind),
                    None => update_rows(&blk, o, &mut [], kind),
                }
            };
            prof.adjoint_rows(&self.st, &self.lay, cur, aux, row, true);
            std::mem::swap(&mut s.prev, &mut s.cur);
            return s.window.clone();
        }
        if let (Some(p), Some(aux)) = (&self.cpml, s.aux.as_mut()) {
            if adjoint {
                p.adjoint_step(&self.st, &self.lay, &s.cur, aux);
            } else {
                p.forward_step(&self.st, &self.lay, &s.cur, aux);
            }
        }
        let mut empty: [f32; 0] = [];
        let kk: &[f32] = if self.k.is_empty() { &self.c } else { &self.k };
        let corr = match (&self.cpml, &s.aux) {
            (Some(prof), Some(f)) => Some(CorrView {
                prof,
                f,
                nxp,
                row_buf: false,
            }),
            _ => None,
        };
        let out = &mut s.prev[r * nxs..(r + self.lay.nzp) * nxs];
        let blk = |row0: usize| RowBlock {
            st: &self.st,
            nxs,
            nxp,
            row0,
            cols: 0..nxp,
            cur: &s.cur,
            c: &self.c,
            k: kk,
            corr,
        };
        let rows_per = 4;
        match (store, threads) {
            (Some(st), true) => out
                .par_chunks_mut(rows_per * nxs)
                .zip(st.par_chunks_mut(rows_per * nxs))
                .enumerate()
                .for_each(|(ci, (o, w))| {
                    let _ftz = FlushDenormals::new();
                    update_rows(&blk(r + ci * rows_per), o, w, kind)
                }),
            (None, true) => out
                .par_chunks_mut(rows_per * nxs)
                .enumerate()
                .for_each(|(ci, o)| {
                    let _ftz = FlushDenormals::new();
                    update_rows(&blk(r + ci * rows_per), o, &mut [], kind)
                }),
            (Some(st), false) => update_rows(&blk(r), out, st, kind),
            (None, false) => update_rows(&blk(r), out, &mut empty, kind),
        }
        std::mem::swap(&mut s.prev, &mut s.cur);
        s.window.clone()
    }
}
