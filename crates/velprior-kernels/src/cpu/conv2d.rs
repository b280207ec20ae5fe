//! 2-D convolution (cross-correlation, as PyTorch's `Conv2d`) with fused bias, as a candle
//! `CustomOp3` whose backward pass runs the input- and weight-gradient kernels of
//! [`conv2d_grad`](super::conv2d_grad).
//!
//! Per sample n and band of output rows: `out[n][:, band] = W · im2col(x[n], band) + b`, with
//! W the (cout, cin·kh·kw) kernel matrix; a 1×1 unpadded stride-1 conv multiplies by x[n] itself.

use candle_core::{CpuStorage, CustomOp3, Layout, Shape, Tensor};
use rayon::prelude::*;

use super::conv2d_grad::{ConvInputGrad, weight_grad};
use super::conv3x3::{self, Epilogue, PackedKernel, conv3x3};
use super::gemm::{MatRef, sgemm};
use super::im2col::{ConvGeom, im2col};
use super::taps::Taps;
use super::winograd::{self, WinogradKernel, conv3x3_winograd};
use super::{check_cpu_f32, cpu_slice, gemm_threads, written_vec};
use crate::{Error, Result};

const OP: &str = "conv2d";

/// `conv2d(x, w, b)` with square `stride` and zero `padding` on both sides, as
/// `torch.nn.functional.conv2d` (dilation 1, groups 1). `x`: (N, cin, H, W), `w`:
/// (cout, cin, kh, kw), `b`: (cout,), (N, cout) (a bias per sample, e.g. a UNet's time
/// embedding added to the conv's own bias) or none. Returns (N, cout, (H + 2p − kh)/s + 1,
/// (W + 2p − kw)/s + 1). Differentiable in `x`, `w` and `b`; f32 on the CPU only.
pub fn conv2d(
    x: &Tensor,
    w: &Tensor,
    b: Option<&Tensor>,
    stride: usize,
    padding: usize,
) -> Result<Tensor> {
    let (n, geom) = check(x, w, stride, padding)?;
    let b = match b {
        Some(b) => {
            check_bias(b, n, geom.cout, true)?;
            b.contiguous()?
        }
        None => Tensor::zeros(geom.cout, candle_core::DType::F32, x.device())?,
    };
    let op = Conv2dOp {
        geom,
        residual: false,
    };
    Ok(x.contiguous()?.apply_op3(&w.contiguous()?, &b, op)?)
}

/// `conv2d(x, w, b) + r` in one pass (a residual connection): `b` (cout,), `r` of the output's
/// shape. Differentiable in `x`, `w`, `b` and `r`; f32 on the CPU only.
pub fn conv2d_add(
    x: &Tensor,
    w: &Tensor,
    b: &Tensor,
    r: &Tensor,
    stride: usize,
    padding: usize,
) -> Result<Tensor> {
    let (n, geom) = check(x, w, stride, padding)?;
    check_bias(b, n, geom.cout, false)?;
    check_residual(r, n, &geom)?;
    // Three inputs per custom op: the kernel and its bias travel as one vector [w; b], whose
    // gradient is exactly the weight-gradient kernel's output.
    let wb = Tensor::cat(&[&w.flatten_all()?, b], 0)?;
    let op = Conv2dOp {
        geom,
        residual: true,
    };
    Ok(x.contiguous()?.apply_op3(&wb, &r.contiguous()?, op)?)
}

/// Checks a bias: (cout,), or also (n, cout) with `per_sample`.
pub(crate) fn check_bias(b: &Tensor, n: usize, cout: usize, per_sample: bool) -> Result<()> {
    check_cpu_f32(OP, &[b])?;
    if b.dims() == [cout] || (per_sample && b.dims() == [n, cout]) {
        return Ok(());
    }
    let want = if per_sample {
        format!("({cout},) or ({n}, {cout})")
    } else {
        format!("({cout},)")
    };
    Err(Error::arg(
        OP,
        format!("b must be {want}, got {:?}", b.dims()),
    ))
}

