//! The transforms of the input (V = Bᵀ d B), of the output (y = Aᵀ M A) and of the output
//! gradient (Ŷ = A dy Aᵀ), on vectors of consecutive tiles of a band.
//!
//! They run over whole vectors: a run of n tiles computes n rounded up to LANES, and every row
//! they read or write has SLACK values past its end; the values past a run are garbage (finite
//! or not) that the next run overwrites or that is never used.

use super::level::Level;
use super::{COUT_BLOCK, Geometry, SLACK, Scratch, TILE_GROUP};
use crate::cpu::conv3x3::Epilogue;

/// V[ξ][ci][t] = (Bᵀ d B)_ξ for the input patch d of channel ci of tile g0 + t, t < g1 − g0,
/// into `scr.v` (rows of the returned stride). Inlined into each level's `#[target_feature]`
/// function.
///
/// # Safety
/// The CPU runs level `L`.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
#[inline(always)]
pub(super) unsafe fn input_transform<L: Level>(
    x: &[f32],
    geom: &Geometry,
    (g0, g1): (usize, usize),
    scr: &mut Scratch,
) -> usize {
    let &Geometry { cin, h, w, tw, .. } = geom;
    let lanes = L::LANES;
    const { assert!(L::LANES <= SLACK) };
    let hw = h * w;
    let hstride = tw + 1 + SLACK;
    let wp = 2 * hstride;
    let t_pad = (g1 - g0).div_ceil(TILE_GROUP) * TILE_GROUP;
    let vs = t_pad + SLACK;
    // V[ξ][ci][t], t = g − g0, rows of stride vs.
    scr.v.resize(16 * cin * vs, 0.0);
    // The 4 padded input rows of a tile row, each stored as its even columns then its odd
    // ones (tw + 1 each, at stride hstride), so that the transforms read consecutive values.
    scr.rows.resize(4 * wp, 0.0);
    // One image row zero-padded by one on the left and by 2·SLACK + 1 (at least) on the
    // right; only columns 1..=w are ever written.
    scr.line.resize(2 * tw + 2 + 2 * SLACK, 0.0);
    for (s, ty, tx0, tx1, t0) in geom.runs((g0, g1)) {
        for ci in 0..cin {
            let plane = &x[(s * cin + ci) * hw..][..hw];
            // Only the columns of tiles tx0..tx1: even and odd padded columns tx0..=tx1,
            // image columns 2·tx0 − 1 .. 2·tx1 + 1 (through the zero-padded line at the ends
            // of x).
            let n = tx1 - tx0;
            let (c0, c1) = ((2 * tx0).max(1) - 1, (2 * tx1 + 1).min(w));
            for (i, row) in scr.rows.chunks_exact_mut(wp).enumerate() {
                let y = (2 * ty + i).wrapping_sub(1);
                let (e, o) = row.split_at_mut(hstride);
                let nv = (n + 1).next_multiple_of(lanes);
                if y < h {
                    // Straight from x where the vector reads stay inside it (they run on past
                    // the row: garbage past the run), else through the zero-padded line.
                    let start = ((s * cin + ci) * hw + y * w + 2 * tx0).checked_sub(1);
                    let src = match start.filter(|&a| a + 2 * nv <= x.len()) {
                        Some(a) => &x[a..],
                        None => {
                            scr.line[c0 + 1..c1 + 1]
                                .copy_from_slice(&plane[y * w + c0..y * w + c1]);
                            &scr.line[2 * tx0..]
                        }
                    };
                    // SAFETY: the CPU runs L.
                    unsafe { L::deinterleave(src, &mut e[tx0..tx0 + nv], &mut o[tx0..tx0 + nv]) };
                    // The padding columns outside the image.
                    if tx0 == 0 {
                        e[0] = 0.0;
                    }
                    if 2 * tx1 >= w {
                        o[tx1] = 0.0;
                    }
                    if 2 * tx1 > w {
                        e[tx1] = 0.0;
                    }
                } else {
                    e[tx0..=tx1].fill(0.0);
                    o[tx0..=tx1].fill(0.0);
                }
            }
            // V = Bᵀ d B: the rows d0 − d2, d1 + d2, d2 − d1, d1 − d3 of the 4 padded rows,
            // then of each the columns e0 − e1, o0 + e1, e1 − o0, o0 − o1 (e, o: even and odd
            // padded columns, 1: one tile on).
            let rows = scr.rows.as_ptr();
            let v = scr.v.as_mut_ptr();
            for t in (0..tx1 - tx0).step_by(lanes) {
                // SAFETY: reads stay within the 4 rows (tx0 + t + lanes + 1 <= hstride) and
                // writes within the rows of V (t0 + t + lanes <= vs); the CPU runs L.
                unsafe {
                    let col = |odd: usize, shift: usize| {
                        let ld =
                            |i: usize| L::load(rows.add(i * wp + odd * hstride + tx0 + t + shift));
                        let r = [ld(0), ld(1), ld(2), ld(3)];
                        [
                            L::sub(r[0], r[2]),
                            L::add(r[1], r[2]),
                            L::sub(r[2], r[1]),
                            L::sub(r[1], r[3]),
                        ]
                    };
                    let (e0, e1, o0, o1) = (col(0, 0), col(0, 1), col(1, 0), col(1, 1));
                    for i in 0..4 {
                        let vals = [
                            L::sub(e0[i], e1[i]),
                            L::add(o0[i], e1[i]),
                            L::sub(e1[i], o0[i]),
                            L::sub(o0[i], o1[i]),
                        ];
                        for (j, &val) in vals.iter().enumerate() {
                            L::store(v.add(((4 * i + j) * cin + ci) * vs + t0 + t), val);
                        }
                    }
                }
            }
        }
    }
    vs
}

