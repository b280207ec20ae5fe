//! End-to-end: the AE teaching experiment on a tiny config writes its pictures and a parsable
//! summary; `velprior train` fits a Gaussian, a Gaussian mixture, a Gaussian process, a
//! normalizing flow, an autoencoder and a VAE from `kind`, and `velprior sample` draws from every
//! checkpoint unchanged; `velprior ae`'s latent-space commands run the autoencoder on the
//! `--device` asked for.

mod common;

use std::path::Path;

use common::{ok, s, velprior};

#[test]
fn tiny_teaching_experiment_writes_pictures_and_summary() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = std::fs::read_to_string("configs/ae-two-layer.toml")
        .unwrap()
        .replace("n = 200", "n = 24")
        .replace("epochs = 700", "epochs = 3")
        .replace("samples = 100", "samples = 10")
        .replace("sweep_grid = 9", "sweep_grid = 3")
        .replace("walk_frames = 30", "walk_frames = 3");
    let path = dir.path().join("tiny.toml");
    std::fs::write(&path, cfg).unwrap();
    let out = dir.path().join("exp");
    ok(&velprior(&[
        "ae",
        "experiment",
        "--config",
        path.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]));
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["runs"].as_array().unwrap().len(), 2);
    assert!(summary["corpus"]["slope"].as_f64().unwrap() > 1.5);
    for run in ["lambda-20", "lambda-0"] {
        for f in [
            "checkpoint.safetensors",
            "v1v2-scatter.png",
            "latent-sweep.png",
            "latent-scatter.png",
            "latent-walk.gif",
            "metrics.jsonl",
        ] {
            assert!(out.join(run).join(f).exists(), "{run}/{f} missing");
        }
    }
    // Catches `--device` ignored by the latent-space commands (the autoencoder silently on the
    // CPU): a CPU build asked for CUDA fails in one line and draws nothing.
    let checkpoint = out.join("lambda-20/checkpoint.safetensors");
    let sweep = dir.path().join("sweep.png");
    let args = [
        "ae",
        "sweep",
        "--checkpoint",
        s(&checkpoint),
        "--grid",
        "3",
        "-o",
        s(&sweep),
    ];
    ok(&velprior(&[&args[..], &["--device", "cpu"]].concat()));
    assert!(sweep.exists());
    #[cfg(not(feature = "cuda"))]
    {
        std::fs::remove_file(&sweep).unwrap();
        let failed = velprior(&[&args[..], &["--device", "cuda"]].concat());
        common::one_error_line(&failed, "built without CUDA");
        assert!(!sweep.exists(), "a sweep was drawn");
    }
}

fn write_config(dir: &Path, name: &str, body: &str, corpus: &Path) -> std::path::PathBuf {
    let text = format!(
        "{body}\noutput = \"{}\"\n[data]\ncorpus = \"{}\"\nvmin = 1000.0\nvmax = 5000.0\n",
        dir.join(name).display(),
        corpus.display()
    );
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn train_and_sample_density_and_autoencoder_checkpoints() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = dir.path().join("c.h5");
    ok(&velprior(&[
        "data",
        "synth",
        "-f",
        "two-layer",
        "-n",
        "30",
        "--seed",
        "1",
        "-o",
        corpus.to_str().unwrap(),
    ]));
    let gauss = write_config(dir.path(), "gauss", "kind = \"gaussian\"", &corpus);
    let mut g = std::fs::read_to_string(&gauss).unwrap();
    g.push_str("[model]\nrank = 3\n");
    std::fs::write(&gauss, g).unwrap();
    ok(&velprior(&["train", "--config", gauss.to_str().unwrap()]));
    for (name, model) in [
        ("gmm", "rank = 3\ncomponents = 2\n"),
        ("gp", "kernel = \"exponential\"\nmax_lag = 5\n"),
        (
            "flow",
            "rank = 3\nblocks = 2\nhidden = 8\nepochs = 2\nbatch_size = 8\n",
        ),
    ] {
        let kind = format!("kind = \"{name}\"");
        let path = write_config(dir.path(), name, &kind, &corpus);
        let mut text = std::fs::read_to_string(&path).unwrap();
        text.push_str(&format!("[model]\n{model}"));
        std::fs::write(&path, text).unwrap();
        ok(&velprior(&["train", "--config", path.to_str().unwrap()]));
    }
    let ae = write_config(dir.path(), "ae", "kind = \"autoencoder\"", &corpus);
    let mut a = std::fs::read_to_string(&ae).unwrap();
    a.push_str("[model]\narch = \"mlp\"\nlatent_dim = 2\nlambda = 0.1\n[train]\nepochs = 2\nbatch_size = 8\n");
    std::fs::write(&ae, a).unwrap();
    ok(&velprior(&["train", "--config", ae.to_str().unwrap()]));
    let vae = write_config(dir.path(), "vae", "kind = \"vae\"", &corpus);
    let mut v = std::fs::read_to_string(&vae).unwrap();
    v.push_str("[model]\narch = \"mlp\"\nlatent_dim = 2\nlambda = 1.0\n[train]\nepochs = 2\nbatch_size = 8\n");
    std::fs::write(&vae, v).unwrap();
    ok(&velprior(&["train", "--config", vae.to_str().unwrap()]));
    for run in ["gauss", "gmm", "gp", "flow", "ae", "vae"] {
        let ckpt = dir.path().join(run).join("checkpoint.safetensors");
        let out = dir.path().join(format!("{run}-samples.h5"));
        ok(&velprior(&[
            "sample",
            "--checkpoint",
            ckpt.to_str().unwrap(),
            "-n",
            "4",
            "--seed",
            "3",
            "-o",
            out.to_str().unwrap(),
            "--png",
            dir.path().join(format!("{run}.png")).to_str().unwrap(),
        ]));
        assert!(out.exists() && dir.path().join(format!("{run}.png")).exists());
    }
    // an unknown key is still an error naming the file
    let mut bad = std::fs::read_to_string(&ae).unwrap();
    bad.push_str("bogus = 1\n");
    std::fs::write(&ae, bad).unwrap();
    let out = velprior(&["train", "--config", ae.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("ae.toml") && err.contains("bogus"),
        "{err}"
    );
}
