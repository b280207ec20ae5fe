//! The inversion benchmark of the field as one function: every method of a config on every
//! model of a test set under every data condition, scored against the truth, then one table of
//! mean ± std and median per family × condition × method.
//!
//! Layout of the output folder: `results/<part>.jsonl` (one [`Record`] per inversion; `all`,
//! or `shard-I-of-N` for a shard), `models/` (each result, truth and start, m/s: [`model_file`]), and what [`table`] writes from every record found. Finished inversions are
//! skipped on a rerun, so an interrupted or sharded benchmark resumes and merges by running
//! the same command again.

pub mod config;
pub mod invert;
pub mod plots;
pub mod table;

use std::io::Write;
use std::path::{Path, PathBuf};

use candle_core::Device;
use serde::{Deserialize, Serialize};
use velprior_data::import::read_models;
use velprior_data::synth::{SynthSpec, generate};
use velprior_data::{Shard, item_seed, write_npy};
use velprior_physics::fwi::smooth::gaussian_smooth;
use velprior_physics::{Degradation, ModelShape, simulate, velocity_metrics};

pub use config::BenchmarkConfig;
use invert::{Inverter, Scores};

use crate::{PosteriorError, Result};

/// One finished inversion (a line of `results/*.jsonl`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub family: String,
    /// Index of the model within its family.
    pub model: usize,
    pub condition: String,
    pub method: String,
    /// SSIM of the start model (the same for every method).
    pub start_ssim: f64,
    #[serde(flatten)]
    pub scores: Scores,
}

impl Record {
    fn key(&self) -> (String, usize, String, String) {
        (
            self.family.clone(),
            self.model,
            self.condition.clone(),
            self.method.clone(),
        )
    }
}

/// A benchmark ready to run: its config checked, its priors loaded and its test set made.
pub struct Benchmark<'a> {
    cfg: &'a BenchmarkConfig,
    inverters: Vec<Inverter<'a>>,
    /// (family name, its models (m/s) concatenated).
    families: Vec<(String, Vec<f32>)>,
}

