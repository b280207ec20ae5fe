//! The active window of a shot: a box of the padded grid outside which the wavefields and the
//! C-PML memory variables are exactly zero, so a step can skip the cells it would leave at zero.
//!
//! A shot starts at rest and its source switches cells on one by one; the stencil reaches R
//! cells per step, but the field far ahead of the wavefront underflows to exactly zero (the
//! solver flushes denormals), so the nonzero region grows with the wavefront, not with R per
//! step. If U bounds the nonzero cells of uⁿ and uⁿ⁻¹ (and holds every cell they ever
//! occupied), ψⁿ is zero outside U ⊕ R and ζⁿ, uⁿ⁺¹ outside U ⊕ 2R: updating U ⊕ 2R gives the
//! same bits as updating the whole grid. After the step U grows by the nonzero cells of uⁿ⁺¹
//! found in the band (U ⊕ 2R) \ U.

use std::ops::Range;

/// A box of padded-grid rows × columns (empty when either range is).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Window {
    pub rows: Range<usize>,
    pub cols: Range<usize>,
}

impl Window {
    /// The empty box.
    pub fn empty() -> Self {
        Self {
            rows: 0..0,
            cols: 0..0,
        }
    }

    /// The whole padded grid of `nzp` × `nxp` cells.
    pub fn full(nzp: usize, nxp: usize) -> Self {
        Self {
            rows: 0..nzp,
            cols: 0..nxp,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty() || self.cols.is_empty()
    }

    /// Grow the box to hold padded cell (i, j).
    pub fn include(&mut self, (i, j): (usize, usize)) {
        if self.is_empty() {
            *self = Self {
                rows: i..i + 1,
                cols: j..j + 1,
            };
        } else {
            self.rows = self.rows.start.min(i)..self.rows.end.max(i + 1);
            self.cols = self.cols.start.min(j)..self.cols.end.max(j + 1);
        }
    }

    /// The box widened by `by` cells on every side, clipped to `nzp` × `nxp`.
    pub fn grown(&self, by: usize, nzp: usize, nxp: usize) -> Self {
        if self.is_empty() {
            return Self::empty();
        }
        Self {
            rows: self.rows.start.saturating_sub(by)..(self.rows.end + by).min(nzp),
            cols: self.cols.start.saturating_sub(by)..(self.cols.end + by).min(nxp),
        }
    }

    /// Grow the box by the nonzero cells of `u` inside `outer` (a box holding `self` and every
    /// nonzero cell of `u`); `cell(i, j)` is the index of padded cell (i, j) in `u`. Only the
    /// band between the two boxes is scanned.
    pub fn absorb(&mut self, outer: &Window, u: &[f32], cell: impl Fn(usize, usize) -> usize) {
        if outer.is_empty() {
            return;
        }
        let nonzero = |i: usize, cols: Range<usize>| -> bool {
            !cols.is_empty()
                && u[cell(i, cols.start)..cell(i, cols.end)]
                    .iter()
                    .any(|&x| x != 0.0)
        };
        let inner = if self.is_empty() {
            // Nothing inside: scan the whole of `outer` as band.
            outer.rows.start..outer.rows.start
        } else {
            self.rows.clone()
        };
        let mut found = std::mem::replace(self, Self::empty());
        for i in outer.rows.clone() {
            let (left, right) = if inner.contains(&i) {
                (
                    outer.cols.start..found.cols.start.max(outer.cols.start),
                    found.cols.end.min(outer.cols.end)..outer.cols.end,
                )
            } else {
                (outer.cols.clone(), outer.cols.end..outer.cols.end)
            };
            for part in [left, right] {
                if !nonzero(i, part.clone()) {
                    continue;
                }
                let first = part.clone().find(|&j| u[cell(i, j)] != 0.0);
                let last = part.rev().find(|&j| u[cell(i, j)] != 0.0);
                if let (Some(a), Some(b)) = (first, last) {
                    found.include((i, a));
                    found.include((i, b));
                }
            }
        }
        *self = found;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bounding box of the nonzero cells of an nz × nx field.
    fn bbox(u: &[f32], nx: usize) -> Window {
        let mut w = Window::empty();
        for (k, &x) in u.iter().enumerate() {
            if x != 0.0 {
                w.include((k / nx, k % nx));
            }
        }
        w
    }

    #[test]
    fn absorb_finds_the_bounding_box_of_nonzero_cells_in_the_band() {
        let (nz, nx) = (12, 15);
        let mut u = vec![0.0f32; nz * nx];
        let mut win = Window::empty();
        win.include((5, 6));
        u[5 * nx + 6] = 1.0;
        for (i, j) in [(3, 6), (5, 9), (7, 2)] {
            u[i * nx + j] = 2.0;
            let outer = win.grown(4, nz, nx);
            win.absorb(&outer, &u, |i, j| i * nx + j);
            assert_eq!(win, bbox(&u, nx));
        }
        // From empty: the whole outer box is scanned.
        let mut empty = Window::empty();
        empty.absorb(&Window::full(nz, nx), &u, |i, j| i * nx + j);
        assert_eq!(empty, bbox(&u, nx));
        assert_eq!(
            win.grown(3, nz, nx),
            Window {
                rows: 0..11,
                cols: 0..13
            }
        );
    }

    /// Step a shot with the window and with the whole grid forced active at every step: the
    /// wavefields, C-PML state, recorded data and stored W must agree bit for bit.
    #[test]
    fn windowed_steps_equal_whole_grid_steps_bit_for_bit() {
        use crate::boundary::Boundary;
        use crate::geometry::{Acquisition, ModelShape, Shot};
        use crate::propagate::{Medium, SolverConfig, State, advance, shot_indices};
        use crate::wavelet::ricker;

        let shape = ModelShape::new(24, 60);
        let v: Vec<f32> = (0..shape.len())
            .map(|k| 1800.0 + 25.0 * (k / 60) as f32 + 300.0 * ((k % 60) as f32 * 0.3).sin())
            .collect();
        let nt = 260;
        let cpml = Boundary::Cpml {
            width: 10,
            reflection: 1e-3,
            max_velocity: None,
        };
        let damping = Boundary::Damping {
            width: 16,
            reference_velocity: None,
        };
        for (order, free_surface, boundary) in
            [(4, false, &cpml), (8, true, &cpml), (4, false, &damping)]
        {
            let cfg = SolverConfig {
                dx: 10.0,
                dt: 1e-3,
                order,
                freq: 15.0,
                boundary: boundary.clone(),
                free_surface,
            };
            let shot = Shot {
                source: (3, 12),
                receivers: (0..60).step_by(3).map(|j| (1, j)).collect(),
            };
            let acq = Acquisition {
                shots: vec![shot.clone()],
                wavelet: ricker(15.0, 1e-3, nt, 0.08),
            };
            let m = Medium::new(&v, shape, &cfg, Some(&acq)).unwrap();
            let (src, recs) = shot_indices(&m, &shot);
            let sl = m.step_len();
            let run = |force_full: bool| {
                let mut s = State::new(&m);
                let mut data = vec![0.0f32; nt * recs.len()];
                let mut store = vec![f32::NAN; nt * sl];
                let mut wins = Vec::new();
                let mut partial = 0;
                for n in 0..nt {
                    if force_full {
                        s.window = Window::full(m.lay.nzp, m.lay.nxp);
                    } else if s.window != Window::full(m.lay.nzp, m.lay.nxp) {
                        partial += 1;
                    }
                    let st = Some((&mut store[n * sl..(n + 1) * sl], &mut wins));
                    advance(
                        &m,
                        &mut s,
                        n..n + 1,
                        &acq.wavelet,
                        src,
                        &recs,
                        Some(&mut data),
                        st,
                        |_, _| {},
                        false,
                    );
                }
                (s, data, (store, wins), partial)
            };
            let (a, da, (wa, win_a), partial) = run(false);
            let (b, db, (wb, _), _) = run(true);
            assert!(
                partial > 20,
                "order {order}: the window was whole-grid from step {partial}"
            );
            // Index of the first cell whose bits differ.
            let diff = |x: &[f32], y: &[f32]| {
                assert_eq!(x.len(), y.len());
                x.iter()
                    .zip(y)
                    .position(|(p, q)| p.to_bits() != q.to_bits())
            };
            assert_eq!(diff(&a.cur, &b.cur), None, "order {order}: wavefield");
            assert_eq!(
                diff(&a.prev, &b.prev),
                None,
                "order {order}: previous field"
            );
            assert_eq!(diff(&da, &db), None, "order {order}: data");
            assert!(da.iter().any(|&x| x != 0.0));
            // Stored W: equal inside each step's window; the whole-grid W is zero outside it
            // (where the windowed run leaves the store's old contents, never read).
            let r = m.st.radius;
            for (k, (x, y)) in wa.iter().zip(&wb).enumerate() {
                let (n, i, j) = (k / sl, k % sl / m.lay.nxs, k % m.lay.nxs);
                if !(r..r + m.lay.nxp).contains(&j) {
                    continue;
                }
                let win = &win_a[n];
                if win.rows.contains(&i) && win.cols.contains(&(j - r)) {
                    assert_eq!(x.to_bits(), y.to_bits(), "order {order}: stored W at {k}");
                } else {
                    assert_eq!(*y, 0.0, "order {order}: W outside the window at {k}");
                }
            }
            let (Some(fa), Some(fb)) = (a.aux, b.aux) else {
                continue;
            };
            for (x, y) in [
                (&fa.psi_z, &fb.psi_z),
                (&fa.zeta_z, &fb.zeta_z),
                (&fa.psi_x, &fb.psi_x),
                (&fa.zeta_x, &fb.zeta_x),
            ] {
                assert_eq!(
                    diff(&x.concat(), &y.concat()),
                    None,
                    "order {order}: C-PML state"
                );
            }
        }
    }
}
