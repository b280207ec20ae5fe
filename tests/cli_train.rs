//! End-to-end: `velprior train` then `velprior sample` on a tiny config, the quickstart with a
//! short training run, and clear errors for bad configs and checkpoints.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::{flatvel_corpus, one_error_line};

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

fn tiny_config(dir: &Path, corpus: &Path) -> std::path::PathBuf {
    let text = format!(
        "output = \"{}\"\n[data]\ncorpus = \"{}\"\nvmin = 1500.0\nvmax = 4500.0\n\
         [model]\nbase_channels = 8\nchannel_mult = [1, 2]\nres_blocks_per_level = 1\ngroups = 4\n\
         time_sinusoid_dim = 8\ntime_embed_dim = 16\n[diffusion]\ntimesteps = 50\n\
         [train]\nsteps = 6\nbatch_size = 2\nlog_every = 2\ncheckpoint_every = 3\nsample_count = 2\nsample_steps = 3\n",
        dir.join("run").display(),
        corpus.display()
    );
    let path = dir.join("tiny.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn train_then_sample() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = dir.path().join("c.h5");
    flatvel_corpus(&corpus, 6, "12x12");
    let cfg = tiny_config(dir.path(), &corpus);
    ok(&velprior(&[
        "train",
        "--config",
        cfg.to_str().unwrap(),
        "--stop-after",
        "3",
    ]));
    ok(&velprior(&[
        "train",
        "--config",
        cfg.to_str().unwrap(),
        "--resume",
    ]));
    let run = dir.path().join("run");
    for f in [
        "checkpoint.safetensors",
        "checkpoint.safetensors.json",
        "metrics.jsonl",
        "config.toml",
        "samples-step000006.png",
    ] {
        assert!(run.join(f).exists(), "{f} missing");
    }
    assert_eq!(
        std::fs::read_to_string(run.join("metrics.jsonl"))
            .unwrap()
            .lines()
            .count(),
        4,
        "log lines at steps 2 and 3 (end of the interrupted run), then 4 and 6"
    );

    let ckpt = run.join("checkpoint.safetensors");
    python_reads_checkpoint(&ckpt);

    let out = dir.path().join("samples.h5");
    let (png, gif) = (dir.path().join("s.png"), dir.path().join("t.gif"));
    ok(&velprior(&[
        "sample",
        "--checkpoint",
        ckpt.to_str().unwrap(),
        "-n",
        "3",
        "--batch",
        "2",
        "--steps",
        "4",
        "-o",
        out.to_str().unwrap(),
        "--png",
        png.to_str().unwrap(),
        "--gif",
        gif.to_str().unwrap(),
    ]));
    let samples = velprior_data::read_corpus(&out, None).unwrap();
    assert_eq!(samples.shape(), [3, 12, 12]);
    assert!(
        samples
            .velocity()
            .iter()
            .all(|&v| (1500.0..=4500.0).contains(&v))
    );
    assert!(png.exists() && gif.exists());
    // Same seed, same bits.
    let again = dir.path().join("again.h5");
    ok(&velprior(&[
        "sample",
        "--checkpoint",
        ckpt.to_str().unwrap(),
        "-n",
        "3",
        "--batch",
        "2",
        "--steps",
        "4",
        "-o",
        again.to_str().unwrap(),
    ]));
    assert_eq!(
        velprior_data::read_corpus(&again, None).unwrap().velocity(),
        samples.velocity()
    );

    // Dynamic thresholding keeps the models in range; it is DPM-Solver++'s default at 0.95
    // (catches a default left at clipping: the untrained network's x̂0 overshoots, so clipping
    // draws other bits), `off` clips, and the value is a quantile.
    let thresholded = dir.path().join("thresholded.h5");
    let sample_with = |extra: &[&str], out: &Path| {
        let mut args = vec!["sample", "--checkpoint", ckpt.to_str().unwrap(), "-n", "2"];
        args.extend_from_slice(&["--steps", "4", "-o", out.to_str().unwrap()]);
        args.extend_from_slice(extra);
        velprior(&args)
    };
    ok(&sample_with(&["--dynamic-threshold", "0.9"], &thresholded));
    let models = velprior_data::read_corpus(&thresholded, None).unwrap();
    assert!(
        models
            .velocity()
            .iter()
            .all(|&v| (1500.0..=4500.0).contains(&v))
    );
    let velocities = |extra: &[&str], name: &str| {
        let out = dir.path().join(name);
        ok(&sample_with(extra, &out));
        velprior_data::read_corpus(&out, None)
            .unwrap()
            .velocity()
            .to_vec()
    };
    let default = velocities(&[], "default.h5");
    assert_eq!(
        default,
        velocities(&["--dynamic-threshold", "0.95"], "q95.h5")
    );
    assert_ne!(
        default,
        velocities(&["--dynamic-threshold", "off"], "clipped.h5")
    );
    let bad = dir.path().join("bad.h5");
    one_error_line(
        &sample_with(&["--dynamic-threshold", "high"], &bad),
        "neither a quantile in (0, 1] (e.g. 0.95) nor 'off'",
    );
    one_error_line(
        &sample_with(&["--sampler", "ddim", "--dynamic-threshold", "0.9"], &bad),
        "--sampler dpm-solver only",
    );
    one_error_line(
        &sample_with(&["--dynamic-threshold", "1.5"], &bad),
        "must be a quantile in (0, 1]",
    );
    assert!(!bad.exists());

    let cut = dir.path().join("cut.safetensors");
    let bytes = std::fs::read(&ckpt).unwrap();
    std::fs::write(&cut, &bytes[..bytes.len() - 100]).unwrap();
    one_error_line(
        &velprior(&[
            "sample",
            "--checkpoint",
            cut.to_str().unwrap(),
            "-o",
            bad.to_str().unwrap(),
        ]),
        "truncated",
    );
    assert!(!bad.exists());
}

/// Python's `safetensors` opens the checkpoint and finds the documented tensor names and the
/// velprior metadata. Skipped where python3 with safetensors is missing, unless
/// `VELPRIOR_REQUIRE_PYTHON=1`.
fn python_reads_checkpoint(ckpt: &Path) {
    let script = r#"
import json, sys
from safetensors import safe_open
with safe_open(sys.argv[1], framework="numpy") as f:
    keys = set(f.keys())
    meta = json.loads(f.metadata()["velprior"])
    w = f.get_tensor("model.conv_in.weight")
for prefix in ("model.", "ema.", "adam_m.", "adam_v."):
    assert any(k.startswith(prefix) for k in keys), prefix
assert "ema.conv_in.weight" in keys and w.shape == (8, 1, 3, 3), w.shape
assert meta["kind"] == "diffusion" and meta["step"] == 6, meta
print("ok")
"#;
    let has = Command::new("python3")
        .args(["-c", "import safetensors, numpy"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has {
        assert!(
            std::env::var("VELPRIOR_REQUIRE_PYTHON").as_deref() != Ok("1"),
            "python3 with safetensors required"
        );
        eprintln!("skipped: python3 with safetensors not found");
        return;
    }
    let out = Command::new("python3")
        .args(["-c", script])
        .arg(ckpt)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn bad_config_keys_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("bad.toml");
    std::fs::write(&cfg, "output = \"x\"\n[data]\ncorpus = \"c.h5\"\nvmin = 1500.0\nvmax = 4500.0\nlearning_rate = 3\n").unwrap();
    one_error_line(
        &velprior(&["train", "--config", cfg.to_str().unwrap()]),
        "learning_rate",
    );
    one_error_line(
        &velprior(&[
            "train",
            "--config",
            dir.path().join("missing.toml").to_str().unwrap(),
        ]),
        "missing.toml",
    );
}

#[test]
fn quickstart_trains_and_samples() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("qs");
    ok(&velprior(&[
        "quickstart",
        "--out",
        run.to_str().unwrap(),
        "-n",
        "32",
        "--train-steps",
        "4",
        "--sample-steps",
        "2",
        "--prior-samples",
        "2",
        "--prior-steps",
        "2",
        "--posterior-steps",
        "2",
    ]));
    for f in [
        "demo-samples.h5",
        "demo-samples.png",
        "samples.h5",
        "samples.png",
        "posterior/metrics.json",
        "posterior/calibration.png",
        "prior/checkpoint.safetensors",
        "summary.json",
    ] {
        assert!(run.join(f).exists(), "{f} missing");
    }
}

/// A run that cannot start (the corpus is missing) leaves no run folder behind. Catches the
/// config being copied into the run folder before the corpus is read.
#[test]
fn a_run_that_cannot_start_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = tiny_config(dir.path(), &dir.path().join("missing.h5"));
    let out = velprior(&["train", "--config", cfg.to_str().unwrap()]);
    one_error_line(&out, "missing.h5");
    assert!(!dir.path().join("run").exists(), "a run folder was written");
}

/// Asking for more samples than memory holds is refused up front, naming what it needs and how
/// to ask for less, and writes no file. Catches the check missing: the run then samples batch
/// after batch until the machine runs out of memory (killed here after 60 s).
#[test]
fn more_samples_than_memory_holds_are_refused() {
    if velprior_data::memory::available_bytes().is_none() {
        return; // not Linux: the check is off
    }
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("samples.h5");
    let prior = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/priors/marmousi70-small/prior.safetensors"
    );
    let mut child = common::cmd(&[
        "sample",
        "--checkpoint",
        prior,
        "-n",
        "100000000000",
        "--output",
        output.to_str().unwrap(),
    ])
    .stdout(std::process::Stdio::null())
    .stderr(std::process::Stdio::piped())
    .spawn()
    .unwrap();
    let start = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed().as_secs() > 60 {
            child.kill().unwrap();
            panic!("still sampling after 60 s: the request was not refused");
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let out = child.wait_with_output().unwrap();
    one_error_line(&out, "100000000000 models of 70x70 need");
    assert!(String::from_utf8_lossy(&out.stderr).contains("--shard"));
    assert!(!output.exists(), "a file was written");
}

/// Models smaller than the UNet's downsampling factor are refused with the minimum size.
/// Catches a corpus of tiny models training without complaint.
#[test]
fn models_smaller_than_the_unet_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = dir.path().join("c.h5");
    flatvel_corpus(&corpus, 4, "8x8");
    let cfg = tiny_config(dir.path(), &corpus);
    let text = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace("channel_mult = [1, 2]", "channel_mult = [1, 2, 2, 2, 2]");
    std::fs::write(&cfg, text).unwrap();
    let out = velprior(&["train", "--config", cfg.to_str().unwrap()]);
    one_error_line(&out, "need at least 16x16");
    assert!(!dir.path().join("run").exists());
}

