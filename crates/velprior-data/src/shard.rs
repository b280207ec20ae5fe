//! Sharded runs: which part of a run's work shard I of N does, and the manifest it leaves.
//!
//! A run's work is a list of `total` items (models, chains, training-set sizes). Shard I of N
//! does the contiguous items [`Shard::range`], a pure function of (total, I, N), and each item
//! draws its randomness from [`item_seed`]`(seed, item)` — never from the shard — so the
//! shards' outputs, concatenated in item order, are the bits of one unsharded run.
//!
//! The shard is given as `--shard I/N` (0-based I) or, inside a Slurm job array, read from
//! `SLURM_ARRAY_TASK_ID`, `SLURM_ARRAY_TASK_MIN`, `SLURM_ARRAY_TASK_STEP` and
//! `SLURM_ARRAY_TASK_COUNT` ([`Shard::from_env`]). Each shard writes into its own folder
//! ([`shard_dir`]) and finishes by rewriting [`MANIFEST`] with `complete = true`, atomically,
//! after every other output: a manifest that says `complete = false`, or none, marks a shard
//! that died (or still runs).

use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{DataError, Result};
use crate::run_dir::RunDir;

/// The manifest file in every shard folder.
pub const MANIFEST: &str = "shard.json";

/// Shard `index` (0-based) of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    /// 0-based shard number, below `count`.
    pub index: usize,
    /// Number of shards, at least 1.
    pub count: usize,
}

impl Shard {
    /// Shard `index` of `count`; errors when `count` is 0 or `index >= count`.
    pub fn new(index: usize, count: usize) -> Result<Shard> {
        if count == 0 {
            return Err(DataError::invalid(
                "shard count 0: a run needs at least one shard, e.g. --shard 0/4",
            ));
        }
        if index >= count {
            return Err(DataError::invalid(format!(
                "shard {index}/{count}: shard numbers run from 0 to {} (0-based), e.g. --shard 0/{count}",
                count - 1
            )));
        }
        Ok(Shard { index, count })
    }

    /// Parses `I/N` (0-based I), as given to `--shard`.
    pub fn parse(text: &str) -> Result<Shard> {
        let bad = || {
            DataError::invalid(format!(
                "--shard {text:?}: expected I/N with 0 <= I < N, e.g. --shard 0/4"
            ))
        };
        let (i, n) = text.trim().split_once('/').ok_or_else(bad)?;
        let i = i.trim().parse::<usize>().map_err(|_| bad())?;
        let n = n.trim().parse::<usize>().map_err(|_| bad())?;
        Shard::new(i, n)
    }

    /// The shard of this Slurm job-array task, or `None` outside a job array.
    ///
    /// Index = (`SLURM_ARRAY_TASK_ID` − `SLURM_ARRAY_TASK_MIN`) / `SLURM_ARRAY_TASK_STEP`
    /// (MIN 0 and STEP 1 when unset), count = `SLURM_ARRAY_TASK_COUNT`; arrays that are not an
    /// arithmetic range (`--array=1,5,7`) are refused, since their tasks cannot be numbered.
    pub fn from_env() -> Result<Option<Shard>> {
        Shard::from_vars(|name| std::env::var(name).ok())
    }

    /// [`Shard::from_env`] reading variables through `var` (testable without touching the
    /// process environment).
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Option<Shard>> {
        let Some(id) = var("SLURM_ARRAY_TASK_ID") else {
            return Ok(None);
        };
        let num = |name: &str, default: Option<usize>| -> Result<usize> {
            match var(name) {
                Some(v) => v.trim().parse::<usize>().map_err(|_| {
                    DataError::invalid(format!(
                        "{name}={v:?} is not a non-negative integer; unset it or pass --shard I/N"
                    ))
                }),
                None => default.ok_or_else(|| {
                    DataError::invalid(format!(
                        "SLURM_ARRAY_TASK_ID={id} is set but {name} is not; pass --shard I/N"
                    ))
                }),
            }
        };
        let id = num("SLURM_ARRAY_TASK_ID", None)?;
        let min = num("SLURM_ARRAY_TASK_MIN", Some(0))?;
        let step = num("SLURM_ARRAY_TASK_STEP", Some(1))?.max(1);
        let count = num("SLURM_ARRAY_TASK_COUNT", None)?;
        let max = num(
            "SLURM_ARRAY_TASK_MAX",
            Some(min + step * count.saturating_sub(1)),
        )?;
        let offset = id.checked_sub(min).filter(|o| o % step == 0);
        let arithmetic = count > 0 && max >= min && (max - min) == step * (count - 1);
        match offset {
            Some(o) if arithmetic => Shard::new(o / step, count).map(Some),
            _ => Err(DataError::invalid(format!(
                "Slurm array task {id} (min {min}, max {max}, step {step}, count {count}) is not \
                 in an arithmetic range; submit with --array=0-{} or pass --shard I/N",
                count.saturating_sub(1)
            ))),
        }
    }

