//! Velocity-model corpora for velprior: HDF5 I/O, importers, synthetic generators,
//! normalisation, statistics and rendering.
//!
//! Velocity models are f32 in m/s with shape (N, H, W): H depth samples (z), W lateral
//! samples (x), row-major, z first.

pub mod atomic;
pub mod corpus;
pub mod error;
pub mod hdf5_io;
pub mod import;
pub mod memory;
pub mod normalise;
pub mod render;
pub mod run_dir;
pub mod shard;
pub mod shard_set;
pub mod split;
pub mod stats;
pub mod synth;
pub mod toml_file;
pub mod transform;
pub mod write_npy;
pub mod write_seismic;

pub use corpus::{Corpus, CorpusMeta, Parameters};
pub use error::{DataError, Result};
pub use hdf5_io::{CorpusReader, CorpusWriter, read_corpus, write_corpus};
pub use normalise::Normalisation;
pub use run_dir::RunDir;
pub use shard::{Shard, ShardManifest, item_seed, shard_dir};
pub use shard_set::ShardSet;
pub use write_npy::write_npy;
pub use write_seismic::{SeismicMeta, write_seismic_h5};