/// y = Aᵀ M A plus the epilogue for tiles g0..g1, from M in `scr.m` (rows of stride `vs`),
/// into the output pixels of those tiles. Inlined into each level's `#[target_feature]`
/// function.
///
/// # Safety
/// `out` points to the batch's (n, cout, h, w) output; the CPU runs level `L`.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
#[inline(always)]
pub(super) unsafe fn output_transform<L: Level>(
    epilogue: Epilogue<'_>,
    geom: &Geometry,
    (g0, g1): (usize, usize),
    scr: &mut Scratch,
    vs: usize,
    out: *mut f32,
) {
    let &Geometry { cout, h, w, tw, .. } = geom;
    let lanes = L::LANES;
    let hw = h * w;
    let cblocks = cout.div_ceil(COUT_BLOCK);
    // Aᵀ = [1 1 1 0; 0 1 −1 −1], run by run:
    // s0_j = m_j + m_4+j + m_8+j and s1_j = m_4+j − m_8+j − m_12+j (ξ = 4i + j), then
    // y_a0 = s_a0 + s_a1 + s_a2 and y_a1 = s_a1 − s_a2 − s_a3, interleaved into row 2ty + a.
    let mstride = cblocks * COUT_BLOCK * vs;
    let ys = 2 * (tw + SLACK);
    scr.y.resize(2 * ys, 0.0);
    for (s, ty, tx0, tx1, t0) in geom.runs((g0, g1)) {
        let ep = epilogue.sample(s, cout, hw);
        // Output columns 2·tx0 .. min(2·tx1, w).
        let (x0, x1) = (2 * tx0, (2 * tx1).min(w));
        for co in 0..cout {
            let m = scr.m.as_ptr();
            let y = scr.y.as_mut_ptr();
            // SAFETY: the CPU runs L.
            let bias = unsafe { L::splat(ep.bias.map_or(0.0, |b| b[co])) };
            for t in (0..tx1 - tx0).step_by(lanes) {
                // SAFETY: reads stay within the rows of M (t0 + t + lanes <= vs), writes
                // within the two row buffers (2(t + lanes) <= ys); the CPU runs L.
                unsafe {
                    let m: [L::V; 16] =
                        std::array::from_fn(|xi| L::load(m.add(xi * mstride + co * vs + t0 + t)));
                    let s0: [L::V; 4] =
                        std::array::from_fn(|j| L::add(L::add(m[j], m[4 + j]), m[8 + j]));
                    let s1: [L::V; 4] =
                        std::array::from_fn(|j| L::sub(L::sub(m[4 + j], m[8 + j]), m[12 + j]));
                    for (a, sa) in [s0, s1].iter().enumerate() {
                        let y0 = L::add(L::add(L::add(sa[0], sa[1]), sa[2]), bias);
                        let y1 = L::add(L::sub(L::sub(sa[1], sa[2]), sa[3]), bias);
                        let (lo, hi) = L::zip(y0, y1);
                        L::store(y.add(a * ys + 2 * t), lo);
                        L::store(y.add(a * ys + 2 * t + lanes), hi);
                    }
                }
            }
            for a in 0..2 {
                let oy = 2 * ty + a;
                if oy >= h {
                    continue;
                }
                // SAFETY (caller): pixels x0..x1 of row oy of channel co lie in the output.
                let row = unsafe { out.add((s * cout + co) * hw + oy * w + x0) };
                let ya = &scr.y[a * ys..][..x1 - x0];
                match ep.residual {
                    Some(res) => {
                        let r = &res[co * hw + oy * w + x0..][..x1 - x0];
                        for (i, (y, r)) in ya.iter().zip(r).enumerate() {
                            // SAFETY: as above, i < x1 − x0.
                            unsafe { row.add(i).write(y + r) };
                        }
                    }
                    // SAFETY: as above; the row buffer is not the output.
                    None => unsafe { std::ptr::copy_nonoverlapping(ya.as_ptr(), row, x1 - x0) },
                }
            }
        }
    }
}

