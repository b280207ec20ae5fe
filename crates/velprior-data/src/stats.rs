//! Corpus statistics: min, max, mean, standard deviation and a histogram of velocities,
//! accumulated in f64 over streamed batches.

use serde::Serialize;

use crate::CorpusReader;
use crate::Result;

/// Summary statistics of velocities (m/s).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CorpusStats {
    /// Number of models.
    pub models: usize,
    /// Minimum velocity, m/s.
    pub min: f64,
    /// Maximum velocity, m/s.
    pub max: f64,
    /// Mean velocity, m/s.
    pub mean: f64,
    /// Standard deviation, m/s.
    pub std: f64,
    /// Histogram bin edges, m/s (bins + 1 values).
    pub bin_edges: Vec<f64>,
    /// Counts per bin.
    pub counts: Vec<u64>,
}

/// Accumulates statistics over batches in two passes: first [`StatsBuilder::add_range`]
/// for min/max/mean/std, then [`StatsBuilder::add_histogram`] once the range is known.
#[derive(Debug, Clone)]
pub struct StatsBuilder {
    models: usize,
    count: u64,
    sum: f64,
    sum_sq: f64,
    min: f64,
    max: f64,
    counts: Vec<u64>,
}

impl StatsBuilder {
    /// An empty builder with `bins` histogram bins.
    pub fn new(bins: usize) -> Self {
        StatsBuilder {
            models: 0,
            count: 0,
            sum: 0.0,
            sum_sq: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            counts: vec![0; bins.max(1)],
        }
    }

    /// First pass: adds a batch of `models` models' velocities.
    pub fn add_range(&mut self, velocity: &[f32], models: usize) {
        self.models += models;
        for &v in velocity {
            let v = v as f64;
            self.count += 1;
            self.sum += v;
            self.sum_sq += v * v;
            self.min = self.min.min(v);
            self.max = self.max.max(v);
        }
    }

    /// Second pass: bins a batch into the histogram over [min, max].
    pub fn add_histogram(&mut self, velocity: &[f32]) {
        let bins = self.counts.len();
        let width = (self.max - self.min).max(f64::MIN_POSITIVE);
        for &v in velocity {
            let k = (((v as f64 - self.min) / width) * bins as f64) as usize;
            self.counts[k.min(bins - 1)] += 1;
        }
    }

    /// The finished statistics.
    pub fn finish(self) -> CorpusStats {
        let n = self.count.max(1) as f64;
        let mean = self.sum / n;
        let var = (self.sum_sq / n - mean * mean).max(0.0);
        let bins = self.counts.len();
        let bin_edges = (0..=bins)
            .map(|k| self.min + (self.max - self.min) * k as f64 / bins as f64)
            .collect();
        CorpusStats {
            models: self.models,
            min: self.min,
            max: self.max,
            mean,
            std: var.sqrt(),
            bin_edges,
            counts: self.counts,
        }
    }
}

/// Models read per batch when streaming a corpus.
const STREAM_BATCH: usize = 256;

/// The statistics of a corpus with a 10-bin histogram, streamed twice (range and moments,
/// then the histogram) so that memory holds one batch.
pub fn corpus_stats(reader: &CorpusReader) -> Result<CorpusStats> {
    let mut builder = StatsBuilder::new(10);
    let n = reader.len();
    for pass in 0..2 {
        for start in (0..n).step_by(STREAM_BATCH) {
            let count = STREAM_BATCH.min(n - start);
            let batch = reader.read_range(start, count)?;
            if pass == 0 {
                builder.add_range(&batch, count)
            } else {
                builder.add_histogram(&batch)
            }
        }
    }
    Ok(builder.finish())
}

/// The range and moments on one line, then the histogram as bars of `#`.
impl std::fmt::Display for CorpusStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "velocity   min {:.1}  max {:.1}  mean {:.1}  std {:.1} m/s",
            self.min, self.max, self.mean, self.std
        )?;
        let peak = self.counts.iter().copied().max().unwrap_or(1).max(1);
        for (k, &c) in self.counts.iter().enumerate() {
            let bar = "#".repeat((40 * c / peak) as usize);
            writeln!(
                f,
                "  {:7.0}-{:7.0} {bar} {c}",
                self.bin_edges[k],
                self.bin_edges[k + 1]
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_of_known_values() {
        let v = [1.0f32, 2.0, 3.0, 4.0];
        let mut b = StatsBuilder::new(2);
        b.add_range(&v, 1);
        b.add_histogram(&v);
        let s = b.finish();
        assert_eq!((s.min, s.max, s.mean), (1.0, 4.0, 2.5));
        assert!((s.std - 1.25f64.sqrt()).abs() < 1e-12);
        assert_eq!(s.counts, vec![2, 2]);
    }
}