impl<'a> Benchmark<'a> {
    /// Checks `cfg`, loads every prior (networks onto `device`) and generates the test set,
    /// before anything is written: a wrong path fails now, not after an hour.
    pub fn prepare(cfg: &'a BenchmarkConfig, device: &Device) -> Result<Benchmark<'a>> {
        cfg.check()?;
        let inverters = cfg
            .method
            .iter()
            .map(|m| Inverter::load(m, device))
            .collect::<Result<Vec<_>>>()?;
        let t = &cfg.test_set;
        // One model's data must fit before any is simulated (an absurd nt aborted the process).
        let acq = cfg.acquisition.build(t.size[1], cfg.solver.dt);
        let receivers = acq.shots.first().map_or(1, |s| s.receivers.len().max(1));
        velprior_data::memory::check_models_fit(
            "seismic data of one model (shots·nt x receivers)",
            1,
            acq.data_len() / receivers,
            receivers,
            "use fewer time steps (acquisition.nt) or shots",
        )?;
        let names = t.names();
        let mut families = Vec::new();
        for (k, &family) in t.families.iter().enumerate() {
            let spec = SynthSpec {
                shape: Some(t.size),
                spacing: f64::from(cfg.solver.dx),
                ..SynthSpec::new(family, t.models, t.seed.wrapping_add(k as u64))
            };
            families.push((names[k].clone(), generate(&spec)?.into_velocity()));
        }
        for (path, name) in t.files.iter().zip(&names[t.families.len()..]) {
            let (n, size, values) = read_models(path)?;
            if size != t.size || n < t.models {
                return Err(PosteriorError::invalid(format!(
                    "test_set.files: {} holds {n} models of {}x{}; the test set needs {} of {}x{}",
                    path.display(),
                    size[0],
                    size[1],
                    t.models,
                    t.size[0],
                    t.size[1]
                )));
            }
            families.push((
                name.clone(),
                values[..t.models * size[0] * size[1]].to_vec(),
            ));
        }
        Ok(Benchmark {
            cfg,
            inverters,
            families,
        })
    }

    /// Runs the inversions (those of `shard` only, when given) that `out` does not hold yet;
    /// `progress(done, total)` hears each one. Returns every record in `out` afterwards.
    pub fn run(
        &self,
        out: &Path,
        shard: Option<Shard>,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<Vec<Record>> {
        let (cfg, families) = (self.cfg, &self.families);
        let t = &cfg.test_set;
        let shape = ModelShape::new(t.size[0], t.size[1]);
        let total_models = families.len() * t.models;
        let items = shard.map_or(0..total_models, |s| s.range(total_models));

        let results = out.join("results");
        std::fs::create_dir_all(&results).map_err(|e| io(&results, e))?;
        std::fs::create_dir_all(out.join("models")).map_err(|e| io(out, e))?;
        let part = results.join(match shard {
            Some(s) => format!("{}.jsonl", s.dir_name()),
            None => "all.jsonl".into(),
        });
        end_last_line(&part)?;
        let done: std::collections::HashSet<_> =
            read_records(out)?.iter().map(Record::key).collect();
        let total = items.len() * cfg.condition.len() * cfg.method.len();
        let mut finished = 0;
        for item in items {
            let (family, models) = &families[item / t.models];
            let i = item % t.models;
            let truth = &models[i * shape.len()..(i + 1) * shape.len()];
            let start = gaussian_smooth(truth, shape, cfg.smooth_sigma);
            let start_ssim = velocity_metrics(&start, truth, shape)?.ssim;
            for (what, model) in [("truth", truth), ("start", &start[..])] {
                let name = model_file(&[family, &i.to_string(), what]);
                write_npy(&out.join("models").join(name), &[shape.nz, shape.nx], model)?;
            }
            let acq = cfg.acquisition.build(shape.nx, cfg.solver.dt);
            for condition in &cfg.condition {
                let degradation = Degradation {
                    noise: condition.noise()?,
                    dead_traces: condition.drop_traces,
                    seed: t.seed,
                };
                let mut observed = None;
                for (method, inverter) in cfg.method.iter().zip(&self.inverters) {
                    let key = (
                        family.clone(),
                        i,
                        condition.name.clone(),
                        method.name.clone(),
                    );
                    if !done.contains(&key) {
                        if observed.is_none() {
                            observed = Some(simulate(
                                truth,
                                shape,
                                &cfg.solver,
                                &acq,
                                &degradation,
                                item,
                            )?);
                        }
                        let d = observed.as_deref().unwrap_or_default();
                        let seed = item_seed(t.seed, item);
                        let r = inverter.invert(cfg, shape, truth, &start, d, seed)?;
                        let name =
                            model_file(&[family, &i.to_string(), &condition.name, &method.name]);
                        write_npy(
                            &out.join("models").join(name),
                            &[shape.nz, shape.nx],
                            &r.model,
                        )?;
                        append(
                            &part,
                            &Record {
                                family: family.clone(),
                                model: i,
                                condition: condition.name.clone(),
                                method: method.name.clone(),
                                start_ssim,
                                scores: r.scores,
                            },
                        )?;
                    }
                    finished += 1;
                    progress(finished, total);
                }
            }
        }
        read_records(out)
    }
}

/// Every record under `out/results/` (all parts), the first of any repeated inversion.
pub fn read_records(out: &Path) -> Result<Vec<Record>> {
    let dir = out.join("results");
    let mut parts: Vec<PathBuf> = match std::fs::read_dir(&dir) {
        Ok(entries) => entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
            .collect(),
        Err(_) => return Ok(Vec::new()),
    };
    parts.sort();
    let mut seen = std::collections::HashSet::new();
    let mut records = Vec::new();
    for part in parts {
        let text = std::fs::read_to_string(&part).map_err(|e| io(&part, e))?;
        // A line cut by a kill is not a record: the inversion reruns.
        for line in text.lines() {
            if let Ok(r) = serde_json::from_str::<Record>(line)
                && seen.insert(r.key())
            {
                records.push(r);
            }
        }
    }
    Ok(records)
}

/// Appends one record as a whole line (written in one call, then synced).
fn append(path: &Path, record: &Record) -> Result<()> {
    let mut line = serde_json::to_string(record)
        .map_err(|e| PosteriorError::invalid(format!("record: {e}")))?;
    line.push('\n');
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| io(path, e))?;
    f.write_all(line.as_bytes())
        .and_then(|_| f.sync_data())
        .map_err(|e| io(path, e))
}

/// Ends a line that a kill cut short, so that the next record starts on its own line.
fn end_last_line(path: &Path) -> Result<()> {
    match std::fs::read(path) {
        Ok(bytes) if bytes.last().is_some_and(|&b| b != b'\n') => {
            let mut f = std::fs::OpenOptions::new()
                .append(true)
                .open(path)
                .map_err(|e| io(path, e))?;
            f.write_all(b"\n").map_err(|e| io(path, e))
        }
        _ => Ok(()),
    }
}

/// The file under `models/` of a result (`[family, index, condition, method]`) or of a model's
/// truth or start (`[family, index, "truth" | "start"]`): the parts joined by '-', each with
/// letters, digits, '.' and '_' kept and anything else made '-'.
pub fn model_file(parts: &[&str]) -> String {
    let safe: Vec<String> = parts.iter().map(|p| file_safe(p)).collect();
    format!("{}.npy", safe.join("-"))
}

fn file_safe(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

fn io(path: &Path, e: std::io::Error) -> PosteriorError {
    PosteriorError::invalid(format!("{}: {e}", path.display()))
}
