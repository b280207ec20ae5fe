//! Run folders under the dashboard's root: discovery, and what one run holds.
//!
//! A run folder is any folder (up to [`MAX_DEPTH`] below the root) holding one of the files
//! every velprior command writes: a config, a metrics log or a summary. Anything missing or
//! unreadable becomes a warning on the page, never an error.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::metrics::{MetricSeries, flatten};

/// How deep below the root run folders are looked for.
pub const MAX_DEPTH: usize = 3;
/// Files whose presence makes a folder a run folder.
const MARKERS: [&str; 4] = [
    "config.toml",
    "config.json",
    "metrics.jsonl",
    "summary.json",
];
/// How many headline numbers a run shows in the list.
const HEADLINE_LEN: usize = 6;

/// One file of a run, by its path relative to the root (`/`-separated) and size in bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct RunFile {
    /// Path relative to the dashboard root, `/`-separated.
    pub rel: String,
    /// Size in bytes.
    pub bytes: u64,
}

/// Everything the pages show about one run folder.
#[derive(Debug, Clone)]
pub struct Run {
    /// Path of the folder relative to the root, `/`-separated: the run's id in URLs.
    pub id: String,
    /// What produced it (`train`, `fwi`, `posterior`, …), from its config or its files.
    pub kind: String,
    /// Last modification of the folder's newest file.
    pub modified: SystemTime,
    /// The config file's name and text, when there is one.
    pub config: Option<(String, String)>,
    /// Headline numbers: the summary's, else the last metrics line's.
    pub headline: Vec<(String, f64)>,
    /// All numbers of `summary.json`, flattened.
    pub summary: Vec<(String, f64)>,
    /// The metrics log's series.
    pub metrics: MetricSeries,
    /// Pictures (PNG, GIF, SVG) in the folder.
    pub images: Vec<RunFile>,
    /// Other files (HDF5, checkpoints, JSON, …).
    pub files: Vec<RunFile>,
    /// What is missing or broken, in words.
    pub warnings: Vec<String>,
}

/// Every run folder under `root`, newest first.
pub fn discover(root: &Path) -> Vec<Run> {
    let mut found = Vec::new();
    walk(root, root, 0, &mut found);
    let mut runs: Vec<Run> = found.iter().map(|d| load(root, d)).collect();
    runs.sort_by(|a, b| b.modified.cmp(&a.modified).then(a.id.cmp(&b.id)));
    runs
}

fn walk(root: &Path, dir: &Path, depth: usize, out: &mut Vec<PathBuf>) {
    if dir != root && MARKERS.iter().any(|m| dir.join(m).is_file()) {
        out.push(dir.to_path_buf());
    }
    if depth >= MAX_DEPTH {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut subdirs: Vec<PathBuf> = entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path())
        .collect();
    subdirs.sort();
    for d in subdirs {
        walk(root, &d, depth + 1, out);
    }
}

/// The run folder `id` (relative to `root`), if it is one.
pub fn find(root: &Path, id: &str) -> Option<Run> {
    let dir = crate::files::resolve(root, id).ok()?;
    (dir.is_dir() && MARKERS.iter().any(|m| dir.join(m).is_file())).then(|| load(root, &dir))
}

fn rel(root: &Path, p: &Path) -> String {
    p.strip_prefix(root)
        .unwrap_or(p)
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

fn load(root: &Path, dir: &Path) -> Run {
    let mut warnings = Vec::new();
    let mut images = Vec::new();
    let mut files = Vec::new();
    let mut modified = SystemTime::UNIX_EPOCH;
    let mut names: Vec<(String, std::fs::Metadata)> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            Some((
                e.file_name().to_string_lossy().into_owned(),
                e.metadata().ok()?,
            ))
        })
        .filter(|(_, m)| m.is_file())
        .collect();
    names.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, meta) in &names {
        modified = modified.max(meta.modified().unwrap_or(SystemTime::UNIX_EPOCH));
        let f = RunFile {
            rel: rel(root, &dir.join(name)),
            bytes: meta.len(),
        };
        let lower = name.to_ascii_lowercase();
        if lower.contains(".tmp") || lower.starts_with(".tmp") {
            warnings.push(format!(
                "{name}: a temporary file — a write was interrupted or is still going"
            ));
        }
        if [".png", ".gif", ".svg"].iter().any(|e| lower.ends_with(e)) {
            images.push(f);
        } else {
            files.push(f);
        }
    }
    let config = ["config.toml", "config.json"]
        .iter()
        .find_map(|n| Some((n.to_string(), std::fs::read_to_string(dir.join(n)).ok()?)));
    if config.is_none() {
        warnings.push("no config.toml or config.json: the run's settings are unknown".into());
    }
    let metrics = match std::fs::read_to_string(dir.join("metrics.jsonl")) {
        Ok(text) => MetricSeries::parse(&text),
        Err(_) => MetricSeries::default(),
    };
    for (line, why) in &metrics.bad_lines {
        warnings.push(format!(
            "metrics.jsonl line {line} unreadable ({why}): the run may still be writing or was killed"
        ));
    }
    let summary = read_summary(dir, &mut warnings);
    let headline = if summary.is_empty() {
        metrics.last_values()
    } else {
        summary.clone()
    }
    .into_iter()
    .take(HEADLINE_LEN)
    .collect();
    if summary.is_empty() && metrics.series.is_empty() {
        warnings.push("no summary.json and no metrics yet: the run has not finished a step".into());
    }
    Run {
        id: rel(root, dir),
        kind: kind_of(config.as_ref(), &names),
        modified,
        config,
        headline,
        summary,
        metrics,
        images,
        files,
        warnings,
    }
}

fn read_summary(dir: &Path, warnings: &mut Vec<String>) -> Vec<(String, f64)> {
    let Ok(text) = std::fs::read_to_string(dir.join("summary.json")) else {
        return Vec::new();
    };
    match serde_json::from_str::<serde_json::Value>(&text) {
        Ok(serde_json::Value::Object(map)) => {
            let mut out = Vec::new();
            flatten("", &map, &mut out);
            out
        }
        _ => {
            warnings.push("summary.json is not a readable JSON object (half-written?)".into());
            Vec::new()
        }
    }
}

/// The kind of run: a `kind` or `command` key of its config, else guessed from its files.
fn kind_of(config: Option<&(String, String)>, files: &[(String, std::fs::Metadata)]) -> String {
    if let Some((name, text)) = config {
        let value = if name.ends_with(".toml") {
            toml::from_str::<toml::Table>(text).ok().and_then(|t| {
                ["kind", "command"]
                    .iter()
                    .find_map(|k| t.get(*k)?.as_str().map(String::from))
            })
        } else {
            serde_json::from_str::<serde_json::Value>(text)
                .ok()
                .and_then(|v| {
                    ["kind", "command"]
                        .iter()
                        .find_map(|k| v.get(*k)?.as_str().map(String::from))
                })
        };
        if let Some(v) = value {
            return v;
        }
    }
    let has = |n: &str| files.iter().any(|(f, _)| f == n);
    let guess = if has("checkpoint.safetensors") {
        "train"
    } else if has("result.h5") {
        "fwi"
    } else if has("posterior_samples.h5") || has("posterior.h5") {
        "posterior"
    } else if has("neighbours.json") || has("memorization.json") {
        "memorization"
    } else if has("samples.h5") {
        "sample"
    } else {
        "run"
    };
    guess.to_string()
}