/// Checks a residual against the output shape (n, cout, ho, wo).
pub(crate) fn check_residual(r: &Tensor, n: usize, g: &ConvGeom) -> Result<()> {
    check_cpu_f32(OP, &[r])?;
    if r.dims() != [n, g.cout, g.ho, g.wo] {
        return Err(Error::arg(
            OP,
            format!("r has shape {:?}, expected the output shape", r.dims()),
        ));
    }
    Ok(())
}

/// Checks x (N, cin, H, W) against w (cout, cin, kh, kw); the batch size and geometry.
pub(crate) fn check(
    x: &Tensor,
    w: &Tensor,
    stride: usize,
    padding: usize,
) -> Result<(usize, ConvGeom)> {
    check_cpu_f32(OP, &[x, w])?;
    let (n, cin, h, wd) = x
        .dims4()
        .map_err(|_| Error::arg(OP, format!("x must be (N, C, H, W), got {:?}", x.dims())))?;
    let (cout, wcin, kh, kw) = w.dims4().map_err(|_| {
        Error::arg(
            OP,
            format!("w must be (cout, cin, kh, kw), got {:?}", w.dims()),
        )
    })?;
    if wcin != cin {
        return Err(Error::arg(
            OP,
            format!("x has {cin} channels but w expects {wcin}"),
        ));
    }
    if x.elem_count() == 0 || w.elem_count() == 0 {
        return Err(Error::arg(OP, "empty input or kernel"));
    }
    let geom = ConvGeom::new((cin, h, wd), (cout, kh, kw), stride, padding).ok_or_else(|| {
        Error::arg(
            OP,
            format!(
                "stride {stride} / padding {padding} invalid for a {h}×{wd} input and {kh}×{kw} kernel"
            ),
        )
    })?;
    Ok((n, geom))
}

/// The gradients (dx, dW, db) of [`conv2d()`] for the output gradient `dy`, without autograd
/// (the kernels its backward pass runs; for benchmarks and hand-written backward passes).
pub fn conv2d_backward(
    x: &Tensor,
    w: &Tensor,
    dy: &Tensor,
    stride: usize,
    padding: usize,
) -> Result<(Tensor, Tensor, Tensor)> {
    check_cpu_f32(OP, &[x, w, dy])?;
    let ((_, cin, h, wd), (cout, _, kh, kw)) = (x.dims4()?, w.dims4()?);
    let geom = ConvGeom::new((cin, h, wd), (cout, kh, kw), stride, padding)
        .ok_or_else(|| Error::arg(OP, "stride / padding invalid for this input and kernel"))?;
    let (x, w, dy) = (x.contiguous()?, w.contiguous()?, dy.contiguous()?);
    if dy.dims() != [x.dims()[0], cout, geom.ho, geom.wo] {
        return Err(Error::arg(
            OP,
            format!("dy has shape {:?}, expected the output shape", dy.dims()),
        ));
    }
    let dx = w.apply_op2_no_bwd(&dy, &ConvInputGrad { geom })?;
    let flat = x.apply_op2_no_bwd(&dy, &weight_grad(geom, false))?;
    let wn = cout * geom.k();
    Ok((
        dx,
        flat.narrow(0, 0, wn)?.reshape(w.shape())?,
        flat.narrow(0, wn, cout)?,
    ))
}

/// The forward op; `geom` is per sample. Inputs (x, w, b), or (x, [w; b], r) with `residual`.
struct Conv2dOp {
    geom: ConvGeom,
    residual: bool,
}

