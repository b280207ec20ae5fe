//! `--device` at the command line: a CPU build asked for a GPU says how to get one in one line,
//! a misspelt device names the accepted ones, and a config's `device =` is read (a GPU config on
//! a CPU build fails the same way before any run folder is written). Catches a device flag that
//! is ignored (training silently on the CPU) or a panic deep in candle.

// A CUDA build accepts `--device cuda`: these checks are the CPU build's.
#![cfg(not(feature = "cuda"))]

mod common;

use common::{one_error_line, s, velprior};

#[test]
fn cuda_on_a_cpu_build_is_one_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let out_file = dir.path().join("x.h5");
    let out = velprior(&[
        "sample",
        "--checkpoint",
        "priors/marmousi70-small/prior.safetensors",
        "--device",
        "cuda",
        "-n",
        "1",
        "-o",
        s(&out_file),
    ]);
    one_error_line(&out, "built without CUDA");
    assert!(!out_file.exists(), "an output was written");
    // The dashboard opens its device before it serves (the runs folder, missing here, would
    // be the error if the flag were ignored).
    let out = velprior(&["serve", s(&dir.path().join("no-runs")), "--device", "cuda"]);
    one_error_line(&out, "built without CUDA");
}

#[test]
fn a_config_that_asks_for_a_gpu_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = dir.path().join("c.h5");
    common::flatvel_corpus(&corpus, 4, "8x8");
    let config = dir.path().join("gpu.toml");
    let run = dir.path().join("run");
    std::fs::write(
        &config,
        format!(
            "output = \"{}\"\ndevice = \"cuda:1\"\n[data]\ncorpus = \"{}\"\nvmin = 1500.0\nvmax = 4500.0\n",
            s(&run),
            s(&corpus)
        ),
    )
    .unwrap();
    let out = velprior(&["train", "--config", s(&config)]);
    one_error_line(&out, "device cuda:1: this velprior was built without CUDA");
    // A misspelt `--device` is refused by name.
    let out = velprior(&["train", "--config", s(&config), "--device", "gpu"]);
    one_error_line(&out, "use cpu, cuda or cuda:N");
}
