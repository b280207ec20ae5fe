//! Exact k-nearest-neighbour search of M query models among N training models: squared L2
//! through ‖q‖² + ‖t‖² − 2 q·t with one blocked matrix product per (query block, training
//! chunk), or normalised cross-correlation (NCC) on centred unit vectors; the training set is
//! streamed chunk by chunk, the products run on the chosen device (the `gemm` crate on the
//! CPU, cuBLAS on a GPU), and the winners are recomputed exactly in f64 on the host.

use std::borrow::Cow;

use candle_core::{Device, Tensor};
use rayon::prelude::*;
use serde::Serialize;

use super::source::TrainSource;
use crate::error::{MemorizationError, Result};

/// How two models are compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Euclidean distance ‖q − t‖ (smaller is nearer).
    L2,
    /// Normalised cross-correlation (q − q̄)·(t − t̄) / (‖q − q̄‖ ‖t − t̄‖) in [−1, 1]
    /// (larger is nearer; 0 for a constant model).
    Ncc,
}

/// Settings of [`knn`].
#[derive(Debug, Clone)]
pub struct KnnOptions {
    /// Neighbours per query (1 ≤ k ≤ N).
    pub k: usize,
    /// Comparison.
    pub metric: Metric,
    /// Training models read and multiplied at a time (bounds memory: chunk·D + block·chunk
    /// floats).
    pub chunk: usize,
    /// Queries handled per pass over the training set.
    pub query_block: usize,
    /// Extra candidates kept from the f32 product and re-ranked in f64 (guards near ties).
    pub refine_extra: usize,
    /// Where the products run (the selection and the exact re-rank stay on the host).
    pub device: Device,
}

impl KnnOptions {
    /// Top-`k` with `metric` on the CPU, 4,096-model chunks, 2,048-query blocks, 4 extra
    /// candidates.
    pub fn new(k: usize, metric: Metric) -> Self {
        KnnOptions {
            k,
            metric,
            chunk: 4096,
            query_block: 2048,
            refine_extra: 4,
            device: Device::Cpu, // host: the default; `on` moves the products to a GPU
        }
    }

    /// The same search with its matrix products on `device`.
    pub fn on(self, device: &Device) -> Self {
        KnnOptions {
            device: device.clone(),
            ..self
        }
    }
}

/// The k nearest training models of each query, nearest first.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Neighbours {
    /// Neighbours per query.
    pub k: usize,
    /// What `values` are.
    pub metric: Metric,
    /// Training indices, row-major (M, k).
    pub indices: Vec<usize>,
    /// Euclidean distances (L2) or correlations (NCC), row-major (M, k), computed in f64.
    pub values: Vec<f64>,
}

impl Neighbours {
    /// Number of queries M.
    pub fn len(&self) -> usize {
        self.indices.len() / self.k.max(1)
    }

    /// True when there is no query.
    pub fn is_empty(&self) -> bool {
        self.indices.is_empty()
    }

    /// Indices and values of query `i`'s neighbours, nearest first.
    pub fn row(&self, i: usize) -> (&[usize], &[f64]) {
        let r = i * self.k..(i + 1) * self.k;
        (&self.indices[r.clone()], &self.values[r])
    }
}

/// Finds each query's `opts.k` nearest models in `train`; `queries` is row-major (M, D) in the
/// same units as `train` (normalised).
pub fn knn(queries: &[f32], train: &dyn TrainSource, opts: &KnnOptions) -> Result<Neighbours> {
    let (d, n) = (train.dim(), train.len());
    if d == 0 || !queries.len().is_multiple_of(d) {
        return Err(MemorizationError::invalid(format!(
            "queries of {} values are not whole models of {d} values (H·W of the training set)",
            queries.len()
        )));
    }
    if opts.k == 0 || opts.k > n {
        return Err(MemorizationError::invalid(format!(
            "k = {} neighbours asked of a training set of {n} models; use 1 ≤ k ≤ {n}",
            opts.k
        )));
    }
    if opts.chunk == 0 || opts.query_block == 0 {
        return Err(MemorizationError::invalid(
            "knn chunk and query_block must be at least 1",
        ));
    }
    let m = queries.len() / d;
    let mut out = Neighbours {
        k: opts.k,
        metric: opts.metric,
        indices: Vec::with_capacity(m * opts.k),
        values: Vec::with_capacity(m * opts.k),
    };
    for block in queries.chunks(opts.query_block * d) {
        search_block(block, d, train, opts, &mut out)?;
    }
    Ok(out)
}

/// One pass over the training set for a block of queries: candidates, then the exact re-rank.
fn search_block(
    block: &[f32],
    d: usize,
    train: &dyn TrainSource,
    opts: &KnnOptions,
    out: &mut Neighbours,
) -> Result<()> {
    let keep = (opts.k + opts.refine_extra).min(train.len());
    let heaps = candidates(block, d, train, opts, keep, None)?;
    refine(block, d, train, opts, &heaps, out)
}