    /// `flag` when given (it wins over the environment), else [`Shard::from_env`].
    pub fn resolve(flag: Option<Shard>) -> Result<Option<Shard>> {
        match flag {
            Some(s) => Ok(Some(s)),
            None => Shard::from_env(),
        }
    }

    /// The items of `total` this shard does: [total·I/N, total·(I+1)/N), so shard sizes differ
    /// by at most one and the ranges tile 0..total in order.
    pub fn range(&self, total: usize) -> Range<usize> {
        let at = |i: usize| (total as u128 * i as u128 / self.count as u128) as usize;
        at(self.index)..at(self.index + 1)
    }

    /// `shard-I-of-N`, I zero-padded to the width of N so folders sort in shard order.
    pub fn dir_name(&self) -> String {
        let width = self.count.to_string().len();
        format!("shard-{:0width$}-of-{}", self.index, self.count)
    }

    /// Parses a folder name written by [`Shard::dir_name`].
    pub fn from_dir_name(name: &str) -> Option<Shard> {
        let rest = name.strip_prefix("shard-")?;
        let (i, n) = rest.split_once("-of-")?;
        Shard::new(i.parse().ok()?, n.parse().ok()?).ok()
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl std::str::FromStr for Shard {
    type Err = DataError;
    fn from_str(s: &str) -> Result<Shard> {
        Shard::parse(s)
    }
}

/// The seed of item `item` of a run seeded `seed`: `seed + item` (wrapping), the same in every
/// shard.
pub fn item_seed(seed: u64, item: usize) -> u64 {
    seed.wrapping_add(item as u64)
}

/// The folder of `shard` for a run whose unsharded output is `output` (a file or a folder):
/// `<output>.shards/shard-I-of-N`.
pub fn shard_dir(output: &Path, shard: Shard) -> PathBuf {
    let mut parent = output.as_os_str().to_owned();
    parent.push(".shards");
    PathBuf::from(parent).join(shard.dir_name())
}

/// FNV-1a (64 bit) of `bytes` as 16 hex digits: a stable fingerprint of a run's configuration.
pub fn config_hash(bytes: &[u8]) -> String {
    let h = bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    format!("{h:016x}")
}

/// What a shard folder holds: which run, which shard, which items, and whether it finished.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardManifest {
    /// The command that wrote it (`sample`, `posterior`, `memorization-sweep`).
    pub kind: String,
    /// This shard.
    pub shard: Shard,
    /// The items it did, [start, end) of 0..total.
    pub items: [usize; 2],
    /// Items of the whole run.
    pub total: usize,
    /// The run's seed.
    pub seed: u64,
    /// [`config_hash`] of everything that determines the results, shard aside.
    pub config_hash: String,
    /// The run's configuration as the command records it (for `velprior merge`).
    pub config: serde_json::Value,
    /// Written `true` last, after every other output of the shard.
    pub complete: bool,
}

impl ShardManifest {
    /// The manifest of `shard` of a `kind` run over `total` items, doing `items`, from `seed`
    /// and `config` (hashed, so that shards of different runs are told apart).
    pub fn new(
        kind: &str,
        shard: Shard,
        items: std::ops::Range<usize>,
        total: usize,
        seed: u64,
        config: serde_json::Value,
    ) -> ShardManifest {
        ShardManifest {
            kind: kind.into(),
            shard,
            items: [items.start, items.end],
            total,
            seed,
            config_hash: config_hash(config.to_string().as_bytes()),
            config,
            complete: false,
        }
    }

    /// Creates the shard folder (reused by a re-run) and writes the manifest with
    /// `complete = false`, so a shard that dies from here on is seen as incomplete.
    pub fn begin(&self, dir: &Path) -> Result<RunDir> {
        let run = RunDir::create(dir)?;
        run.write_json(
            MANIFEST,
            &ShardManifest {
                complete: false,
                ..self.clone()
            },
        )?;
        Ok(run)
    }

