//! 2-D convolution by im2col and a matrix product, differentiable on every device: the path the
//! UNet takes on a GPU (candle's own CUDA convolution backward runs a direct transposed-conv
//! kernel and an im2col of the whole batch as one kernel window). [`im2col`] gathers the
//! receptive fields into a matrix, its backward is [`col2im`] (a gather, no atomics), and the
//! product with the weights is candle's matmul (cuBLAS on a GPU), whose backward is two more.

use candle_core::{CpuStorage, CustomOp1, DType, Layout, Shape, Tensor};
use rayon::prelude::*;

use crate::cuda::KernelSource;
use crate::{Error, Result};

pub(crate) const IM2COL: KernelSource = KernelSource {
    name: "im2col",
    func: "im2col_f32",
    src: include_str!("../../../../kernels/im2col.cu"),
};

pub(crate) const COL2IM: KernelSource = KernelSource {
    name: "col2im",
    func: "col2im_f32",
    src: include_str!("../../../../kernels/col2im.cu"),
};

/// Input size and window of one convolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Geometry {
    n: usize,
    c: usize,
    h: usize,
    w: usize,
    kh: usize,
    kw: usize,
    stride: usize,
    pad: usize,
}

impl Geometry {
    fn out_hw(&self) -> (usize, usize) {
        (
            (self.h + 2 * self.pad - self.kh) / self.stride + 1,
            (self.w + 2 * self.pad - self.kw) / self.stride + 1,
        )
    }

    /// Columns of the im2col matrix: C·kh·kw.
    fn k(&self) -> usize {
        self.c * self.kh * self.kw
    }

    fn col_len(&self) -> usize {
        let (ho, wo) = self.out_hw();
        self.n * ho * wo * self.k()
    }

    fn image_len(&self) -> usize {
        self.n * self.c * self.h * self.w
    }

    /// The kernels' integer arguments (sizes checked to fit in i32 by [`im2col`]).
    #[cfg(feature = "cuda")]
    fn kernel_args(&self) -> [i32; 10] {
        let (ho, wo) = self.out_hw();
        [
            self.n,
            self.c,
            self.h,
            self.w,
            self.kh,
            self.kw,
            self.stride,
            self.pad,
            ho,
            wo,
        ]
        .map(|v| v as i32)
    }
}

/// The im2col matrix of `x` (N, C, H, W) f32 for a kh × kw window with `stride` and zero
/// padding `pad`: shape (N·Ho·Wo, C·kh·kw), row (n, oy, ox), column (c, ky, kx). Differentiable:
/// the gradient of x is [`col2im`] of the gradient of the matrix.
pub fn im2col(x: &Tensor, kh: usize, kw: usize, stride: usize, pad: usize) -> Result<Tensor> {
    const OP: &str = "im2col";
    if x.dtype() != DType::F32 {
        return Err(Error::arg(
            OP,
            format!("x must be f32, got {:?}", x.dtype()),
        ));
    }
    let (n, c, h, w) = x.dims4()?;
    if kh == 0 || kw == 0 || stride == 0 || h + 2 * pad < kh || w + 2 * pad < kw {
        return Err(Error::arg(
            OP,
            format!(
                "window {kh}x{kw}, stride {stride}, padding {pad} does not fit an input of {h}x{w}"
            ),
        ));
    }
    let g = Geometry {
        n,
        c,
        h,
        w,
        kh,
        kw,
        stride,
        pad,
    };
    let (ho, wo) = g.out_hw();
    if [n, c, h, w, ho, wo].iter().any(|&v| v > i32::MAX as usize) {
        return Err(Error::arg(OP, format!("input {:?} is too large", x.dims())));
    }
    Ok(x.contiguous()?.apply_op1(Im2Col(g))?)
}

