//! The shards of one run, gathered for `velprior merge`: every shard present, finished, and of
//! the same run — or an error that names each missing or incomplete shard.

use std::path::{Path, PathBuf};

use crate::error::{DataError, Result};
use crate::hdf5_io::{CorpusReader, CorpusWriter};
use crate::shard::{MANIFEST, Shard, ShardManifest};

/// All N shards of one run, in shard order.
#[derive(Debug, Clone)]
pub struct ShardSet {
    /// Shard `i`'s folder at index `i`.
    pub dirs: Vec<PathBuf>,
    /// Shard `i`'s manifest at index `i` (all complete, same run).
    pub manifests: Vec<ShardManifest>,
}

impl ShardSet {
    /// Gathers shard folders from `inputs`: each is a shard folder (holding `shard.json` or
    /// named `shard-I-of-N`) or a folder of them (`<output>.shards`). Errors when a shard is
    /// missing, unfinished, duplicated or of another run, naming every such shard.
    pub fn collect(inputs: &[PathBuf]) -> Result<ShardSet> {
        let mut found: Vec<(PathBuf, Option<ShardManifest>)> = Vec::new();
        for input in inputs {
            if is_shard_dir(input) {
                found.push((input.clone(), read_if_present(input)?));
                continue;
            }
            if !input.is_dir() {
                return Err(DataError::invalid(format!(
                    "{}: no such folder; pass the `<output>.shards` folder the sharded runs \
                     wrote, or its shard-I-of-N folders",
                    input.display()
                )));
            }
            let entries = std::fs::read_dir(input).map_err(|e| DataError::io(input, e))?;
            let mut children: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_dir() && is_shard_dir(p))
                .collect();
            if children.is_empty() {
                return Err(DataError::invalid(format!(
                    "{}: no shard folders (shard-I-of-N with {MANIFEST}) found; pass the \
                     `<output>.shards` folder the sharded runs wrote",
                    input.display()
                )));
            }
            children.sort();
            for child in children {
                let manifest = read_if_present(&child)?;
                found.push((child, manifest));
            }
        }
        ShardSet::check(found)
    }

    /// The common manifest fields (kind, count, seed, config, total) of the run.
    pub fn run(&self) -> &ShardManifest {
        &self.manifests[0]
    }

    fn check(found: Vec<(PathBuf, Option<ShardManifest>)>) -> Result<ShardSet> {
        let Some(reference) = found.iter().find_map(|(_, m)| m.clone()) else {
            return Err(DataError::invalid(format!(
                "no shard holds a {MANIFEST}: every shard died before starting; re-run them"
            )));
        };
        let count = reference.shard.count;
        let mut slots: Vec<Option<(PathBuf, ShardManifest)>> = vec![None; count];
        let mut problems = Vec::new();
        let mut unstarted = Vec::new();
        for (dir, manifest) in found {
            let Some(m) = manifest else {
                let shard = Shard::from_dir_name(&file_name(&dir));
                unstarted.extend(shard.map(|s| s.index));
                problems.push(format!(
                    "shard {} ({}) has no {MANIFEST}: it died before starting; re-run it",
                    shard.map_or_else(|| "?".into(), |s| s.to_string()),
                    dir.display()
                ));
                continue;
            };
            let same_run = m.kind == reference.kind
                && m.shard.count == count
                && m.seed == reference.seed
                && m.total == reference.total
                && m.config_hash == reference.config_hash;
            if !same_run {
                problems.push(format!(
                    "{} is {} shard {} (seed {}, config {}), not of the run of {} shard {} \
                     (seed {}, config {}); merge the shards of one run",
                    dir.display(),
                    m.kind,
                    m.shard,
                    m.seed,
                    m.config_hash,
                    reference.kind,
                    reference.shard,
                    reference.seed,
                    reference.config_hash
                ));
                continue;
            }
            let i = m.shard.index;
            if let Some((other, _)) = &slots[i] {
                problems.push(format!(
                    "shard {} found twice ({} and {}); pass each shard once",
                    m.shard,
                    other.display(),
                    dir.display()
                ));
                continue;
            }
            if !m.complete {
                problems.push(format!(
                    "shard {} ({}) is incomplete: it died or is still running; re-run it with \
                     --shard {}",
                    m.shard,
                    dir.display(),
                    m.shard
                ));
            }
            slots[i] = Some((dir, m));
        }
        let missing: Vec<String> = (0..count)
            .filter(|&i| slots[i].is_none() && !unstarted.contains(&i))
            .map(|i| format!("{i}/{count}"))
            .collect();
        if !missing.is_empty() {
            problems.push(format!(
                "shard{} {} missing; run {} with --shard I/N (or the Slurm array task)",
                if missing.len() > 1 { "s" } else { "" },
                missing.join(", "),
                if missing.len() > 1 { "them" } else { "it" }
            ));
        }
        if !problems.is_empty() {
            return Err(DataError::invalid(format!(
                "cannot merge: {}",
                problems.join("; ")
            )));
        }
        let (dirs, manifests): (Vec<_>, Vec<_>) = slots.into_iter().flatten().unzip();
        let mut next = 0;
        for m in &manifests {
            if m.items[0] != next || m.items[1] < m.items[0] {
                return Err(DataError::invalid(format!(
                    "cannot merge: shard {} covers items {}..{} but {next} was expected next; \
                     the shards were written by different versions",
                    m.shard, m.items[0], m.items[1]
                )));
            }
            next = m.items[1];
        }
        if next != reference.total {
            return Err(DataError::invalid(format!(
                "cannot merge: the shards cover {next} of {} items",
                reference.total
            )));
        }
        Ok(ShardSet { dirs, manifests })
    }

    /// Concatenates `dir/<name>` (an HDF5 corpus) of every shard, in shard order, into
    /// `output` (atomically), keeping the first shard's spacing and source attributes.
    pub fn concat_corpora(&self, name: &str, output: &Path) -> Result<()> {
        let readers = self
            .dirs
            .iter()
            .zip(&self.manifests)
            .filter(|(_, m)| m.items[1] > m.items[0])
            .map(|(d, _)| CorpusReader::open(&d.join(name), None))
            .collect::<Result<Vec<_>>>()?;
        let Some(first) = readers.first() else {
            return Err(DataError::invalid(
                "cannot merge: the shards hold no models",
            ));
        };
        let [_, h, w] = first.shape();
        let mut n = 0;
        for r in &readers {
            let [k, rh, rw] = r.shape();
            if [rh, rw] != [h, w] {
                return Err(DataError::bad_file(
                    r.path(),
                    format!("models are {rh}x{rw}, the first shard's are {h}x{w}"),
                ));
            }
            n += k;
        }
        let mut writer = CorpusWriter::create(output, [n, h, w], &first.meta)?;
        for r in &readers {
            writer.write_models(&r.read_range(0, r.len())?)?;
        }
        writer.finish()
    }
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn is_shard_dir(p: &Path) -> bool {
    p.join(MANIFEST).is_file() || Shard::from_dir_name(&file_name(p)).is_some()
}

fn read_if_present(dir: &Path) -> Result<Option<ShardManifest>> {
    if dir.join(MANIFEST).is_file() {
        ShardManifest::read(dir).map(Some)
    } else {
        Ok(None)
    }
}
