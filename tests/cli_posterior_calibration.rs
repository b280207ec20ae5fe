//! End-to-end: `velprior posterior` with a `[calibration]` config on the shipped prior (tiny:
//! one held-out model, 2 DPS steps, 2 samples), and one-line errors for bad calibration keys.

use std::process::{Command, Output};

fn velprior(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_velprior"))
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("binary runs")
}

fn config(models: &str, count: usize, every: usize) -> String {
    format!(
        "[calibration]\nprior = \"priors/marmousi70-small/prior.safetensors\"\nmodels = \"{models}\"\n\
         count = {count}\nnoise_std = 50.0\noperator = {{ kind = \"wells\", every = {every} }}\n\n\
         [calibration.dps]\nsteps = 2\nzeta = 0.001\nguidance = \"network\"\nsamples = 2\nclip_x0 = true\n"
    )
}

#[test]
fn calibration_config_writes_coverage() {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models.h5");
    let m = models.to_str().unwrap();
    let out = velprior(&[
        "data", "synth", "-f", "marmousi", "-n", "2", "--size", "70x70", "--seed", "99", "-o", m,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cfg = dir.path().join("cal.toml");
    std::fs::write(&cfg, config(m, 1, 10)).unwrap();
    let run = dir.path().join("run");
    let out = velprior(&[
        "posterior",
        "--config",
        cfg.to_str().unwrap(),
        "--out",
        run.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let metrics: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("metrics.json")).unwrap()).unwrap();
    // ±2σ bands contain the ±1σ ones, so their coverage is never lower, and DPS's samples
    // spread (catches the two coverages swapped, or bands of zero width).
    let (c1, c2) = (
        metrics["within_1sigma"].as_f64().unwrap(),
        metrics["within_2sigma"].as_f64().unwrap(),
    );
    assert!(c1 <= c2, "{metrics}");
    assert!(metrics["mean_std"].as_f64().unwrap() > 0.0, "{metrics}");
    assert_eq!(metrics["models"].as_array().unwrap().len(), 1);
    assert!(run.join("calibration.png").exists());

    for (text, needle) in [
        (config(m, 5, 10), "calibration.count = 5"),
        (config(m, 1, 0), "calibration.operator.every"),
    ] {
        std::fs::write(&cfg, text).unwrap();
        let out = velprior(&[
            "posterior",
            "--config",
            cfg.to_str().unwrap(),
            "--out",
            run.to_str().unwrap(),
        ]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && !err.contains("panicked"), "{err}");
        assert!(err.contains(needle), "expected '{needle}' in: {err}");
    }
}
