//! End-to-end: sharded `velprior sample`, `velprior posterior` and `velprior memorization sweep`
//! merged by `velprior merge` give the bits of one unsharded run with the same seed; a shard
//! that died is named at merge, nothing is written, and re-running it alone repairs the run.
//!
//! The shards run as N concurrent local processes, the sample shards with the environment of a
//! Slurm job array (`SLURM_ARRAY_TASK_ID`, `_MIN`, `_MAX`, `_COUNT`; here 1-based, as
//! `--array=1-3` gives); tests/cli_slurm.rs runs the documented job-array script under a real
//! single-node Slurm where one can be started.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};

use common::{cmd, corpus_bits, ok, s, tiny_posterior, tiny_prior, velprior};

/// Starts every command at once and waits for all of them.
fn run_all(cmds: Vec<Command>) {
    let children: Vec<Child> = cmds
        .into_iter()
        .map(|mut c| {
            c.stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        ok(&child.wait_with_output().unwrap());
    }
}

fn merge_err(inputs: &[&Path], out: &Path) -> String {
    let mut args = vec!["merge"];
    args.extend(inputs.iter().map(|p| s(p)));
    args.extend(["--out", s(out)]);
    let o = velprior(&args);
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(
        !o.status.success() && !stderr.contains("panicked"),
        "{stderr}"
    );
    assert!(!out.exists(), "a failed merge wrote {}", out.display());
    stderr
}

#[test]
fn sharded_sample_merges_to_the_unsharded_bits_and_names_dead_shards() {
    let dir = tempfile::tempdir().unwrap();
    let ckpt = tiny_prior(dir.path());
    let sample = |out: &Path| -> Vec<String> {
        [
            "sample",
            "--checkpoint",
            s(&ckpt),
            "-n",
            "7",
            "--batch",
            "2",
            "--steps",
            "3",
            "--eta",
            "1",
            "-o",
            s(out),
            "--seed",
            "5",
        ]
        .map(String::from)
        .to_vec()
    };
    let single = dir.path().join("single.h5");
    ok(&cmd(&sample(&single)
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>())
    .output()
    .unwrap());
    let sharded = dir.path().join("sharded.h5");
    let shard_cmd = |task: usize| {
        let args = sample(&sharded);
        let mut c = cmd(&args.iter().map(String::as_str).collect::<Vec<_>>());
        c.env("SLURM_ARRAY_TASK_ID", task.to_string())
            .env("SLURM_ARRAY_TASK_MIN", "1")
            .env("SLURM_ARRAY_TASK_MAX", "3")
            .env("SLURM_ARRAY_TASK_COUNT", "3");
        c
    };
    run_all((1..=3).map(shard_cmd).collect());
    let shards = dir.path().join("sharded.h5.shards");
    let merged = dir.path().join("merged");
    ok(&velprior(&["merge", s(&shards), "--out", s(&merged)]));
    let want = corpus_bits(&single);
    assert_eq!(want.1, [7, 16, 16]);
    assert_eq!(corpus_bits(&merged.join("samples.h5")), want);

    // Shard 1 dies mid-run (its manifest still says incomplete), shard 2 never ran.
    let m1 = shards.join("shard-1-of-3/shard.json");
    let text = std::fs::read_to_string(&m1).unwrap();
    std::fs::write(
        &m1,
        text.replace("\"complete\": true", "\"complete\": false"),
    )
    .unwrap();
    std::fs::remove_dir_all(shards.join("shard-2-of-3")).unwrap();
    let err = merge_err(&[&shards], &dir.path().join("merged2"));
    assert!(
        err.contains("shard 1/3") && err.contains("incomplete") && err.contains("2/3 missing"),
        "{err}"
    );
    // Re-running the two shards alone repairs the run.
    for i in ["1/3", "2/3"] {
        let mut args = sample(&sharded);
        args.extend(["--shard".into(), i.into()]);
        ok(&velprior(
            &args.iter().map(String::as_str).collect::<Vec<_>>(),
        ));
    }
    let repaired = dir.path().join("repaired");
    ok(&velprior(&["merge", s(&shards), "--out", s(&repaired)]));
    assert_eq!(corpus_bits(&repaired.join("samples.h5")), want);

    // Shards of another seed are refused.
    let other = dir.path().join("other.h5");
    let mut args = sample(&other);
    *args.last_mut().unwrap() = "6".into();
    args.extend(["--shard".into(), "0/3".into()]);
    ok(&velprior(
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
    ));
    let err = merge_err(
        &[
            &shards.join("shard-1-of-3"),
            &shards.join("shard-2-of-3"),
            &dir.path().join("other.h5.shards/shard-0-of-3"),
        ],
        &dir.path().join("merged3"),
    );
    assert!(
        err.contains("seed 6") && err.contains("0/3 missing"),
        "{err}"
    );
}

/// A JSON value with the wall-clock fields (`seconds`, `wall_time_s`, `train_seconds`) removed.
fn without_times(mut v: serde_json::Value) -> serde_json::Value {
    match &mut v {
        serde_json::Value::Object(map) => {
            for k in ["seconds", "wall_time_s", "train_seconds"] {
                map.remove(k);
            }
            for x in map.values_mut() {
                *x = without_times(x.take());
            }
        }
        serde_json::Value::Array(items) => {
            for x in items.iter_mut() {
                *x = without_times(x.take());
            }
        }
        _ => {}
    }
    v
}

/// Asserts equal JSON, numbers to 1e-9 relative.
fn assert_close(a: &serde_json::Value, b: &serde_json::Value, at: &str) {
    use serde_json::Value;
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            assert!(
                (x - y).abs() <= 1e-9 * x.abs().max(y.abs()),
                "{at}: {x} vs {y}"
            );
        }
        (Value::Array(x), Value::Array(y)) => {
            assert_eq!(x.len(), y.len(), "{at}");
            for (i, (x, y)) in x.iter().zip(y).enumerate() {
                assert_close(x, y, &format!("{at}[{i}]"));
            }
        }
        (Value::Object(x), Value::Object(y)) => {
            assert_eq!(
                x.keys().collect::<Vec<_>>(),
                y.keys().collect::<Vec<_>>(),
                "{at}"
            );
            for (k, v) in x {
                assert_close(v, &y[k], &format!("{at}.{k}"));
            }
        }
        _ => assert_eq!(a, b, "{at}"),
    }
}

