//! Backward kernels of [`conv2d`](super::conv2d()): the input gradient
//! `dx[n] = col2im(Wᵀ · dy[n])` and the weight / bias gradients
//! `dW = Σ_n dy[n] · im2col(x[n])ᵀ`, `db = Σ_n Σ_pixels dy[n]`, band by band.

use candle_core::{CpuStorage, CustomOp2, Layout, Shape};
use rayon::prelude::*;

use super::channels_last::pad_channels_last;
use super::conv3x3::{self, Epilogue, PackedKernel, conv3x3};
use super::gemm::{MatRef, sgemm};
use super::im2col::{ConvGeom, col2im_add, im2col_pixel_major};
use super::simd::simd;
use super::taps::Taps;
use super::winograd::{self, WinogradKernel, conv3x3_winograd, weight_grad_winograd};
use super::{cpu_slice, gemm_threads, lane_sums, reduction_chunk, written_vec};

/// Input gradient: (w, dy) → dx of shape (N, cin, h, w).
pub(crate) struct ConvInputGrad {
    pub geom: ConvGeom,
}

impl CustomOp2 for ConvInputGrad {
    fn name(&self) -> &'static str {
        "conv2d_input_grad"
    }

    fn cpu_fwd(
        &self,
        sw: &CpuStorage,
        lw: &Layout,
        sdy: &CpuStorage,
        ldy: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let (w, dy) = (
            cpu_slice(self.name(), sw, lw)?,
            cpu_slice(self.name(), sdy, ldy)?,
        );
        let g = self.geom;
        let n = ldy.dims()[0];
        let (hw, ohw, k) = (g.h * g.w, g.ho * g.wo, g.k());
        let shape = Shape::from((n, g.cin, g.h, g.w));
        if let Some(level) = conv3x3::path(&g) {
            if winograd::serves(g.cout, g.cin) {
                let wk = WinogradKernel::new(Taps::transposed_flipped(w, g.cout, g.cin));
                // SAFETY: conv3x3_winograd writes every output element.
                let dx = unsafe {
                    written_vec(n * g.cin * hw, |dx| {
                        conv3x3_winograd(dy, &wk, Epilogue::default(), (g.h, g.w), level, dx)
                    })
                };
                return Ok((CpuStorage::F32(dx), shape));
            }
            let packed = PackedKernel::new(Taps::transposed_flipped(w, g.cout, g.cin));
            // SAFETY: conv3x3 writes every output element.
            let dx = unsafe {
                written_vec(n * g.cin * hw, |dx| {
                    conv3x3(dy, &packed, Epilogue::default(), (g.h, g.w), level, dx)
                })
            };
            return Ok((CpuStorage::F32(dx), shape));
        }
        let mut dx = vec![0f32; n * g.cin * hw];
        let threads = gemm_threads(n);
        // Wᵀ: (k, cout), element (r, co) = w[co·k + r].
        let wt = MatRef::new(w, k, g.cout, 1, k);
        dx.par_chunks_mut(g.cin * hw).enumerate().for_each_init(
            Vec::new,
            |cols: &mut Vec<f32>, (s, dx_s)| {
                let dys = &dy[s * g.cout * ohw..(s + 1) * g.cout * ohw];
                for band in g.bands() {
                    let t = (band.1 - band.0) * g.wo;
                    let p0 = band.0 * g.wo;
                    let rhs = MatRef::new(&dys[p0..], g.cout, t, ohw, 1);
                    if g.is_pointwise() {
                        sgemm(&mut dx_s[p0..], hw, wt, rhs, false, threads);
                    } else {
                        cols.resize(k * t, 0.0);
                        sgemm(cols, t, wt, rhs, false, threads);
                        col2im_add(cols, &g, band, dx_s);
                    }
                }
            },
        );
        Ok((CpuStorage::F32(dx), shape))
    }
}

/// Weight and bias gradients: (x, dy) → flat [dW (cout·cin·kh·kw); db], db of a bias shared
/// by the batch (cout) or per sample (n · cout).
pub(crate) struct ConvWeightGrad {
    geom: ConvGeom,
    per_sample_bias: bool,
}

/// The weight-gradient op of a conv with geometry `geom`.
pub(crate) fn weight_grad(geom: ConvGeom, per_sample_bias: bool) -> ConvWeightGrad {
    ConvWeightGrad {
        geom,
        per_sample_bias,
    }
}