/// The adjoint of [`im2col`] for an input of shape (N, C, H, W) = `image`: sums every column
/// entry back onto the pixel it was gathered from. `col` is (N·Ho·Wo, C·kh·kw) f32.
pub fn col2im(
    col: &Tensor,
    image: (usize, usize, usize, usize),
    kh: usize,
    kw: usize,
    stride: usize,
    pad: usize,
) -> Result<Tensor> {
    let (n, c, h, w) = image;
    let g = Geometry {
        n,
        c,
        h,
        w,
        kh,
        kw,
        stride,
        pad,
    };
    if col.elem_count() != g.col_len() || col.dtype() != DType::F32 {
        return Err(Error::arg(
            "col2im",
            format!(
                "col must be f32 with {} elements for image {image:?}, got {:?} {:?}",
                g.col_len(),
                col.dtype(),
                col.dims()
            ),
        ));
    }
    Ok(col.contiguous()?.apply_op1_no_bwd(&Col2Im(g))?)
}

/// conv2d(x, w) + b by im2col and a matrix product: x (N, Cin, H, W), w (Cout, Cin, kh, kw),
/// `bias` (Cout,) or None; zero padding `pad`. Returns (N, Cout, Ho, Wo), differentiable in all.
pub fn conv2d_im2col(
    x: &Tensor,
    w: &Tensor,
    bias: Option<&Tensor>,
    stride: usize,
    pad: usize,
) -> Result<Tensor> {
    let (n, _, h, wd) = x.dims4()?;
    let (cout, cin, kh, kw) = w.dims4()?;
    if x.dim(1)? != cin {
        return Err(Error::arg(
            "conv2d_im2col",
            format!("x has {} channels, the weights take {cin}", x.dim(1)?),
        ));
    }
    let col = im2col(x, kh, kw, stride, pad)?;
    let (ho, wo) = (
        (h + 2 * pad - kh) / stride + 1,
        (wd + 2 * pad - kw) / stride + 1,
    );
    let y = col.matmul(&w.reshape((cout, cin * kh * kw))?.t()?)?;
    let y = y
        .reshape((n, ho, wo, cout))?
        .permute((0, 3, 1, 2))?
        .contiguous()?;
    Ok(match bias {
        Some(b) => y.broadcast_add(&b.reshape((1, cout, 1, 1))?)?,
        None => y,
    })
}

/// im2col as a candle op (backward: col2im).
struct Im2Col(Geometry);

impl CustomOp1 for Im2Col {
    fn name(&self) -> &'static str {
        IM2COL.name
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let g = self.0;
        let x = super::fused::cpu_input(IM2COL.name, s, l)?;
        let (ho, wo) = g.out_hw();
        let k = g.k();
        let mut col = vec![0f32; g.col_len()];
        col.par_chunks_mut(k.max(1))
            .enumerate()
            .for_each(|(row, out)| {
                let (b, oy, ox) = (row / (ho * wo), (row / wo) % ho, row % wo);
                for (ck, o) in out.iter_mut().enumerate() {
                    let (ci, ky, kx) = (ck / (g.kh * g.kw), (ck / g.kw) % g.kh, ck % g.kw);
                    let y = (oy * g.stride + ky).checked_sub(g.pad);
                    let xx = (ox * g.stride + kx).checked_sub(g.pad);
                    if let (Some(y), Some(xx)) = (y, xx)
                        && y < g.h
                        && xx < g.w
                    {
                        *o = x[((b * g.c + ci) * g.h + y) * g.w + xx];
                    }
                }
            });
        Ok((CpuStorage::F32(col), Shape::from((g.n * ho * wo, k))))
    }

    #[cfg(feature = "cuda")]
    fn cuda_fwd(
        &self,
        s: &candle_core::CudaStorage,
        l: &Layout,
    ) -> candle_core::Result<(candle_core::CudaStorage, Shape)> {
        let g = self.0;
        let (ho, wo) = g.out_hw();
        let out = launch(&IM2COL, s, l, g.col_len(), g.kernel_args())?;
        Ok((out, Shape::from((g.n * ho * wo, g.k()))))
    }

    fn bwd(
        &self,
        _arg: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<Option<Tensor>> {
        let g = self.0;
        let dx = col2im(grad, (g.n, g.c, g.h, g.w), g.kh, g.kw, g.stride, g.pad)
            .map_err(candle_core::Error::wrap)?;
        Ok(Some(dx))
    }
}

