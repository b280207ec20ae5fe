//! One memorization assessment of generated models against a training set (and optionally
//! held-out real models): nearest neighbours, criteria, NCC, the Mann–Whitney comparison of
//! d1, and the run-folder outputs (JSON, d1 histogram, sample | 1st NN | 2nd NN grid).

use candle_core::Device;
use image::RgbImage;
use serde::Serialize;
use velprior_data::render::{RenderOptions, render_grid, save_png};
use velprior_data::{Normalisation, RunDir};

use super::criteria::{
    CriteriaSummary, SampleCriteria, criteria, median, neighbours_needed, summarise,
};
use super::knn::{KnnOptions, Metric, knn};
use super::mann_whitney::{MannWhitney, mann_whitney};
use super::source::TrainSource;
use crate::error::{MemorizationError, Result};
use velprior_data::render::charts::histogram;

/// What to assess: models row-major (M, H·W) in normalised units.
pub struct Assessment<'a> {
    /// Generated models (prior or posterior samples).
    pub samples: &'a [f32],
    /// Held-out real models, the reference for d1.
    pub test: Option<&'a [f32]>,
    /// Training set.
    pub train: &'a dyn TrainSource,
    /// Model shape (H, W).
    pub shape: [usize; 2],
    /// Where the searches run their matrix products.
    pub device: &'a Device,
}

/// Everything a memorization run reports.
#[derive(Debug, Clone, Serialize)]
pub struct MemorizationReport {
    /// Training models N.
    pub train_models: usize,
    /// Criteria summary of the generated models.
    pub samples: CriteriaSummary,
    /// Criteria summary of the held-out models (what "not memorised" looks like).
    pub test: Option<CriteriaSummary>,
    /// d1 of generated against d1 of held-out models.
    pub d1_mann_whitney: Option<MannWhitney>,
    /// Median over generated models of the largest NCC with a training model.
    pub ncc1_median: f64,
    /// Median of the same for held-out models.
    pub test_ncc1_median: Option<f64>,
    /// Per generated model: criteria and largest NCC.
    pub per_sample: Vec<SampleRecord>,
    /// Per held-out model: d1.
    pub test_d1: Vec<f64>,
}

/// One generated model's line in the report.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct SampleRecord {
    /// Distance criteria.
    #[serde(flatten)]
    pub criteria: SampleCriteria,
    /// Largest NCC with a training model.
    pub ncc1: f64,
}

/// Runs the searches and criteria (k = min(50, N) L2 neighbours and the top NCC neighbour).
pub fn assess(a: &Assessment) -> Result<MemorizationReport> {
    let n = a.train.len();
    let k = neighbours_needed(n);
    let assess_one = |models: &[f32]| -> Result<(Vec<SampleCriteria>, Vec<f64>)> {
        let nn = knn(
            models,
            a.train,
            &KnnOptions::new(k, Metric::L2).on(a.device),
        )?;
        let ncc = knn(
            models,
            a.train,
            &KnnOptions::new(1, Metric::Ncc).on(a.device),
        )?;
        Ok((criteria(&nn)?, ncc.values))
    };
    let (per, ncc) = assess_one(a.samples)?;
    if per.is_empty() {
        return Err(MemorizationError::invalid(
            "memorization needs at least one generated model",
        ));
    }
    let test = a.test.map(assess_one).transpose()?;
    let d1: Vec<f64> = per.iter().map(|c| c.d1).collect();
    let test_d1: Vec<f64> = test.iter().flat_map(|t| t.0.iter().map(|c| c.d1)).collect();
    Ok(MemorizationReport {
        train_models: n,
        samples: summarise(&per, k),
        test: test.as_ref().map(|t| summarise(&t.0, k)),
        d1_mann_whitney: if test_d1.is_empty() {
            None
        } else {
            Some(mann_whitney(&d1, &test_d1)?)
        },
        ncc1_median: median(&ncc),
        test_ncc1_median: test.as_ref().map(|t| median(&t.1)),
        per_sample: per
            .iter()
            .zip(&ncc)
            .map(|(&criteria, &ncc1)| SampleRecord { criteria, ncc1 })
            .collect(),
        test_d1,
    })
}

/// Writes `report.json`, `d1_histogram.png` and `neighbours.png` (the `rows` generated models
/// with the smallest d1/d2 beside their two nearest training models, in m/s) into `run`.
pub fn write_report(
    run: &RunDir,
    report: &MemorizationReport,
    a: &Assessment,
    norm: Normalisation,
    rows: usize,
) -> Result<()> {
    run.write_json("report.json", report)?;
    let mut hist = vec![(
        "generated".to_string(),
        report.per_sample.iter().map(|r| r.criteria.d1).collect(),
    )];
    if !report.test_d1.is_empty() {
        hist.push(("held-out real".to_string(), report.test_d1.clone()));
    }
    let img = histogram(
        "distance to nearest training model (d1)",
        "d1 (normalised units)",
        &hist,
        30,
    );
    save_png(&run.path("d1_histogram.png"), &img)?;
    save_png(
        &run.path("neighbours.png"),
        &neighbour_grid(report, a, norm, rows)?,
    )?;
    Ok(())
}

/// Grid of rows (sample, 1st NN, 2nd NN) with indices and distances as captions.
pub fn neighbour_grid(
    report: &MemorizationReport,
    a: &Assessment,
    norm: Normalisation,
    rows: usize,
) -> Result<RgbImage> {
    let d = a.shape[0] * a.shape[1];
    let mut order: Vec<usize> = (0..report.per_sample.len()).collect();
    order.sort_by(|&i, &j| {
        report.per_sample[i]
            .criteria
            .ratio
            .total_cmp(&report.per_sample[j].criteria.ratio)
    });
    order.truncate(rows.max(1));
    let mut models = Vec::with_capacity(order.len() * 3 * d);
    let mut captions = Vec::new();
    for &i in &order {
        let c = report.per_sample[i].criteria;
        models.extend_from_slice(&a.samples[i * d..(i + 1) * d]);
        models.extend(a.train.read_rows(&[c.nn1, c.nn2])?);
        captions.push(format!("sample {i} r={:.2}", c.ratio));
        captions.push(format!("1st #{} d={:.3}", c.nn1, c.d1));
        captions.push(format!("2nd #{} d={:.3}", c.nn2, c.d2));
    }
    norm.denormalise(&mut models);
    let options = RenderOptions {
        title: Some("sample | nearest | second-nearest training model".into()),
        range: Some((norm.vmin, norm.vmax)),
        ..RenderOptions::default()
    };
    Ok(render_grid(
        &models,
        [order.len() * 3, a.shape[0], a.shape[1]],
        3,
        &options,
        Some(&captions),
    )?)
}