/// The `keep` training models of smallest f32 selection key for each query of `block`
/// (row-major (mb, D)), streaming `train` `opts.chunk` models at a time. The key is
/// ‖t_j‖² + bias_j − 2 q·t_j for L2 (‖q‖² is constant per query; `bias` is indexed by training
/// model, zero when `None`) and −2 q·t_j on centred unit rows for NCC.
pub(super) fn candidates(
    block: &[f32],
    d: usize,
    train: &dyn TrainSource,
    opts: &KnnOptions,
    keep: usize,
    bias: Option<&[f32]>,
) -> Result<Vec<TopK>> {
    let (mb, n, metric) = (block.len() / d, train.len(), opts.metric);
    let q = prepare(Cow::Borrowed(block), d, metric);
    let mut heaps: Vec<TopK> = (0..mb).map(|_| TopK::new(keep)).collect();
    let mut start = 0;
    while start < n {
        let c = opts.chunk.min(n - start);
        let rows = match train.as_slice() {
            Some(all) => Cow::Borrowed(&all[start * d..(start + c) * d]),
            None => Cow::Owned(train.read(start, c)?),
        };
        let t = prepare(rows, d, metric);
        let mut t_key: Vec<f32> = match metric {
            Metric::L2 => t.par_chunks(d).map(sum_sq).collect(),
            Metric::Ncc => vec![0.0; c],
        };
        if let Some(b) = bias {
            t_key
                .iter_mut()
                .zip(&b[start..start + c])
                .for_each(|(k, b)| *k += b);
        }
        let dots = scaled_abt(&opts.device, &q, &t, d, -2.0)?;
        heaps
            .par_iter_mut()
            .zip(dots.par_chunks(c))
            .for_each(|(heap, row)| {
                for (j, (&g, &tk)) in row.iter().zip(&t_key).enumerate() {
                    heap.push(tk + g, start + j);
                }
            });
        start += c;
    }
    Ok(heaps)
}

/// Re-ranks each query's candidates by the exact f64 distance (or correlation).
fn refine(
    block: &[f32],
    d: usize,
    train: &dyn TrainSource,
    opts: &KnnOptions,
    heaps: &[TopK],
    out: &mut Neighbours,
) -> Result<()> {
    let rows = CandidateRows::read(train, heaps)?;
    let ranked: Vec<Vec<(f64, usize)>> = heaps
        .par_iter()
        .zip(block.par_chunks(d))
        .map(|(heap, q)| {
            let mut cand: Vec<(f64, usize)> = heap
                .indices()
                .map(|j| {
                    let t = rows.row(j);
                    let key = match opts.metric {
                        Metric::L2 => exact_l2(q, t),
                        Metric::Ncc => -exact_ncc(q, t),
                    };
                    (key, j)
                })
                .collect();
            cand.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            cand.truncate(opts.k);
            cand
        })
        .collect();
    for cand in ranked {
        for (key, j) in cand {
            out.indices.push(j);
            out.values.push(match opts.metric {
                Metric::L2 => key,
                Metric::Ncc => -key,
            });
        }
    }
    Ok(())
}

/// The training models that some query kept as a candidate: borrowed from an in-memory set,
/// or read once from a streamed one.
pub(super) struct CandidateRows<'a> {
    /// Sorted candidate indices (empty when borrowed).
    wanted: Vec<usize>,
    rows: Cow<'a, [f32]>,
    d: usize,
}

impl<'a> CandidateRows<'a> {
    /// The rows of every index in `heaps`.
    pub(super) fn read(train: &'a dyn TrainSource, heaps: &[TopK]) -> Result<Self> {
        let d = train.dim();
        if let Some(all) = train.as_slice() {
            return Ok(CandidateRows {
                wanted: Vec::new(),
                rows: Cow::Borrowed(all),
                d,
            });
        }
        let mut wanted: Vec<usize> = heaps.iter().flat_map(|h| h.indices()).collect();
        wanted.sort_unstable();
        wanted.dedup();
        let rows = Cow::Owned(train.read_rows(&wanted)?);
        Ok(CandidateRows { wanted, rows, d })
    }

    /// Training model `j` (one of the candidates), D values.
    pub(super) fn row(&self, j: usize) -> &[f32] {
        let r = if matches!(self.rows, Cow::Borrowed(_)) {
            j
        } else {
            self.wanted.binary_search(&j).expect("candidate was read")
        };
        &self.rows[r * self.d..(r + 1) * self.d]
    }
}

