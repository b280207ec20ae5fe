//! GroupNorm (+ SiLU) followed by a convolution, as one candle op: `conv2d(silu(gn(x))) + b
//! (+ r)`. The normalised input is not a tensor of the graph, so candle's backward pass, which
//! zero-fills and adds into every gradient it routes between two ops, has one full-size
//! gradient fewer to route. The kernels are those of [`group_norm()`](super::group_norm()) and
//! [`conv2d()`](super::conv2d()); the normalised input is kept from the forward pass for the
//! weight gradient (the memory it took as a tensor).

use std::sync::Mutex;

use candle_core::{CpuStorage, CustomOp2, CustomOp3, Layout, Shape, Tensor};

use super::conv2d::{self, check as check_conv, check_bias, check_residual};
use super::conv2d_grad::{ConvInputGrad, weight_grad};
use super::conv3x3::Epilogue;
use super::cpu_slice;
use super::group_norm::{GroupNormOp, check as check_norm};
use super::im2col::ConvGeom;
use crate::Result;

const OP: &str = "group_norm_conv2d";

/// The GroupNorm in front of a convolution: `silu(group_norm(x, groups, eps) · γ + β)` (SiLU
/// when `silu`), γ and β of shape (cin,).
pub struct GroupNormSpec<'a> {
    pub gamma: &'a Tensor,
    pub beta: &'a Tensor,
    pub groups: usize,
    pub eps: f64,
    pub silu: bool,
}

/// `conv2d(norm(x), w, b) + r` in one op: `x` (N, cin, H, W), `w` (cout, cin, kh, kw), `b`
/// (cout,) or (N, cout) (see [`conv2d()`](super::conv2d())), `r` of the output's shape or none.
/// Differentiable in x, γ, β, w, b and r; f32 on the CPU only.
pub fn group_norm_conv2d(
    x: &Tensor,
    norm: &GroupNormSpec<'_>,
    w: &Tensor,
    b: &Tensor,
    r: Option<&Tensor>,
    stride: usize,
    padding: usize,
) -> Result<Tensor> {
    check_norm(x, norm.gamma, norm.beta, norm.groups)?;
    let (n, geom) = check_conv(x, w, stride, padding)?;
    check_bias(b, n, geom.cout, true)?;
    let params = Tensor::cat(
        &[norm.gamma, norm.beta, &w.flatten_all()?, &b.flatten_all()?],
        0,
    )?;
    let op = GroupNormConvOp {
        norm: GroupNormOp::new(norm.groups, norm.eps, norm.silu),
        geom,
        normalised: Mutex::new(None),
    };
    let x = x.contiguous()?;
    Ok(match r {
        None => x.apply_op2(&params, op)?,
        Some(r) => {
            check_residual(r, n, &geom)?;
            x.apply_op3(&params, &r.contiguous()?, op)?
        }
    })
}

/// Inputs (x, [γ; β; w; b]) or (x, [γ; β; w; b], r).
struct GroupNormConvOp {
    norm: GroupNormOp,
    geom: ConvGeom,
    /// norm(x) of the last forward pass, taken by the backward pass.
    normalised: Mutex<Option<Vec<f32>>>,
}

impl GroupNormConvOp {
    /// Offsets in the parameter vector: [γ; β] ends at `2 cin`, w at `2 cin + cout · k`.
    fn offsets(&self) -> (usize, usize) {
        let g = &self.geom;
        (2 * g.cin, 2 * g.cin + g.cout * g.k())
    }

    fn fwd(
        &self,
        x: &[f32],
        lx: &Layout,
        params: &[f32],
        residual: Option<&[f32]>,
    ) -> (CpuStorage, Shape) {
        let g = &self.geom;
        let n = lx.dims()[0];
        let (a, wb) = self.offsets();
        let y = self.norm.forward(x, &params[..a], g.cin, g.h * g.w);
        let ep = Epilogue {
            bias: Some(&params[wb..]),
            residual,
        };
        let out = conv2d::forward(&y, &params[a..wb], ep, n, g);
        if let Ok(mut slot) = self.normalised.lock() {
            *slot = Some(y);
        }
        (CpuStorage::F32(out), Shape::from((n, g.cout, g.ho, g.wo)))
    }

    /// (dx, d[γ; β; w; b]) for the output gradient `dy`.
    fn backward(
        &self,
        x: &Tensor,
        params: &Tensor,
        dy: &Tensor,
    ) -> candle_core::Result<(Tensor, Tensor)> {
        let g = self.geom;
        let (a, wb) = self.offsets();
        let affine = params.narrow(0, 0, a)?;
        let w = params.narrow(0, a, wb - a)?;
        let per_sample_bias = params.elem_count() - wb != g.cout;
        let dy = dy.contiguous()?;
        let kept = self.normalised.lock().ok().and_then(|mut s| s.take());
        let y = match kept {
            Some(y) => Tensor::from_vec(y, x.shape(), x.device())?,
            None => x.apply_op2_no_bwd(&affine, &self.norm)?,
        };
        let dy_norm = w.apply_op2_no_bwd(&dy, &ConvInputGrad { geom: g })?;
        let dwb = y.apply_op2_no_bwd(&dy, &weight_grad(g, per_sample_bias))?;
        let (dx, daffine) = self.norm.backward(x, &affine, &dy_norm)?;
        Ok((dx, Tensor::cat(&[&daffine, &dwb], 0)?))
    }
}

impl CustomOp2 for GroupNormConvOp {
    fn name(&self) -> &'static str {
        OP
    }

    fn cpu_fwd(
        &self,
        sx: &CpuStorage,
        lx: &Layout,
        sp: &CpuStorage,
        lp: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let (x, p) = (cpu_slice(OP, sx, lx)?, cpu_slice(OP, sp, lp)?);
        Ok(self.fwd(x, lx, p, None))
    }

    fn bwd(
        &self,
        x: &Tensor,
        params: &Tensor,
        _res: &Tensor,
        dy: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>)> {
        let (dx, dp) = self.backward(x, params, dy)?;
        Ok((Some(dx), Some(dp)))
    }
}

impl CustomOp3 for GroupNormConvOp {
    fn name(&self) -> &'static str {
        OP
    }

    fn cpu_fwd(
        &self,
        sx: &CpuStorage,
        lx: &Layout,
        sp: &CpuStorage,
        lp: &Layout,
        sr: &CpuStorage,
        lr: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let (x, p, r) = (
            cpu_slice(OP, sx, lx)?,
            cpu_slice(OP, sp, lp)?,
            cpu_slice(OP, sr, lr)?,
        );
        Ok(self.fwd(x, lx, p, Some(r)))
    }

    fn bwd(
        &self,
        x: &Tensor,
        params: &Tensor,
        _r: &Tensor,
        _res: &Tensor,
        dy: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let (dx, dp) = self.backward(x, params, dy)?;
        Ok((Some(dx), Some(dp), Some(dy.clone())))
    }
}