    /// Rewrites the manifest with `complete = true` (atomically); call after every output.
    pub fn finish(&self, run: &RunDir) -> Result<()> {
        run.write_json(
            MANIFEST,
            &ShardManifest {
                complete: true,
                ..self.clone()
            },
        )?;
        Ok(())
    }

    /// Reads `dir/shard.json`.
    pub fn read(dir: &Path) -> Result<ShardManifest> {
        let path = dir.join(MANIFEST);
        let text = std::fs::read_to_string(&path).map_err(|e| DataError::io(&path, e))?;
        serde_json::from_str(&text)
            .map_err(|e| DataError::bad_file(&path, format!("not a shard manifest ({e})")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_accepts_i_of_n_and_names_the_fix() {
        assert_eq!(Shard::parse("2/5").unwrap(), Shard { index: 2, count: 5 });
        for bad in ["5/5", "0/0", "1", "a/3", "-1/3", "1/2/3", ""] {
            let err = Shard::parse(bad).unwrap_err().to_string();
            assert!(
                err.contains("--shard") || err.contains("shard"),
                "{bad}: {err}"
            );
        }
        assert!(
            Shard::parse("5/5")
                .unwrap_err()
                .to_string()
                .contains("0 to 4")
        );
    }

    #[test]
    fn ranges_tile_the_items_in_order() {
        for total in [0, 1, 7, 16, 100] {
            for count in 1..=9 {
                let mut next = 0;
                for index in 0..count {
                    let r = Shard { index, count }.range(total);
                    assert_eq!(r.start, next);
                    assert!(r.len() == total / count || r.len() == total / count + 1);
                    next = r.end;
                }
                assert_eq!(next, total);
            }
        }
    }

    #[test]
    fn slurm_variables_give_the_zero_based_shard() {
        fn vars<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
            move |name| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
            }
        }
        assert_eq!(Shard::from_vars(vars(&[])).unwrap(), None);
        let one_based = [
            ("SLURM_ARRAY_TASK_ID", "3"),
            ("SLURM_ARRAY_TASK_MIN", "1"),
            ("SLURM_ARRAY_TASK_MAX", "4"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
        ];
        assert_eq!(
            Shard::from_vars(vars(&one_based)).unwrap(),
            Some(Shard { index: 2, count: 4 })
        );
        let stepped = [
            ("SLURM_ARRAY_TASK_ID", "4"),
            ("SLURM_ARRAY_TASK_STEP", "2"),
            ("SLURM_ARRAY_TASK_MAX", "6"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
        ];
        assert_eq!(
            Shard::from_vars(vars(&stepped)).unwrap(),
            Some(Shard { index: 2, count: 4 })
        );
        let listed = [
            ("SLURM_ARRAY_TASK_ID", "5"),
            ("SLURM_ARRAY_TASK_MIN", "1"),
            ("SLURM_ARRAY_TASK_MAX", "7"),
            ("SLURM_ARRAY_TASK_COUNT", "3"),
        ];
        assert!(Shard::from_vars(vars(&listed)).is_err());
        let no_count = [("SLURM_ARRAY_TASK_ID", "0")];
        let err = Shard::from_vars(vars(&no_count)).unwrap_err().to_string();
        assert!(err.contains("SLURM_ARRAY_TASK_COUNT"), "{err}");
    }

    #[test]
    fn dir_names_round_trip_and_sort() {
        let s = Shard {
            index: 3,
            count: 12,
        };
        assert_eq!(s.dir_name(), "shard-03-of-12");
        assert_eq!(Shard::from_dir_name("shard-03-of-12"), Some(s));
        assert_eq!(Shard::from_dir_name("shard-12-of-12"), None);
        assert_eq!(
            shard_dir(Path::new("runs/post"), s),
            Path::new("runs/post.shards/shard-03-of-12")
        );
    }

    #[test]
    fn config_hash_is_fnv1a() {
        // Reference values of FNV-1a 64 (Fowler–Noll–Vo test suite).
        assert_eq!(config_hash(b""), "cbf29ce484222325");
        assert_eq!(config_hash(b"a"), "af63dc4c8601ec8c");
        assert_eq!(config_hash(b"foobar"), "85944171f73967e8");
    }
}