fn json(path: &Path) -> serde_json::Value {
    without_times(serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap())
}

fn jsonl(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| without_times(serde_json::from_str(l).unwrap()))
        .collect()
}

/// Also with a first stage (`[start_method]`): every shard runs it from the same seed, the
/// merge keeps it (catches first_stage_metrics lost in the merge).
#[test]
fn sharded_posterior_merges_to_the_unsharded_run() {
    for first_stage in [false, true] {
        sharded_posterior_merges(first_stage);
    }
}

fn sharded_posterior_merges(first_stage: bool) {
    let dir = tempfile::tempdir().unwrap();
    let config = tiny_posterior(dir.path());
    if first_stage {
        let text = std::fs::read_to_string(&config).unwrap();
        let first = "[start_method]\nkind = \"red-diff\"\niterations = 2\nlr = 0.05\nlambda = 0.5\n\
                     t_min = 0.1\nt_max = 0.9\nsamples = 1\n";
        std::fs::write(&config, format!("{text}{first}")).unwrap();
    }
    let (nz, nx) = (16, 16);
    let post = |out: &Path, shard: Option<&str>| {
        let mut c = cmd(&[
            "posterior",
            "--config",
            s(&config),
            "--seed",
            "3",
            "--out",
            s(out),
        ]);
        if let Some(i) = shard {
            c.args(["--shard", i]);
        }
        c
    };
    let single = dir.path().join("single");
    ok(&post(&single, None).output().unwrap());
    let sharded = dir.path().join("sharded");
    run_all(vec![
        post(&sharded, Some("0/2")),
        post(&sharded, Some("1/2")),
    ]);
    let merged = dir.path().join("merged");
    ok(&velprior(&[
        "merge",
        s(&dir.path().join("sharded.shards")),
        "--out",
        s(&merged),
    ]));
    assert_eq!(
        corpus_bits(&merged.join("samples.h5")),
        corpus_bits(&single.join("samples.h5"))
    );
    assert_eq!(corpus_bits(&single.join("samples.h5")).1, [3, nz, nx]);
    assert_eq!(
        json(&merged.join("metrics.json")),
        json(&single.join("metrics.json"))
    );
    assert_eq!(
        jsonl(&merged.join("metrics.jsonl")),
        jsonl(&single.join("metrics.jsonl"))
    );
    for png in ["mean.png", "std.png", "zscore.png"] {
        assert!(merged.join(png).exists(), "{png}");
    }
    let metrics = json(&merged.join("metrics.json"));
    assert_eq!(
        metrics["first_stage_metrics"].is_object(),
        first_stage,
        "{metrics}"
    );
}

#[test]
fn sharded_memorization_sweep_merges_to_the_unsharded_sweep() {
    let dir = tempfile::tempdir().unwrap();
    let base = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/memorization-sweep-tiny.toml"),
    )
    .unwrap();
    let single = dir.path().join("single");
    let sharded = dir.path().join("sharded");
    let config = |out: &Path, name: &str| {
        let text = base
            .replace("runs/memorization-sweep-tiny", s(out))
            .replace("sizes = [4, 8]", "sizes = [4, 6, 8]");
        assert!(text.contains("sizes = [4, 6, 8]"));
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    let (c1, c2) = (
        config(&single, "single.toml"),
        config(&sharded, "sharded.toml"),
    );
    ok(&velprior(&["memorization", "sweep", "--config", s(&c1)]));
    let shard = |i: &str| {
        let mut c = cmd(&["memorization", "sweep", "--config", s(&c2)]);
        c.env("SLURM_ARRAY_TASK_ID", i)
            .env("SLURM_ARRAY_TASK_COUNT", "2");
        c
    };
    run_all(vec![shard("0"), shard("1")]);
    let merged = dir.path().join("merged");
    ok(&velprior(&[
        "merge",
        s(&dir.path().join("sharded.shards")),
        "--out",
        s(&merged),
    ]));
    // Each size is computed from the config alone, but not to the last bit: the empirical
    // denoiser's candle/gemm matrix products round differently depending on what the process
    // ran before (measured: one d1_mean differed in its 16th digit when size 6 ran first in its
    // process), so the sweep is compared to 1e-9 relative; the trained priors' samples match.
    let (m, one) = (
        json(&merged.join("sweep.json")),
        json(&single.join("sweep.json")),
    );
    assert_eq!(m.as_array().unwrap().len(), 3);
    assert_close(&m, &one, "sweep.json");
    let (m, one) = (
        jsonl(&merged.join("metrics.jsonl")),
        jsonl(&single.join("metrics.jsonl")),
    );
    assert_close(&m.into(), &one.into(), "metrics.jsonl");
    for f in ["memorised_fraction.png", "n6/prior/checkpoint.safetensors"] {
        assert!(merged.join(f).exists(), "{f}");
    }
}
