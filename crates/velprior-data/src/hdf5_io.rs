//! HDF5 corpora: the schema of DESIGN.md, streaming reads, atomic writes.
//!
//! Schema: dataset `velocity`, f32, shape (N, H, W) in m/s, chunked one model per chunk,
//! shuffled and deflated; attributes `dx`, `dz` (m), `units = "m/s"`, `source`. Optional
//! dataset `parameters` (N, P) f32 with attribute `names` (comma-separated).
//! Readers also accept (N, 1, H, W) and (H, W) datasets, f64 and integer types, and any
//! dataset path the user names.

use std::path::{Path, PathBuf};

use hdf5::types::{TypeDescriptor, VarLenUnicode};
use ndarray::{Array2, Array3, ArrayView3, Ix2, Ix3, s};

use crate::atomic::AtomicPath;
use crate::corpus::{Corpus, CorpusMeta, Parameters, validate_velocities};
use crate::error::{DataError, Result};

/// The default dataset name holding velocities.
pub const VELOCITY_DATASET: &str = "velocity";
/// The dataset holding per-model parameters.
pub const PARAMETERS_DATASET: &str = "parameters";
/// HDF5 signature, found at byte 0 of files written by HDF5 without a user block.
const HDF5_MAGIC: &[u8; 8] = b"\x89HDF\r\n\x1a\n";

/// How the stored array maps onto (N, H, W).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layout {
    /// (H, W): a single model.
    Single,
    /// (N, H, W).
    Stack,
    /// (N, 1, H, W): a channel axis of size one.
    Channel,
}

/// Streaming access to a velocity corpus on disk: reads models by index without loading
/// the whole file.
pub struct CorpusReader {
    path: PathBuf,
    dataset: hdf5::Dataset,
    layout: Layout,
    shape: [usize; 3],
    /// Spacing and provenance read from the attributes (10 m when absent).
    pub meta: CorpusMeta,
    parameters: Option<Parameters>,
}

impl CorpusReader {
    /// Opens `path` and the dataset `dataset` (default `velocity`), checking rank and dtype.
    pub fn open(path: &Path, dataset: Option<&str>) -> Result<Self> {
        let name = dataset.unwrap_or(VELOCITY_DATASET);
        check_is_hdf5(path)?;
        let file = hdf5::File::open(path).map_err(|e| {
            DataError::bad_file(path, format!("cannot be opened as HDF5 ({})", one_line(&e)))
        })?;
        let ds = file.dataset(name).map_err(|_| {
            let found = list_datasets(&file).join(", ");
            DataError::bad_file(
                path,
                format!(
                    "has no dataset '{name}' (datasets found: {}); name the right one with --dataset",
                    if found.is_empty() { "none".to_string() } else { found }
                ),
            )
        })?;
        check_numeric(path, name, &ds)?;
        let dims = ds.shape();
        let (layout, shape) = match dims.as_slice() {
            [h, w] => (Layout::Single, [1, *h, *w]),
            [n, h, w] => (Layout::Stack, [*n, *h, *w]),
            [n, 1, h, w] => (Layout::Channel, [*n, *h, *w]),
            _ => {
                return Err(DataError::bad_file(
                    path,
                    format!(
                        "dataset '{name}' has shape {dims:?}; expected (N, H, W), (N, 1, H, W) \
                         or (H, W) velocities"
                    ),
                ));
            }
        };
        if shape[0] == 0 || shape[1] == 0 || shape[2] == 0 {
            return Err(DataError::bad_file(
                path,
                format!("dataset '{name}' is empty (shape {dims:?}); write at least one model"),
            ));
        }
        let meta = read_meta(path, &ds, &file)?;
        let parameters = read_parameters(path, &file, shape[0])?;
        Ok(CorpusReader {
            path: path.to_path_buf(),
            dataset: ds,
            layout,
            shape,
            meta,
            parameters,
        })
    }

    /// Number of models N.
    pub fn len(&self) -> usize {
        self.shape[0]
    }

    /// True when the corpus holds no model (never, for an opened reader).
    pub fn is_empty(&self) -> bool {
        self.shape[0] == 0
    }

