//! Gathering shard folders for `velprior merge`: a complete set is returned in shard order,
//! and every defect (missing, unfinished, duplicated, other run, gap in the items) is named.

use std::path::{Path, PathBuf};

use velprior_data::shard::config_hash;
use velprior_data::{Shard, ShardManifest, ShardSet, shard_dir};

/// Writes shard `i` of `n` over `total` items; `complete` says whether it finished.
fn shard(out: &Path, i: usize, n: usize, total: usize, seed: u64, complete: bool) -> PathBuf {
    let s = Shard::new(i, n).unwrap();
    let r = s.range(total);
    let m = ShardManifest {
        kind: "sample".into(),
        shard: s,
        items: [r.start, r.end],
        total,
        seed,
        config_hash: config_hash(b"cfg"),
        config: serde_json::json!({}),
        complete: false,
    };
    let dir = shard_dir(out, s);
    let run = m.begin(&dir).unwrap();
    if complete {
        m.finish(&run).unwrap();
    }
    dir
}

fn error(inputs: &[PathBuf]) -> String {
    ShardSet::collect(inputs).unwrap_err().to_string()
}

#[test]
fn a_complete_set_comes_back_in_shard_order() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("run");
    for i in [2, 0, 1] {
        shard(&out, i, 3, 10, 7, true);
    }
    let set = ShardSet::collect(&[d.path().join("run.shards")]).unwrap();
    let items: Vec<[usize; 2]> = set.manifests.iter().map(|m| m.items).collect();
    assert_eq!(items, vec![[0, 3], [3, 6], [6, 10]]);
    assert_eq!(set.run().seed, 7);
}

#[test]
fn every_defect_is_named() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("run");
    let s0 = shard(&out, 0, 4, 8, 1, true);
    shard(&out, 1, 4, 8, 1, false);
    // Shard 2 never wrote its manifest; shard 3 never started.
    std::fs::create_dir_all(shard_dir(&out, Shard::new(2, 4).unwrap())).unwrap();
    let err = error(&[d.path().join("run.shards")]);
    assert!(
        err.contains("shard 1/4") && err.contains("incomplete"),
        "{err}"
    );
    assert!(
        err.contains("shard 2/4") && err.contains("no shard.json"),
        "{err}"
    );
    assert!(err.contains("3/4 missing"), "{err}");

    let err = error(&[s0.clone(), s0.clone()]);
    assert!(err.contains("found twice"), "{err}");

    let other = shard(&d.path().join("other"), 1, 4, 8, 2, true);
    let err = error(&[s0, other]);
    assert!(
        err.contains("seed 2") && err.contains("not of the run"),
        "{err}"
    );

    let empty = d.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    assert!(error(&[empty]).contains("no shard folders"));
}
