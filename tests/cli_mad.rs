//! End-to-end `velprior mad`: the tiny config runs every loop and generation into one run
//! folder with the right training-set mixtures, and a bad config is one error line.

use std::path::Path;
use std::process::{Command, Output};

fn velprior(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_velprior"))
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("binary runs")
}

/// The tiny config with its output (and `extra` replacements) redirected into `dir`.
fn tiny_config(dir: &Path, extra: &[(&str, &str)]) -> String {
    let mut text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/configs/mad-tiny.toml"
    ))
    .unwrap()
    .replace("runs/mad-tiny", dir.join("mad").to_str().unwrap());
    for (from, to) in extra {
        assert!(text.contains(from), "{from} not in the tiny config");
        text = text.replace(from, to);
    }
    let path = dir.join("mad.toml");
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

#[test]
fn tiny_mad_runs_every_loop() {
    let dir = tempfile::tempdir().unwrap();
    let out = velprior(&["mad", "--config", &tiny_config(dir.path(), &[])]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run = dir.path().join("mad");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("mad.json")).unwrap()).unwrap();
    let points = summary["points"].as_array().unwrap();
    assert_eq!(points.len(), 3 * 3);
    for (i, (kind, real)) in [("fully_synthetic", 0), ("fixed_real", 6), ("fresh_real", 6)]
        .into_iter()
        .enumerate()
    {
        let gens = &points[3 * i..3 * i + 3];
        assert_eq!(
            gens[0]["scores"], points[0]["scores"],
            "generation 0 is shared"
        );
        for (g, p) in gens.iter().enumerate() {
            assert_eq!(
                (
                    p["loop_kind"].as_str().unwrap(),
                    p["generation"].as_u64().unwrap()
                ),
                (kind, g as u64)
            );
            if g > 0 {
                assert_eq!(
                    (p["real_models"].as_u64(), p["synthetic_models"].as_u64()),
                    (Some(real), Some(12 - real))
                );
            }
            // Samples of the tiny, barely trained priors never lie inside the held-out manifold
            // as often as real models do (catches precision computed against the samples' own
            // manifold, or real and generated roles swapped).
            let precision = p["scores"]["precision"].as_f64().unwrap();
            let real = summary["real_reference"]["precision"].as_f64().unwrap();
            assert!(
                precision < real,
                "{kind} generation {g}: precision {precision} >= real {real}"
            );
        }
    }
    // The real training models lie inside the held-out manifold far more often than the
    // untrained tiny priors' samples.
    assert!(summary["real_reference"]["precision"].as_f64().unwrap() >= 0.5);
    for f in [
        "config.json",
        "metrics.jsonl",
        "precision_recall.png",
        "gen-0/prior",
        "fresh-real/gen-2/train.h5",
    ] {
        assert!(run.join(f).exists(), "{f} missing");
    }
}

#[test]
fn bad_config_is_one_error_line() {
    let dir = tempfile::tempdir().unwrap();
    for (from, to, needle) in [
        (
            "real_fraction = 0.5",
            "real_fraction = 1.5",
            "real_fraction",
        ),
        ("pr_k = 3", "pr_k = 12", "pr_k"),
        ("generations = 2", "generation = 2", "generation"),
    ] {
        let cfg = tiny_config(dir.path(), &[(from, to)]);
        let res = velprior(&["mad", "--config", &cfg]);
        let stderr = String::from_utf8_lossy(&res.stderr);
        let lines: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error")).collect();
        assert!(
            !res.status.success() && !stderr.contains("panicked"),
            "{stderr}"
        );
        assert!(
            lines.len() == 1 && lines[0].contains(needle) && lines[0].contains("mad.toml"),
            "'{needle}' not in: {stderr}"
        );
    }
    assert!(!dir.path().join("mad").exists());
}