/// Centres and unit-normalises each row for NCC (constant rows become zero); L2 rows as given
/// (borrowed, not copied).
fn prepare(rows: Cow<'_, [f32]>, d: usize, metric: Metric) -> Cow<'_, [f32]> {
    if metric == Metric::L2 {
        return rows;
    }
    let mut rows = rows.into_owned();
    rows.par_chunks_mut(d).for_each(|r| {
        let mean = r.iter().map(|&v| f64::from(v)).sum::<f64>() / d as f64;
        let ss: f64 = r.iter().map(|&v| (f64::from(v) - mean).powi(2)).sum();
        let scale = if ss > 0.0 { 1.0 / ss.sqrt() } else { 0.0 };
        r.iter_mut()
            .for_each(|v| *v = ((f64::from(*v) - mean) * scale) as f32);
    });
    Cow::Owned(rows)
}

/// alpha · a (m, d) · b (n, d)ᵀ, row-major (m, n), for row-major `a` and `b` with rows of `d`
/// values: one product on `device` (cuBLAS through candle on a GPU).
fn scaled_abt(device: &Device, a: &[f32], b: &[f32], d: usize, alpha: f32) -> Result<Vec<f32>> {
    let (m, n) = (a.len() / d, b.len() / d);
    if device.is_cpu() {
        let mut dst = vec![0.0; m * n];
        gemm_abt(&mut dst, a, b, m, n, d, alpha);
        return Ok(dst);
    }
    let a = Tensor::from_slice(a, (m, d), device)?;
    let b = Tensor::from_slice(b, (n, d), device)?;
    let product = (a.matmul(&b.t()?)? * f64::from(alpha))?;
    Ok(product.flatten_all()?.to_vec1()?)
}

/// dst (m, n) = alpha · a (m, d) · b (n, d)ᵀ, all row-major, with the `gemm` crate's blocked,
/// multithreaded kernels.
fn gemm_abt(dst: &mut [f32], a: &[f32], b: &[f32], m: usize, n: usize, d: usize, alpha: f32) {
    assert!(dst.len() == m * n && a.len() == m * d && b.len() == n * d);
    // SAFETY: the three buffers hold exactly the (m, n), (m, d) and (n, d) row-major matrices
    // described by the strides below, and dst does not alias a or b (it is &mut).
    unsafe {
        gemm::gemm(
            m,
            n,
            d,
            dst.as_mut_ptr(),
            1,
            n as isize,
            false,
            a.as_ptr(),
            1,
            d as isize,
            b.as_ptr(),
            d as isize,
            1,
            0.0,
            alpha,
            false,
            false,
            false,
            gemm::Parallelism::Rayon(0),
        );
    }
}

/// ‖r‖² in f32 with 16 independent partial sums (vectorises).
fn sum_sq(r: &[f32]) -> f32 {
    let mut acc = [0.0f32; 16];
    let mut it = r.chunks_exact(16);
    for c in &mut it {
        for (a, &v) in acc.iter_mut().zip(c) {
            *a += v * v;
        }
    }
    acc.iter().sum::<f32>() + it.remainder().iter().map(|v| v * v).sum::<f32>()
}

/// Exact Euclidean distance in f64 (8 independent partial sums, so it vectorises).
pub fn exact_l2(a: &[f32], b: &[f32]) -> f64 {
    let mut acc = [0.0f64; 8];
    let (mut ia, mut ib) = (a.chunks_exact(8), b.chunks_exact(8));
    for (x, y) in (&mut ia).zip(&mut ib) {
        for ((s, &x), &y) in acc.iter_mut().zip(x).zip(y) {
            let e = f64::from(x) - f64::from(y);
            *s += e * e;
        }
    }
    let tail: f64 = ia
        .remainder()
        .iter()
        .zip(ib.remainder())
        .map(|(&x, &y)| (f64::from(x) - f64::from(y)).powi(2))
        .sum();
    (acc.iter().sum::<f64>() + tail).sqrt()
}

/// Exact normalised cross-correlation in f64 (0 when either model is constant).
pub fn exact_ncc(a: &[f32], b: &[f32]) -> f64 {
    let n = a.len() as f64;
    let ma = a.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
    let mb = b.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
    let (mut ab, mut aa, mut bb) = (0.0, 0.0, 0.0);
    for (&x, &y) in a.iter().zip(b) {
        let (x, y) = (f64::from(x) - ma, f64::from(y) - mb);
        ab += x * y;
        aa += x * x;
        bb += y * y;
    }
    if aa > 0.0 && bb > 0.0 {
        ab / (aa * bb).sqrt()
    } else {
        0.0
    }
}

/// The `cap` smallest keys seen so far, sorted; ties keep the earlier index.
pub(super) struct TopK {
    cap: usize,
    items: Vec<(f32, usize)>,
}

impl TopK {
    fn new(cap: usize) -> Self {
        TopK {
            cap,
            items: Vec::with_capacity(cap + 1),
        }
    }

    #[inline]
    fn push(&mut self, key: f32, idx: usize) {
        if self.items.len() == self.cap && key >= self.items[self.cap - 1].0 {
            return;
        }
        let pos = self.items.partition_point(|e| e.0 <= key);
        self.items.insert(pos, (key, idx));
        self.items.truncate(self.cap);
    }

    /// Training indices of the kept keys, smallest key first.
    pub(super) fn indices(&self) -> impl Iterator<Item = usize> + '_ {
        self.items.iter().map(|e| e.1)
    }
}