    /// Shape (N, H, W).
    pub fn shape(&self) -> [usize; 3] {
        self.shape
    }

    /// The file being read.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Per-model parameters, when the file has them.
    pub fn parameters(&self) -> Option<&Parameters> {
        self.parameters.as_ref()
    }

    /// Reads models `start..start + count` as row-major (count, H, W), checked finite and > 0.
    pub fn read_range(&self, start: usize, count: usize) -> Result<Vec<f32>> {
        let end = start + count;
        if end > self.shape[0] {
            return Err(DataError::invalid(format!(
                "{}: models {start}..{end} requested but the corpus holds {}",
                self.path.display(),
                self.shape[0]
            )));
        }
        let [_, h, w] = self.shape;
        crate::memory::check_models_fit(
            &self.context(),
            count,
            h,
            w,
            "read fewer models (e.g. --count), cut patches (velprior data import --patch) or use smaller models",
        )?;
        let data: Vec<f32> = match self.layout {
            Layout::Single => self.dataset.read_raw::<f32>().map_err(|e| self.err(e))?,
            Layout::Stack => self.read3(s![start..end, .., ..])?,
            Layout::Channel => {
                let a: Array3<f32> = self
                    .dataset
                    .read_slice(s![start..end, 0, .., ..])
                    .map_err(|e| self.err(e))?;
                a.into_raw_vec_and_offset().0
            }
        };
        validate_velocities(&data, [count, h, w], &self.context())?;
        Ok(data)
    }

    /// Reads the models at `indices` (any order, repeats allowed) as row-major (len, H, W).
    pub fn read_batch(&self, indices: &[usize]) -> Result<Vec<f32>> {
        let [_, h, w] = self.shape;
        crate::memory::check_models_fit(
            &self.context(),
            indices.len(),
            h,
            w,
            "read fewer models (e.g. --count), cut patches (velprior data import --patch) or use smaller models",
        )?;
        let mut out = Vec::with_capacity(indices.len() * h * w);
        for &i in indices {
            out.extend_from_slice(&self.read_range(i, 1)?);
        }
        Ok(out)
    }

    /// Reads the whole corpus into memory.
    pub fn read_all(&self) -> Result<Corpus> {
        let velocity = self.read_range(0, self.shape[0])?;
        let corpus = Corpus::new(velocity, self.shape, self.meta.clone())?;
        match &self.parameters {
            Some(p) => corpus.with_parameters(p.clone()),
            None => Ok(corpus),
        }
    }

    fn read3(
        &self,
        sel: ndarray::SliceInfo<[ndarray::SliceInfoElem; 3], Ix3, Ix3>,
    ) -> Result<Vec<f32>> {
        let a: Array3<f32> = self.dataset.read_slice(sel).map_err(|e| self.err(e))?;
        Ok(a.into_raw_vec_and_offset().0)
    }

    fn err(&self, e: hdf5::Error) -> DataError {
        DataError::bad_file(
            &self.path,
            format!("reading '{}' failed: {}", self.dataset.name(), one_line(&e)),
        )
    }

    fn context(&self) -> String {
        format!("{}:{}", self.path.display(), self.dataset.name())
    }
}

/// Reads a whole corpus from `path` (dataset `velocity` unless named).
pub fn read_corpus(path: &Path, dataset: Option<&str>) -> Result<Corpus> {
    CorpusReader::open(path, dataset)?.read_all()
}

/// Writes a corpus to HDF5 models-at-a-time; the file appears only when [`finish`] succeeds.
///
/// [`finish`]: CorpusWriter::finish
pub struct CorpusWriter {
    target: PathBuf,
    out: AtomicPath,
    file: hdf5::File,
    dataset: hdf5::Dataset,
    shape: [usize; 3],
    written: usize,
}