/// col2im as a candle op.
struct Col2Im(Geometry);

impl CustomOp1 for Col2Im {
    fn name(&self) -> &'static str {
        COL2IM.name
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let g = self.0;
        let col = super::fused::cpu_input(COL2IM.name, s, l)?;
        let (ho, wo) = g.out_hw();
        let k = g.k();
        let mut dx = vec![0f32; g.image_len()];
        dx.par_chunks_mut(g.h * g.w)
            .enumerate()
            .for_each(|(plane, out)| {
                let (b, ci) = (plane / g.c, plane % g.c);
                for (p, o) in out.iter_mut().enumerate() {
                    let (y, xx) = (p / g.w, p % g.w);
                    let mut acc = 0f32;
                    for ky in 0..g.kh {
                        let Some(ty) = (y + g.pad).checked_sub(ky) else {
                            continue;
                        };
                        if ty % g.stride != 0 || ty / g.stride >= ho {
                            continue;
                        }
                        for kx in 0..g.kw {
                            let Some(tx) = (xx + g.pad).checked_sub(kx) else {
                                continue;
                            };
                            if tx % g.stride != 0 || tx / g.stride >= wo {
                                continue;
                            }
                            let row = (b * ho + ty / g.stride) * wo + tx / g.stride;
                            acc += col[row * k + (ci * g.kh + ky) * g.kw + kx];
                        }
                    }
                    *o = acc;
                }
            });
        Ok((CpuStorage::F32(dx), Shape::from((g.n, g.c, g.h, g.w))))
    }

    #[cfg(feature = "cuda")]
    fn cuda_fwd(
        &self,
        s: &candle_core::CudaStorage,
        l: &Layout,
    ) -> candle_core::Result<(candle_core::CudaStorage, Shape)> {
        let g = self.0;
        let out = launch(&COL2IM, s, l, g.image_len(), g.kernel_args())?;
        Ok((out, Shape::from((g.n, g.c, g.h, g.w))))
    }
}

/// Launches `kernel(input, out, n, c, h, w, kh, kw, stride, pad, ho, wo)` with one thread per
/// output element (grid-stride).
#[cfg(feature = "cuda")]
fn launch(
    kernel: &KernelSource,
    s: &candle_core::CudaStorage,
    l: &Layout,
    out_len: usize,
    args: [i32; 10],
) -> candle_core::Result<candle_core::CudaStorage> {
    use candle_core::backend::BackendStorage;
    use candle_core::cuda_backend::WrapErr;
    use candle_core::cuda_backend::cudarc::driver::{LaunchConfig, PushKernelArg};

    let dev = s.device().clone();
    let input = match l.contiguous_offsets() {
        Some((a, b)) => s.as_cuda_slice::<f32>()?.slice(a..b),
        None => candle_core::bail!("{}: input is not contiguous", kernel.name),
    };
    // SAFETY: the kernel writes every one of the out_len elements (grid-stride loop).
    let out = unsafe { dev.alloc::<f32>(out_len)? };
    if out_len > 0 {
        let ptx = crate::cuda::ptx(kernel).map_err(candle_core::Error::wrap)?;
        let module = format!("velprior_{}", kernel.name);
        let func = dev.get_or_load_custom_func(kernel.func, &module, &ptx)?;
        let mut b = func.builder();
        b.arg(&input);
        b.arg(&out);
        for a in &args {
            b.arg(a);
        }
        let threads = 256u32;
        let cfg = LaunchConfig {
            grid_dim: (out_len.div_ceil(threads as usize).min(1 << 20) as u32, 1, 1),
            block_dim: (threads, 1, 1),
            shared_mem_bytes: 0,
        };
        // SAFETY: the arguments match the kernel's signature (kernels/im2col.cu, col2im.cu).
        unsafe { b.launch(cfg) }.w()?;
    }
    Ok(candle_core::CudaStorage::wrap_cuda_slice(out, dev))
}