/// `velprior export` keeps the EMA weights and the metadata: the export samples the same
/// models as the training checkpoint (catches metadata lost on the way, or the raw weights
/// exported instead of the EMA ones), and is a fraction of its size.
#[test]
fn exported_priors_sample_like_their_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let ckpt = common::tiny_prior(dir.path());
    let prior = dir.path().join("prior.safetensors");
    ok(&velprior(&[
        "export",
        "--checkpoint",
        ckpt.to_str().unwrap(),
        "-o",
        prior.to_str().unwrap(),
    ]));
    let size = |p: &Path| std::fs::metadata(p).unwrap().len();
    assert!(
        size(&prior) * 3 < size(&ckpt),
        "{} vs {}",
        size(&prior),
        size(&ckpt)
    );
    let draw = |ck: &Path, out: &str| {
        let o = dir.path().join(out);
        ok(&velprior(&[
            "sample",
            "--checkpoint",
            ck.to_str().unwrap(),
            "-n",
            "2",
            "--steps",
            "3",
            "-o",
            o.to_str().unwrap(),
        ]));
        common::corpus_bits(&o).0
    };
    assert_eq!(draw(&ckpt, "a.h5"), draw(&prior, "b.h5"));
    let out = velprior(&[
        "export",
        "--checkpoint",
        "nope.safetensors",
        "-o",
        "x.safetensors",
    ]);
    one_error_line(&out, "nope.safetensors");
}