impl CorpusWriter {
    /// Creates the (temporary) file with an (N, H, W) `velocity` dataset and its attributes.
    pub fn create(path: &Path, shape: [usize; 3], meta: &CorpusMeta) -> Result<Self> {
        let [n, h, w] = shape;
        if n == 0 || h == 0 || w == 0 {
            return Err(DataError::invalid(format!(
                "{}: refusing to write an empty corpus of shape ({n}, {h}, {w})",
                path.display()
            )));
        }
        let out = AtomicPath::new(path)?;
        let e = |err: hdf5::Error| DataError::hdf5(path, err);
        let file = hdf5::File::create(out.temp()).map_err(e)?;
        let dataset = file
            .new_dataset::<f32>()
            .chunk((1, h, w))
            .shuffle()
            .deflate(4)
            .shape((n, h, w))
            .create(VELOCITY_DATASET)
            .map_err(e)?;
        write_attr_f64(&dataset, "dx", meta.dx).map_err(e)?;
        write_attr_f64(&dataset, "dz", meta.dz).map_err(e)?;
        write_attr_str(&dataset, "units", "m/s").map_err(e)?;
        write_attr_str(&dataset, "source", &meta.source).map_err(e)?;
        Ok(CorpusWriter {
            target: path.to_path_buf(),
            out,
            file,
            dataset,
            shape,
            written: 0,
        })
    }

    /// Appends models (row-major (k, H, W), m/s) after those already written.
    pub fn write_models(&mut self, velocity: &[f32]) -> Result<()> {
        let [n, h, w] = self.shape;
        let k = velocity.len() / (h * w);
        if k * h * w != velocity.len() || self.written + k > n {
            return Err(DataError::invalid(format!(
                "{}: {} values do not fit the remaining {} models of ({h}, {w})",
                self.target.display(),
                velocity.len(),
                n - self.written
            )));
        }
        let view = ArrayView3::from_shape((k, h, w), velocity).expect("shape checked above");
        self.dataset
            .write_slice(view, s![self.written..self.written + k, .., ..])
            .map_err(|e| DataError::hdf5(&self.target, e))?;
        self.written += k;
        Ok(())
    }

    /// Stores per-model parameters as the `parameters` dataset.
    pub fn write_parameters(&mut self, params: &Parameters) -> Result<()> {
        let p = params.names.len();
        let arr = Array2::from_shape_vec((self.shape[0], p), params.values.clone())
            .map_err(|_| DataError::invalid("parameters do not match the number of models"))?;
        let e = |err: hdf5::Error| DataError::hdf5(&self.target, err);
        let ds = self
            .file
            .new_dataset_builder()
            .with_data(&arr)
            .create(PARAMETERS_DATASET)
            .map_err(e)?;
        write_attr_str(&ds, "names", &params.names.join(",")).map_err(e)
    }

    /// Checks that every model was written, closes the file and renames it into place.
    pub fn finish(self) -> Result<()> {
        if self.written != self.shape[0] {
            return Err(DataError::invalid(format!(
                "{}: only {} of {} models were written; the file was not created",
                self.target.display(),
                self.written,
                self.shape[0]
            )));
        }
        let CorpusWriter {
            out, file, dataset, ..
        } = self;
        drop(dataset);
        file.close().map_err(|e| DataError::hdf5(out.temp(), e))?;
        out.commit()
    }
}

/// Writes `corpus` to `path` atomically with the velprior schema.
pub fn write_corpus(path: &Path, corpus: &Corpus) -> Result<()> {
    let mut writer = CorpusWriter::create(path, corpus.shape(), &corpus.meta)?;
    writer.write_models(corpus.velocity())?;
    if let Some(params) = &corpus.parameters {
        writer.write_parameters(params)?;
    }
    writer.finish()
}

fn check_is_hdf5(path: &Path) -> Result<()> {
    let mut magic = [0u8; 8];
    let mut file = std::fs::File::open(path).map_err(|e| {
        let hint = if e.kind() == std::io::ErrorKind::NotFound {
            "file not found; check the path"
        } else {
            "cannot be opened"
        };
        DataError::bad_file(path, format!("{hint} ({e})"))
    })?;
    use std::io::Read;
    let n = file.read(&mut magic).map_err(|e| DataError::io(path, e))?;
    if n < 8 || &magic != HDF5_MAGIC {
        return Err(DataError::bad_file(
            path,
            "is not an HDF5 file (no HDF5 signature); import other formats with `velprior data import`",
        ));
    }
    Ok(())
}

