//! Training sets for nearest-neighbour search, read chunk by chunk in normalised units so
//! that memory stays bounded however many models there are.

use std::path::Path;

use velprior_data::{CorpusReader, Normalisation};

use crate::error::{MemorizationError, Result};

/// A set of N training models of D values each, read in chunks of consecutive models.
pub trait TrainSource {
    /// Number of models N.
    fn len(&self) -> usize;
    /// Values per model D (H·W).
    fn dim(&self) -> usize;
    /// Models `start..start + count`, row-major (count, D), normalised.
    fn read(&self, start: usize, count: usize) -> Result<Vec<f32>>;
    /// The models at `indices` (any order), row-major (len, D), normalised.
    fn read_rows(&self, indices: &[usize]) -> Result<Vec<f32>> {
        let mut out = Vec::with_capacity(indices.len() * self.dim());
        for &i in indices {
            out.extend_from_slice(&self.read(i, 1)?);
        }
        Ok(out)
    }
    /// True when the set holds no model.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// All N models, row-major (N, D), when they are already in memory in search units (lets
    /// the search borrow instead of copying); `None` for streamed sets.
    fn as_slice(&self) -> Option<&[f32]> {
        None
    }
}

/// Models already in memory: row-major (N, D), in the units the search should use.
#[derive(Debug, Clone, Copy)]
pub struct InMemory<'a> {
    data: &'a [f32],
    dim: usize,
}

impl<'a> InMemory<'a> {
    /// Wraps `data` of N·`dim` values.
    pub fn new(data: &'a [f32], dim: usize) -> Result<Self> {
        if dim == 0 || !data.len().is_multiple_of(dim) {
            return Err(MemorizationError::invalid(format!(
                "training set of {} values is not a whole number of models of {dim} values",
                data.len()
            )));
        }
        Ok(InMemory { data, dim })
    }
}

impl TrainSource for InMemory<'_> {
    fn len(&self) -> usize {
        self.data.len() / self.dim
    }

    fn dim(&self) -> usize {
        self.dim
    }

    fn read(&self, start: usize, count: usize) -> Result<Vec<f32>> {
        let (a, b) = (start * self.dim, (start + count) * self.dim);
        self.data.get(a..b).map(<[f32]>::to_vec).ok_or_else(|| {
            MemorizationError::invalid(format!(
                "models {start}..{} requested from a set of {}",
                start + count,
                self.len()
            ))
        })
    }

    fn as_slice(&self) -> Option<&[f32]> {
        Some(self.data)
    }
}

/// An HDF5 corpus streamed from disk (velocities in m/s), normalised as it is read.
pub struct Hdf5Source {
    reader: CorpusReader,
    norm: Normalisation,
}

impl Hdf5Source {
    /// Opens `path` (dataset `velocity` unless named) and normalises with `norm`.
    pub fn open(path: &Path, dataset: Option<&str>, norm: Normalisation) -> Result<Self> {
        Ok(Hdf5Source {
            reader: CorpusReader::open(path, dataset)?,
            norm,
        })
    }

    /// Smallest and largest velocity (m/s) in the corpus at `path`, read `chunk` models at a
    /// time: the default normalisation range when none is given.
    pub fn value_range(path: &Path, dataset: Option<&str>, chunk: usize) -> Result<(f32, f32)> {
        let reader = CorpusReader::open(path, dataset)?;
        let (mut lo, mut hi) = (f32::INFINITY, f32::NEG_INFINITY);
        let mut start = 0;
        while start < reader.len() {
            let c = chunk.max(1).min(reader.len() - start);
            for v in reader.read_range(start, c)? {
                lo = lo.min(v);
                hi = hi.max(v);
            }
            start += c;
        }
        Ok((lo, hi))
    }

    /// Model shape (H, W).
    pub fn model_shape(&self) -> [usize; 2] {
        let [_, h, w] = self.reader.shape();
        [h, w]
    }
}

impl TrainSource for Hdf5Source {
    fn len(&self) -> usize {
        self.reader.len()
    }

    fn dim(&self) -> usize {
        let [h, w] = self.model_shape();
        h * w
    }

    fn read(&self, start: usize, count: usize) -> Result<Vec<f32>> {
        let mut v = self.reader.read_range(start, count)?;
        self.norm.normalise(&mut v);
        Ok(v)
    }

    fn read_rows(&self, indices: &[usize]) -> Result<Vec<f32>> {
        let mut v = self.reader.read_batch(indices)?;
        self.norm.normalise(&mut v);
        Ok(v)
    }
}

/// Reads a corpus of models of `shape` and normalises it; `flag` names it in errors.
pub fn read_normalised(
    path: &Path,
    shape: [usize; 2],
    norm: Normalisation,
    flag: &str,
) -> Result<Vec<f32>> {
    let reader = CorpusReader::open(path, None)?;
    let [n, h, w] = reader.shape();
    if [h, w] != shape {
        return Err(MemorizationError::invalid(format!(
            "{flag} {}: models are {h}x{w} but the training models are {}x{}; compare models \
             of one size",
            path.display(),
            shape[0],
            shape[1]
        )));
    }
    let mut v = reader.read_range(0, n)?;
    norm.normalise(&mut v);
    Ok(v)
}