/// `--init` starts a fresh run (step 0, the whole schedule) from a checkpoint's EMA weights,
/// refuses to combine with data-parallel workers, and names a mismatched model without leaving
/// a run folder. Catches the flag being ignored (a run that does not log from step 2 again) or
/// resuming instead.
#[test]
fn init_starts_a_fresh_run_from_a_priors_weights() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = dir.path().join("c.h5");
    flatvel_corpus(&corpus, 6, "12x12");
    let cfg = tiny_config(dir.path(), &corpus);
    ok(&velprior(&["train", "--config", cfg.to_str().unwrap()]));
    let first = dir.path().join("first.safetensors");
    std::fs::rename(dir.path().join("run/checkpoint.safetensors"), &first).unwrap();
    std::fs::remove_dir_all(dir.path().join("run")).unwrap();
    let init = |extra: &[&str]| {
        let mut args = vec![
            "train",
            "--config",
            cfg.to_str().unwrap(),
            "--init",
            first.to_str().unwrap(),
        ];
        args.extend(extra);
        velprior(&args)
    };
    ok(&init(&[]));
    let log = std::fs::read_to_string(dir.path().join("run/metrics.jsonl")).unwrap();
    let first_line: serde_json::Value = serde_json::from_str(log.lines().next().unwrap()).unwrap();
    assert_eq!(first_line["step"], 2, "{log}");
    one_error_line(
        &init(&["--workers", "2"]),
        "--init applies to single-process",
    );
    let other = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace("base_channels = 8", "base_channels = 4");
    std::fs::write(&cfg, other).unwrap();
    std::fs::remove_dir_all(dir.path().join("run")).unwrap();
    one_error_line(&init(&[]), "[model]");
    assert!(
        !dir.path().join("run").exists(),
        "a refused run leaves no folder"
    );
}
