//! End-to-end `velprior evaluate`: from a checkpoint (drawing the samples) and from a samples
//! file, with the training set; a size mismatch is one clear error. Catches a report that is not
//! written, a sampler flag that is ignored, or held-out models of the wrong size accepted.

mod common;

use common::{flatvel_corpus, ok, s, tiny_prior, velprior};

#[test]
fn evaluate_a_checkpoint_and_a_samples_file() {
    let dir = tempfile::tempdir().unwrap();
    let ckpt = tiny_prior(dir.path());
    let held = dir.path().join("held.h5");
    flatvel_corpus(&held, 20, "16x16");
    let out = dir.path().join("eval");
    let run = velprior(&[
        "evaluate",
        "--checkpoint",
        s(&ckpt),
        "--test",
        s(&held),
        "--train",
        s(&dir.path().join("c.h5")),
        "-n",
        "8",
        "--steps",
        "3",
        "-o",
        s(&out),
    ]);
    ok(&run);
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["samples"]["models"], 8);
    assert_eq!(report["reference_models"], 10);
    assert!(report["memorised_fraction"].is_number(), "{report}");
    assert!(out.join("samples.png").is_file() && out.join("velocity-histogram.png").is_file());
    // Samples from a file (here the held-out set itself).
    let out2 = dir.path().join("eval2");
    ok(&velprior(&[
        "evaluate",
        "--samples",
        s(&held),
        "--test",
        s(&held),
        "-o",
        s(&out2),
    ]));
    let r2: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out2.join("report.json")).unwrap()).unwrap();
    assert_eq!(r2["samples"]["models"], 20);
}

#[test]
fn held_out_models_of_another_size_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let ckpt = tiny_prior(dir.path());
    let held = dir.path().join("held.h5");
    flatvel_corpus(&held, 20, "12x12");
    let run = velprior(&[
        "evaluate",
        "--checkpoint",
        s(&ckpt),
        "--test",
        s(&held),
        "-o",
        s(&dir.path().join("e")),
    ]);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        !run.status.success() && stderr.contains("use held-out models of the prior's size"),
        "{stderr}"
    );
    assert!(!dir.path().join("e").exists());
}
