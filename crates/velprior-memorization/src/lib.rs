//! Memorization diagnostics: does a prior (or its posterior) copy its training models?
//! Exact nearest neighbours in the training set, the ratio criteria of Gu et al. and
//! Siahkoohi & Sabeddu, reports with pictures, training-set-size sweeps and self-consuming
//! loops; and [`evaluate`], how close a prior's samples are to held-out real models.

pub mod criteria;
pub mod error;
pub mod evaluate;
pub mod knn;
pub mod mad;
pub mod mann_whitney;
pub mod precision_recall;
pub mod report;
pub mod source;
pub mod sweep;

pub use criteria::{CriteriaSummary, SampleCriteria, criteria, neighbours_needed, summarise};
pub use error::{MemorizationError, Result};
pub use knn::{KnnOptions, Metric, Neighbours, knn};
pub use mann_whitney::{MannWhitney, mann_whitney};
pub use precision_recall::{PrecisionRecall, precision_recall};
pub use report::{Assessment, MemorizationReport, SampleRecord, assess, write_report};
pub use source::{Hdf5Source, InMemory, TrainSource};
