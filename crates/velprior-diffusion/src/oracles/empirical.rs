//! The empirical oracle: the optimal denoiser of a finite training set, the perfectly memorising
//! reference for memorization studies.

use candle_core::{CpuStorage, DType, Device, Storage, Tensor};
use rayon::prelude::*;

use crate::denoiser::{Denoiser, NoiseLevel, check_levels};
use crate::{DiffusionError, Result};

/// Rows of x_t handled per matrix product (bounds the N × K distance matrix).
const CHUNK: usize = 256;

/// Exact ε̂ when x_0 is uniform on K training models x_1 … x_K (a mixture of deltas), over the
/// D = C·H·W flattened values of a sample:
///
/// E[x_0 | x_t] = Σ_k softmax_k(−‖x_t − √ᾱ x_k‖² / (2(1 − ᾱ))) x_k,
/// ε̂ = (x_t − √ᾱ E[x_0 | x_t]) / √(1 − ᾱ).
///
/// Distances come from ‖x_t‖² − 2√ᾱ ⟨x_t, x_k⟩ + ᾱ‖x_k‖² with the inner products as one
/// (N × D)·(D × K) matrix product, all in f64 (so the cancellation at small σ costs ~1e-13, not
/// the ~1e-4 of f32); the softmax is computed row by row with rayon. A few thousand 70 × 70
/// models take K·D·8 bytes (≈ 120 MB for K = 3000) and ~2·N·K·D flops per call.
#[derive(Debug, Clone)]
pub struct EmpiricalOracle {
    /// (K, D) f64 on the CPU.
    train: Tensor,
    /// ‖x_k‖².
    norms: Vec<f64>,
    /// The host, where the distances and the mixture are computed.
    device: Device,
}

impl EmpiricalOracle {
    /// The oracle of the K models in `train`, shape (K, ...) (e.g. (K, 1, H, W) or (K, H, W)),
    /// in the normalised units the samplers work in.
    pub fn new(train: &Tensor) -> Result<Self> {
        let dims = train.dims();
        if dims.len() < 2 || dims[0] == 0 || train.elem_count() == 0 {
            return Err(DiffusionError::invalid(format!(
                "EmpiricalOracle: training set must be (K, ...) with K > 0 models, got shape {dims:?}"
            )));
        }
        let k = dims[0];
        let d = train.elem_count() / k;
        let device = Device::Cpu; // host: the oracle computes in f64 with rayon
        let train = train
            .to_device(&device)?
            .to_dtype(DType::F64)?
            .reshape((k, d))?;
        let rows = train.to_vec2::<f64>()?;
        if rows.iter().flatten().any(|v| !v.is_finite()) {
            return Err(DiffusionError::invalid(
                "EmpiricalOracle: training set has NaN/Inf values",
            ));
        }
        let norms = rows.iter().map(|r| r.iter().map(|v| v * v).sum()).collect();
        Ok(EmpiricalOracle {
            train,
            norms,
            device,
        })
    }

    /// K, the number of training models.
    pub fn len(&self) -> usize {
        self.norms.len()
    }

    /// Always false: the training set is not empty.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// D, the values per model.
    pub fn dim(&self) -> usize {
        self.train.dims()[1]
    }

    /// The posterior weights softmax_k(−‖x_t − √ᾱ x_k‖²/(2(1 − ᾱ))) of each row of `x` (n × D,
    /// f64 CPU) at its level, n × K row-major.
    fn weights(&self, x: &Tensor, levels: &[NoiseLevel]) -> Result<Vec<f64>> {
        let (k, n) = (self.len(), levels.len());
        // (K × D)·(D × n) is the faster orientation for gemm (large m); transpose the small result.
        let dots = self.train.matmul(&x.t()?)?.t()?.contiguous()?;
        let dots = dots.flatten_all()?.to_vec1::<f64>()?;
        debug_assert_eq!(dots.len(), n * k);
        let xs = x.sqr()?.sum(1)?.to_vec1::<f64>()?;
        let mut w = dots;
        w.par_chunks_mut(k)
            .zip(levels.par_iter().zip(xs.par_iter()))
            .for_each(|(row, (l, &xn))| {
                let (sab, two_var) = (l.alpha_bar.sqrt(), 2.0 * (1.0 - l.alpha_bar));
                for (v, &kn) in row.iter_mut().zip(&self.norms) {
                    let dist2 = (xn - 2.0 * sab * *v + l.alpha_bar * kn).max(0.0);
                    *v = -dist2 / two_var;
                }
                let max = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                let mut total = 0.0;
                for v in row.iter_mut() {
                    *v = (*v - max).exp();
                    total += *v;
                }
                for v in row.iter_mut() {
                    *v /= total;
                }
            });
        Ok(w)
    }