fn check_numeric(path: &Path, name: &str, ds: &hdf5::Dataset) -> Result<()> {
    let desc = ds.dtype().and_then(|t| t.to_descriptor()).map_err(|e| {
        DataError::bad_file(
            path,
            format!("dataset '{name}': unreadable type ({})", one_line(&e)),
        )
    })?;
    match desc {
        TypeDescriptor::Float(_) | TypeDescriptor::Integer(_) | TypeDescriptor::Unsigned(_) => {
            Ok(())
        }
        other => Err(DataError::bad_file(
            path,
            format!(
                "dataset '{name}' holds {other:?} values, not numbers; store velocities as float or integer"
            ),
        )),
    }
}

fn read_meta(path: &Path, ds: &hdf5::Dataset, file: &hdf5::File) -> Result<CorpusMeta> {
    let mut meta = CorpusMeta {
        source: path.display().to_string(),
        ..CorpusMeta::default()
    };
    let mut missing = Vec::new();
    for (key, slot) in [("dx", &mut meta.dx), ("dz", &mut meta.dz)] {
        match ds.attr(key).or_else(|_| file.attr(key)) {
            Ok(a) => {
                *slot = a.read_scalar::<f64>().map_err(|e| {
                    DataError::bad_file(
                        path,
                        format!("attribute '{key}' is not a number ({})", one_line(&e)),
                    )
                })?
            }
            Err(_) => missing.push(key),
        }
    }
    if !missing.is_empty() {
        tracing::warn!(
            "{}: no {} attribute; assuming 10 m spacing",
            path.display(),
            missing.join("/")
        );
    }
    if let Ok(a) = ds.attr("source")
        && let Ok(s) = a.read_scalar::<VarLenUnicode>()
    {
        meta.source = s.as_str().to_string();
    }
    if !(meta.dx > 0.0 && meta.dz > 0.0 && meta.dx.is_finite() && meta.dz.is_finite()) {
        return Err(DataError::bad_file(
            path,
            format!(
                "spacing dx = {}, dz = {} m must be positive; fix the attributes",
                meta.dx, meta.dz
            ),
        ));
    }
    Ok(meta)
}

fn read_parameters(path: &Path, file: &hdf5::File, n: usize) -> Result<Option<Parameters>> {
    let Ok(ds) = file.dataset(PARAMETERS_DATASET) else {
        return Ok(None);
    };
    let bad =
        |what: String| DataError::bad_file(path, format!("dataset '{PARAMETERS_DATASET}': {what}"));
    let arr: Array2<f32> = ds.read::<f32, Ix2>().map_err(|e| bad(one_line(&e)))?;
    let names: Vec<String> = match ds
        .attr("names")
        .and_then(|a| a.read_scalar::<VarLenUnicode>())
    {
        Ok(s) => s.as_str().split(',').map(str::to_string).collect(),
        Err(_) => (0..arr.ncols()).map(|j| format!("p{j}")).collect(),
    };
    if arr.nrows() != n || names.len() != arr.ncols() {
        return Err(bad(format!(
            "shape {:?} does not match {n} models with {} names",
            arr.shape(),
            names.len()
        )));
    }
    Ok(Some(Parameters {
        names,
        values: arr.into_raw_vec_and_offset().0,
    }))
}

fn list_datasets(file: &hdf5::File) -> Vec<String> {
    file.member_names().unwrap_or_default()
}

pub(crate) fn write_attr_f64(ds: &hdf5::Dataset, key: &str, value: f64) -> hdf5::Result<()> {
    ds.new_attr::<f64>().create(key)?.write_scalar(&value)
}

pub(crate) fn write_attr_str(ds: &hdf5::Dataset, key: &str, value: &str) -> hdf5::Result<()> {
    let v: VarLenUnicode = value
        .parse()
        .map_err(|e| hdf5::Error::from(format!("{e:?}")))?;
    ds.new_attr::<VarLenUnicode>().create(key)?.write_scalar(&v)
}

fn one_line(e: &impl std::fmt::Display) -> String {
    e.to_string()
        .lines()
        .next()
        .unwrap_or_default()
        .trim()
        .to_string()
}