impl CustomOp3 for Conv2dOp {
    fn name(&self) -> &'static str {
        OP
    }

    fn cpu_fwd(
        &self,
        sx: &CpuStorage,
        lx: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let (x, a2, a3) = (
            cpu_slice(OP, sx, lx)?,
            cpu_slice(OP, s2, l2)?,
            cpu_slice(OP, s3, l3)?,
        );
        let g = self.geom;
        let n = lx.dims()[0];
        let wn = g.cout * g.k();
        let (w, ep) = if self.residual {
            let (w, b) = a2.split_at(wn);
            let ep = Epilogue {
                bias: Some(b),
                residual: Some(a3),
            };
            (w, ep)
        } else {
            let ep = Epilogue {
                bias: Some(a3),
                residual: None,
            };
            (a2, ep)
        };
        let out = forward(x, w, ep, n, &g);
        Ok((CpuStorage::F32(out), Shape::from((n, g.cout, g.ho, g.wo))))
    }

    fn bwd(
        &self,
        x: &Tensor,
        t2: &Tensor,
        t3: &Tensor,
        _res: &Tensor,
        dy: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let g = self.geom;
        let wn = g.cout * g.k();
        let dy = dy.contiguous()?;
        let (w, b) = if self.residual {
            (&t2.narrow(0, 0, wn)?, &t2.narrow(0, wn, g.cout)?)
        } else {
            (t2, t3)
        };
        let dx = if x.track_op() {
            Some(w.apply_op2_no_bwd(&dy, &ConvInputGrad { geom: g })?)
        } else {
            None
        };
        let per_sample_bias = b.rank() == 2;
        let dwb = if t2.track_op() || (!self.residual && t3.track_op()) {
            Some(x.apply_op2_no_bwd(&dy, &weight_grad(g, per_sample_bias))?)
        } else {
            None
        };
        if self.residual {
            // d[w; b] is the flat weight-gradient output; dr = dy.
            return Ok((dx, dwb, Some(dy)));
        }
        let (dw, db) = match dwb {
            Some(flat) => (
                Some(flat.narrow(0, 0, wn)?.reshape(t2.shape())?),
                Some(flat.narrow(0, wn, b.elem_count())?.reshape(b.shape())?),
            ),
            None => (None, None),
        };
        Ok((dx, dw, db))
    }
}

/// The forward pass on raw slices: x (n, cin, h, w), w (cout, k), plus the epilogue.
pub(crate) fn forward(x: &[f32], w: &[f32], ep: Epilogue<'_>, n: usize, g: &ConvGeom) -> Vec<f32> {
    let (hw, ohw, k) = (g.h * g.w, g.ho * g.wo, g.k());
    if let Some(level) = conv3x3::path(g) {
        if winograd::serves(g.cin, g.cout) {
            let wk = WinogradKernel::new(Taps::of(w, g.cout, g.cin));
            // SAFETY: conv3x3_winograd writes every output element.
            return unsafe {
                written_vec(n * g.cout * ohw, |out| {
                    conv3x3_winograd(x, &wk, ep, (g.h, g.w), level, out)
                })
            };
        }
        let packed = PackedKernel::new(Taps::of(w, g.cout, g.cin));
        // SAFETY: conv3x3 writes every output element.
        return unsafe {
            written_vec(n * g.cout * ohw, |out| {
                conv3x3(x, &packed, ep, (g.h, g.w), level, out)
            })
        };
    }
    let mut out = vec![0f32; n * g.cout * ohw];
    let threads = gemm_threads(n);
    let wmat = MatRef::new(w, g.cout, k, k, 1);
    out.par_chunks_mut(g.cout * ohw).enumerate().for_each_init(
        Vec::new,
        |cols: &mut Vec<f32>, (s, out_s)| {
            let xs = &x[s * g.cin * hw..(s + 1) * g.cin * hw];
            let ep = ep.sample(s, g.cout, ohw);
            if let Some(r) = ep.residual {
                out_s.copy_from_slice(r);
            }
            if let Some(b) = ep.bias {
                for (o, &bc) in out_s.chunks_exact_mut(ohw).zip(b) {
                    o.iter_mut().for_each(|v| *v += bc);
                }
            }
            for band in g.bands() {
                let t = (band.1 - band.0) * g.wo;
                let p0 = band.0 * g.wo;
                let rhs = if g.is_pointwise() {
                    MatRef::new(&xs[p0..], g.cin, t, hw, 1)
                } else {
                    cols.resize(k * t, 0.0);
                    im2col(xs, g, band, cols);
                    MatRef::new(cols, k, t, t, 1)
                };
                sgemm(&mut out_s[p0..], ohw, wmat, rhs, true, threads);
            }
        },
    );
    out
}