impl CustomOp2 for ConvWeightGrad {
    fn name(&self) -> &'static str {
        "conv2d_weight_grad"
    }

    fn cpu_fwd(
        &self,
        sx: &CpuStorage,
        lx: &Layout,
        sdy: &CpuStorage,
        ldy: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let (x, dy) = (
            cpu_slice(self.name(), sx, lx)?,
            cpu_slice(self.name(), sdy, ldy)?,
        );
        let g = self.geom;
        let n = lx.dims()[0];
        let (hw, ohw, k) = (g.h * g.w, g.ho * g.wo, g.k());
        let len = g.cout * k
            + if self.per_sample_bias {
                n * g.cout
            } else {
                g.cout
            };
        let chunk = reduction_chunk(n);
        let chunks = n.div_ceil(chunk);
        let threads = gemm_threads(chunks);
        // One partial [dW; db] per chunk of samples, summed sample by sample in order. A 3×3
        // (any non-pointwise) kernel is accumulated with the taps ordered (cout, kh, kw, cin),
        // from a pixel-major column matrix that gemm reads without repacking (with stride 1,
        // straight from the padded channels-last input: `accumulate_stride1`); it is permuted
        // to (cout, cin, kh, kw) at the end.
        let pointwise = g.is_pointwise();
        let level = simd();
        // 3×3 stride-1 convs with enough channels: the Winograd weight gradient.
        let wino = conv3x3::path(&g).is_some() && winograd::serves_weight_grad(g.cin, g.cout);
        let partials: Vec<Vec<f32>> = (0..chunks)
            .into_par_iter()
            .map_init(
                || (Vec::new(), Vec::new(), Vec::new()),
                |(cols, xp, dyp): &mut (Vec<f32>, Vec<f32>, Vec<f32>), c| {
                    let mut acc = vec![0f32; len];
                    let (dw, db) = acc.split_at_mut(g.cout * k);
                    for s in c * chunk..((c + 1) * chunk).min(n) {
                        let xs = &x[s * g.cin * hw..(s + 1) * g.cin * hw];
                        let dys = &dy[s * g.cout * ohw..(s + 1) * g.cout * ohw];
                        let dbs = if self.per_sample_bias {
                            &mut db[s * g.cout..(s + 1) * g.cout]
                        } else {
                            &mut db[..]
                        };
                        for (d, row) in dbs.iter_mut().zip(dys.chunks_exact(ohw)) {
                            *d += lane_sums::sum(row) as f32;
                        }
                        if wino {
                            continue;
                        }
                        if !pointwise {
                            pad_channels_last(xs, &g, level, xp);
                            if g.stride == 1 {
                                accumulate_stride1(xp, dys, &g, dyp, dw, threads);
                                continue;
                            }
                        }
                        for band in g.bands() {
                            let t = (band.1 - band.0) * g.wo;
                            let p0 = band.0 * g.wo;
                            let lhs = MatRef::new(&dys[p0..], g.cout, t, ohw, 1);
                            // The column matrix transposed: (t, k).
                            let rhs = if pointwise {
                                MatRef::new(&xs[p0..], t, g.cin, 1, hw)
                            } else {
                                cols.resize(k * t, 0.0);
                                im2col_pixel_major(xp, &g, band, cols);
                                MatRef::new(cols, t, k, k, 1)
                            };
                            sgemm(dw, k, lhs, rhs, true, threads);
                        }
                    }
                    if wino {
                        let samples = c * chunk..((c + 1) * chunk).min(n);
                        let dims = (g.cin, g.cout, g.h, g.w);
                        dw.copy_from_slice(&weight_grad_winograd(x, dy, dims, samples, level));
                    } else if !pointwise {
                        taps_channel_major(dw, &g);
                    }
                    acc
                },
            )
            .collect();
        let mut out = vec![0f32; len];
        for p in &partials {
            for (o, &v) in out.iter_mut().zip(p) {
                *o += v;
            }
        }
        Ok((CpuStorage::F32(out), Shape::from(len)))
    }
}

/// dW (taps ordered (cout, kh, kw, cin)) += the stride-1 weight gradient of one sample, with
/// no column matrix: taken over the padded width (wp = w + 2p columns per output row, the last
/// kw − 1 of them outside the output), the rows of kernel row i's part of the pixel-major column
/// matrix are windows of kw · cin floats at a uniform stride of cin in the padded channels-last
/// input `xp`; dy is copied to the same padded width, zero in the columns outside the output.
fn accumulate_stride1(
    xp: &[f32],
    dys: &[f32],
    g: &ConvGeom,
    dyp: &mut Vec<f32>,
    dw: &mut [f32],
    threads: usize,
) {
    let (cin, wp, k) = (g.cin, g.w + 2 * g.pad, g.k());
    // Pseudo-pixels: ho rows of wp, less the last row's columns outside the output (which
    // would read past the end of xp).
    let q = g.ho * wp - (g.kw - 1);
    // The columns outside the output are never written: a buffer of this size from an earlier
    // sample (same geometry) still has them zero.
    if dyp.len() != g.cout * q {
        dyp.clear();
        dyp.resize(g.cout * q, 0.0);
    }
    for (dst, src) in dyp.chunks_exact_mut(q).zip(dys.chunks_exact(g.ho * g.wo)) {
        for (oy, row) in src.chunks_exact(g.wo).enumerate() {
            dst[oy * wp..oy * wp + g.wo].copy_from_slice(row);
        }
    }
    let lhs = MatRef::new(dyp, g.cout, q, q, 1);
    for i in 0..g.kh {
        let rhs = MatRef::new(&xp[i * wp * cin..], q, g.kw * cin, cin, 1);
        sgemm(&mut dw[i * g.kw * cin..], k, lhs, rhs, true, threads);
    }
}

/// Permute a kernel gradient from (cout, kh, kw, cin) to (cout, cin, kh, kw) in place.
fn taps_channel_major(dw: &mut [f32], g: &ConvGeom) {
    let (cin, taps, k) = (g.cin, g.kh * g.kw, g.k());
    let mut tmp = vec![0f32; k];
    for row in dw.chunks_exact_mut(k) {
        for t in 0..taps {
            for c in 0..cin {
                tmp[c * taps + t] = row[t * cin + c];
            }
        }
        row.copy_from_slice(&tmp);
    }
}