/// Ŷ[ξ][co][t] = (A dy Aᵀ)_ξ for the 2×2 output-gradient block of channel co of tile g0 + t,
/// A = [1 0; 1 1; 1 −1; 0 −1], zero past the image, into `scr.m` (rows of stride `vs`, as V's).
///
/// # Safety
/// The CPU runs level `L`.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
#[inline(always)]
pub(super) unsafe fn output_grad_transform<L: Level>(
    dy: &[f32],
    geom: &Geometry,
    (g0, g1): (usize, usize),
    scr: &mut Scratch,
    vs: usize,
) {
    let &Geometry { cout, h, w, tw, .. } = geom;
    let lanes = L::LANES;
    let hw = h * w;
    let hstride = tw + SLACK;
    let wp = 2 * hstride;
    scr.m.resize(16 * cout * vs, 0.0);
    // The two rows of a tile row, each as its even columns then its odd ones (at stride
    // hstride); one row zero past column w (only columns 0..w are ever written).
    scr.dy_rows.resize(2 * wp, 0.0);
    scr.dy_line.resize(2 * tw + 2 * SLACK, 0.0);
    for (s, ty, tx0, tx1, t0) in geom.runs((g0, g1)) {
        let n = tx1 - tx0;
        let (c0, c1) = (2 * tx0, (2 * tx1).min(w));
        for co in 0..cout {
            let plane = &dy[(s * cout + co) * hw..][..hw];
            for (a, row) in scr.dy_rows.chunks_exact_mut(wp).enumerate() {
                let y = 2 * ty + a;
                let (e, o) = row.split_at_mut(hstride);
                let nv = n.next_multiple_of(lanes);
                if y < h {
                    // Straight from dy where the vector reads stay inside it, as the input's.
                    let a = (s * cout + co) * hw + y * w + c0;
                    let src = if a + 2 * nv <= dy.len() {
                        &dy[a..]
                    } else {
                        scr.dy_line[c0..c1].copy_from_slice(&plane[y * w + c0..y * w + c1]);
                        &scr.dy_line[c0..]
                    };
                    // SAFETY (caller): the CPU runs L.
                    unsafe { L::deinterleave(src, &mut e[tx0..tx0 + nv], &mut o[tx0..tx0 + nv]) };
                    // The padding column past an odd width.
                    if 2 * tx1 > w {
                        o[tx1 - 1] = 0.0;
                    }
                } else {
                    e[tx0..tx1].fill(0.0);
                    o[tx0..tx1].fill(0.0);
                }
            }
            // A dy: rows r0, r0 + r1, r0 − r1, −r1; then each row (p, q) times Aᵀ:
            // p, p + q, p − q, −q.
            let rows = scr.dy_rows.as_ptr();
            let m = scr.m.as_mut_ptr();
            for t in (0..n).step_by(lanes) {
                // SAFETY: reads stay within the 2 rows (tx0 + t + lanes <= hstride), writes
                // within the rows of Ŷ (t0 + t + lanes <= vs); the CPU runs L.
                unsafe {
                    let ld =
                        |a: usize, odd: usize| L::load(rows.add(a * wp + odd * hstride + tx0 + t));
                    let (p0, q0, p1, q1) = (ld(0, 0), ld(0, 1), ld(1, 0), ld(1, 1));
                    let zero = L::splat(0.0);
                    let r = [
                        (p0, q0),
                        (L::add(p0, p1), L::add(q0, q1)),
                        (L::sub(p0, p1), L::sub(q0, q1)),
                        (L::sub(zero, p1), L::sub(zero, q1)),
                    ];
                    for (i, &(p, q)) in r.iter().enumerate() {
                        let vals = [p, L::add(p, q), L::sub(p, q), L::sub(zero, q)];
                        for (j, &val) in vals.iter().enumerate() {
                            L::store(m.add(((4 * i + j) * cout + co) * vs + t0 + t), val);
                        }
                    }
                }
            }
        }
    }
}