    /// E[x_0 | x_t] for x_t (N, ...) with D values per sample, in x_t's shape, dtype and device.
    pub fn posterior_mean(&self, x_t: &Tensor, levels: &[NoiseLevel]) -> Result<Tensor> {
        let x = self.rows("EmpiricalOracle::posterior_mean", x_t, levels)?;
        let x0 = self.x0_rows(&x, levels)?;
        Ok(x0
            .reshape(x_t.dims())?
            .to_dtype(x_t.dtype())?
            .to_device(x_t.device())?)
    }

    fn rows(&self, op: &str, x_t: &Tensor, levels: &[NoiseLevel]) -> Result<Tensor> {
        let (n, d) = check_levels(op, x_t, levels)?;
        if d != self.dim() {
            return Err(DiffusionError::invalid(format!(
                "{op}: x_t {:?} has {d} values per sample, the training models have {}",
                x_t.dims(),
                self.dim()
            )));
        }
        Ok(x_t
            .to_device(&self.device)?
            .to_dtype(DType::F64)?
            .reshape((n, d))?)
    }

    /// E[x_0 | x_t] for the rows of x (N × D f64 CPU), CHUNK rows per matrix product.
    fn x0_rows(&self, x: &Tensor, levels: &[NoiseLevel]) -> Result<Tensor> {
        let n = levels.len();
        let mut parts = Vec::with_capacity(n.div_ceil(CHUNK));
        for start in (0..n).step_by(CHUNK) {
            let len = CHUNK.min(n - start);
            let xb = x.narrow(0, start, len)?;
            let w = self.weights(&xb, &levels[start..start + len])?;
            parts.push(self.mix(w, len)?);
        }
        Ok(Tensor::cat(&parts, 0)?)
    }

    /// Σ_k w_nk x_k for the n × K weights `w`: a gemm when many weights are non-zero (high
    /// noise), else a sparse sum over the non-zero ones (low noise, where the softmax is nearly
    /// one-hot and the dense product would read all K models for nothing).
    fn mix(&self, w: Vec<f64>, n: usize) -> Result<Tensor> {
        let (k, d) = (self.len(), self.dim());
        let nnz = w.iter().filter(|v| **v > 0.0).count();
        if nnz * 8 > n * k {
            return Ok(Tensor::from_vec(w, (n, k), &self.device)?.matmul(&self.train)?);
        }
        let (storage, layout) = self.train.storage_and_layout();
        let train = match (&*storage, layout.contiguous_offsets()) {
            (Storage::Cpu(CpuStorage::F64(v)), Some((a, b))) => &v[a..b],
            _ => {
                return Err(DiffusionError::invalid(
                    "EmpiricalOracle: training set is not contiguous f64",
                ));
            }
        };
        let mut out = vec![0.0f64; n * d];
        out.par_chunks_mut(d)
            .zip(w.par_chunks(k))
            .for_each(|(o, wr)| {
                for (wk, m) in wr.iter().zip(train.chunks(d)) {
                    if *wk > 0.0 {
                        for (o, v) in o.iter_mut().zip(m) {
                            *o += wk * v;
                        }
                    }
                }
            });
        Ok(Tensor::from_vec(out, (n, d), &self.device)?)
    }
}

impl Denoiser for EmpiricalOracle {
    fn device(&self) -> &Device {
        &self.device
    }

    /// x_t (N, ...) with D values per sample → ε̂ = (x_t − √ᾱ E[x_0 | x_t]) / √(1 − ᾱ).
    fn predict_eps(&self, x_t: &Tensor, levels: &[NoiseLevel]) -> Result<Tensor> {
        let x = self.rows("EmpiricalOracle", x_t, levels)?;
        let d = self.dim();
        let x0 = self.x0_rows(&x, levels)?.flatten_all()?.to_vec1::<f64>()?;
        let mut eps = x.flatten_all()?.to_vec1::<f64>()?;
        eps.par_chunks_mut(d.max(1))
            .zip(x0.par_chunks(d.max(1)))
            .zip(levels.par_iter())
            .for_each(|((e, m), l)| {
                let (sab, sigma) = (l.alpha_bar.sqrt(), l.sigma());
                for (e, &m) in e.iter_mut().zip(m) {
                    *e = (*e - sab * m) / sigma;
                }
            });
        Ok(Tensor::from_vec(eps, x_t.dims(), &self.device)?
            .to_dtype(x_t.dtype())?
            .to_device(x_t.device())?)
    }
}
