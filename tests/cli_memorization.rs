//! End-to-end `velprior memorization`: exact copies of training models are all flagged, fresh
//! models of the same generator are not, the run folder holds the JSON and pictures, bad input
//! is one error line, and the tiny sweep config runs.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn velprior(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_velprior"))
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("binary runs")
}

fn ok(out: &Output) {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn synth(dir: &Path, name: &str, n: usize, seed: u64, size: &str) -> PathBuf {
    let path = dir.join(name);
    let (n, seed) = (n.to_string(), seed.to_string());
    ok(&velprior(&[
        "data",
        "synth",
        "-f",
        "curvefault",
        "-n",
        &n,
        "--seed",
        &seed,
        "--size",
        size,
        "-o",
        path.to_str().unwrap(),
    ]));
    path
}

fn report(run: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(run.join("report.json")).unwrap()).unwrap()
}

#[test]
fn copies_are_flagged_fresh_models_are_not() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let train = synth(d, "train.h5", 60, 1, "16x16");
    // The same seed regenerates the first 10 training models exactly.
    let copies = synth(d, "copies.h5", 10, 1, "16x16");
    let fresh = synth(d, "fresh.h5", 30, 2, "16x16");
    let run = d.join("run-copies");
    let s = |p: &Path| p.to_str().unwrap().to_string();
    ok(&velprior(&[
        "memorization",
        "--samples",
        &s(&copies),
        "--train",
        &s(&train),
        "--test",
        &s(&fresh),
        "--range",
        "1500,4500",
        "--out",
        &s(&run),
    ]));
    let r = report(&run);
    assert_eq!(r["samples"]["fraction_gu"], 1.0);
    assert_eq!(r["samples"]["distinct_nn1"], 10);
    assert_eq!(r["per_sample"][3]["nn1"], 3);
    assert_eq!(r["per_sample"][3]["d1"], 0.0);
    assert!(
        r["test"]["fraction_gu"].as_f64().unwrap() <= 0.05,
        "{}",
        r["test"]
    );
    let mw = &r["d1_mann_whitney"];
    assert!(
        mw["prob_x_smaller"].as_f64().unwrap() == 1.0 && mw["p_two_sided"].as_f64().unwrap() < 1e-3
    );
    for f in ["config.json", "d1_histogram.png", "neighbours.png"] {
        assert!(run.join(f).is_file(), "{f} missing");
    }

    let run = d.join("run-fresh");
    ok(&velprior(&[
        "memorization",
        "--samples",
        &s(&fresh),
        "--train",
        &s(&train),
        "--out",
        &s(&run),
    ]));
    assert!(report(&run)["samples"]["fraction_gu"].as_f64().unwrap() <= 0.05);
}

#[test]
fn bad_input_is_one_error_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let train = synth(d, "train.h5", 5, 1, "16x16");
    let other = synth(d, "other.h5", 3, 1, "12x12");
    let (t, o) = (train.to_str().unwrap(), other.to_str().unwrap());
    let out_dir = d.join("run");
    let out = out_dir.to_str().unwrap();
    for (args, needle) in [
        (
            vec!["memorization", "--samples", o, "--train", t, "--out", out],
            "--samples",
        ),
        (
            vec!["memorization", "--train", t, "--out", out],
            "needs --samples",
        ),
        (
            vec![
                "memorization",
                "--samples",
                t,
                "--train",
                "missing.h5",
                "--out",
                out,
            ],
            "missing.h5",
        ),
    ] {
        let res = velprior(&args);
        let stderr = String::from_utf8_lossy(&res.stderr);
        let lines: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error")).collect();
        assert!(
            !res.status.success() && !stderr.contains("panicked"),
            "{stderr}"
        );
        assert!(
            lines.len() == 1 && lines[0].contains(needle),
            "'{needle}' not in: {stderr}"
        );
    }
    assert!(!out_dir.join("report.json").exists());
}

#[test]
fn tiny_sweep_runs() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/configs/memorization-sweep-tiny.toml"
    ))
    .unwrap()
    .replace(
        "runs/memorization-sweep-tiny",
        dir.path().join("sweep").to_str().unwrap(),
    );
    let cfg = dir.path().join("tiny.toml");
    std::fs::write(&cfg, text).unwrap();
    ok(&velprior(&[
        "memorization",
        "sweep",
        "--config",
        cfg.to_str().unwrap(),
    ]));
    let run = dir.path().join("sweep");
    let points: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("sweep.json")).unwrap()).unwrap();
    assert_eq!(points.as_array().unwrap().len(), 2);
    assert_eq!(points[1]["n"], 8);
    assert!(points[0]["disjoint_ncc_median"].is_number());
    for f in [
        "memorised_fraction.png",
        "disjoint_similarity.png",
        "metrics.jsonl",
    ] {
        assert!(run.join(f).is_file(), "{f} missing");
    }
}
