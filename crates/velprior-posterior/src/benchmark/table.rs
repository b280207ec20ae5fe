//! The benchmark's table: per family × condition × method, the mean ± std (sample std, n − 1)
//! and median of each score over the models, as Markdown, CSV and JSON.

use serde::Serialize;

use super::Record;

/// Mean, sample std (0 for one value) and median.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Stat {
    pub mean: f64,
    pub std: f64,
    pub median: f64,
}

impl Stat {
    /// Of `values`; `None` when empty.
    pub fn of(values: &[f64]) -> Option<Stat> {
        if values.is_empty() {
            return None;
        }
        let n = values.len() as f64;
        let mean = values.iter().sum::<f64>() / n;
        let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        let m = sorted.len() / 2;
        let median = if sorted.len() % 2 == 1 {
            sorted[m]
        } else {
            0.5 * (sorted[m - 1] + sorted[m])
        };
        Some(Stat {
            mean,
            std: var.sqrt(),
            median,
        })
    }
}

/// One row: a method on one family under one condition.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub family: String,
    pub condition: String,
    pub method: String,
    pub models: usize,
    pub ssim: Stat,
    pub mae: Stat,
    pub rmse: Stat,
    pub relative_residual: Stat,
    pub wall_s: Stat,
    pub cpu_s: Stat,
    /// Samplers only.
    pub within_2sigma: Option<Stat>,
    pub crps: Option<Stat>,
}

/// The rows of `records`, in the order families, conditions and methods first appear.
pub fn rows(records: &[Record]) -> Vec<Row> {
    let order = |f: fn(&Record) -> &String| {
        let mut seen: Vec<&String> = Vec::new();
        for r in records {
            if !seen.contains(&f(r)) {
                seen.push(f(r));
            }
        }
        seen
    };
    let mut rows = Vec::new();
    for family in order(|r| &r.family) {
        for condition in order(|r| &r.condition) {
            for method in order(|r| &r.method) {
                let group: Vec<&Record> = records
                    .iter()
                    .filter(|r| {
                        &r.family == family && &r.condition == condition && &r.method == method
                    })
                    .collect();
                let stat = |f: fn(&Record) -> f64| {
                    Stat::of(&group.iter().map(|r| f(r)).collect::<Vec<_>>())
                };
                let Some(ssim) = stat(|r| r.scores.ssim) else {
                    continue;
                };
                let coverage: Vec<f64> = group
                    .iter()
                    .filter_map(|r| r.scores.within_2sigma)
                    .collect();
                let crps: Vec<f64> = group.iter().filter_map(|r| r.scores.crps).collect();
                rows.push(Row {
                    family: family.clone(),
                    condition: condition.clone(),
                    method: method.clone(),
                    models: group.len(),
                    ssim,
                    mae: stat(|r| r.scores.mae).unwrap_or(ssim),
                    rmse: stat(|r| r.scores.rmse).unwrap_or(ssim),
                    relative_residual: stat(|r| r.scores.relative_residual).unwrap_or(ssim),
                    wall_s: stat(|r| r.scores.wall_s).unwrap_or(ssim),
                    cpu_s: stat(|r| r.scores.cpu_s).unwrap_or(ssim),
                    within_2sigma: Stat::of(&coverage),
                    crps: Stat::of(&crps),
                });
            }
        }
    }
    rows
}

/// The table in Markdown: SSIM, MAE, RMSE as mean ± std (median), the data residual, the
/// wall and CPU time per inversion, and the samplers' ±2σ coverage and CRPS.
pub fn markdown(rows: &[Row]) -> String {
    let f = |s: &Stat| format!("{:.3} ± {:.3} ({:.3})", s.mean, s.std, s.median);
    let mut out = String::from(
        "| family | condition | method | models | SSIM | MAE | RMSE | data residual | wall / CPU per inversion | ±2σ coverage | CRPS (m/s) |\n\
         |---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for r in rows {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {:.3} | {:.1} / {:.1} s | {} | {} |\n",
            r.family,
            r.condition,
            r.method,
            r.models,
            f(&r.ssim),
            f(&r.mae),
            f(&r.rmse),
            r.relative_residual.median,
            r.wall_s.mean,
            r.cpu_s.mean,
            r.within_2sigma
                .map_or(String::new(), |c| format!("{:.3}", c.mean)),
            r.crps.map_or(String::new(), |c| format!("{:.1}", c.mean)),
        ));
    }
    out
}

/// The table as CSV, one column per statistic.
pub fn csv(rows: &[Row]) -> String {
    let mut out = String::from("family,condition,method,models");
    for score in [
        "ssim",
        "mae",
        "rmse",
        "relative_residual",
        "wall_s",
        "within_2sigma",
    ] {
        for stat in ["mean", "std", "median"] {
            out.push_str(&format!(",{score}_{stat}"));
        }
    }
    out.push('\n');
    let quote = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
    for r in rows {
        out.push_str(&format!(
            "{},{},{},{}",
            quote(&r.family),
            quote(&r.condition),
            quote(&r.method),
            r.models
        ));
        for s in [
            Some(r.ssim),
            Some(r.mae),
            Some(r.rmse),
            Some(r.relative_residual),
            Some(r.wall_s),
            Some(r.cpu_s),
            r.within_2sigma,
            r.crps,
        ] {
            match s {
                Some(s) => out.push_str(&format!(",{},{},{}", s.mean, s.std, s.median)),
                None => out.push_str(",,,"),
            }
        }
        out.push('\n');
    }
    out
}
