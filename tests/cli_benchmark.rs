//! `velprior benchmark`: a method that does nothing scores exactly the start model, RED-diff's
//! prior is used, a rerun and a killed run resume without redoing finished inversions, shards
//! merge into the unsharded table, and bad configs are one error line with nothing written.

mod common;

use std::path::Path;

use common::{ok, one_error_line, s, velprior};

/// A benchmark small enough for a test: 70×70 models (the shipped priors' size), 3 shots of
/// 300 steps, two conditions, and `methods` (TOML `[[method]]` entries).
fn config(models: usize, methods: &str) -> String {
    format!(
        "misfit = \"l1\"\nsmooth_sigma = 10.0\nvmin = 1500.0\nvmax = 4500.0\n\n\
         [test_set]\nfamilies = [\"curvefault\"]\nmodels = {models}\nsize = [70, 70]\nseed = 700000\n\n\
         [solver]\ndx = 10.0\ndt = 0.001\norder = 4\nfreq = 15.0\nfree_surface = false\n\n\
         [solver.boundary]\nkind = \"cpml\"\nwidth = 10\nreflection = 0.001\nmax_velocity = 4500.0\n\n\
         [acquisition]\nn_sources = 3\ndepth = 1\nnt = 300\nwavelet = {{ kind = \"openfwi\", freq = 15.0 }}\n\n\
         [[condition]]\nname = \"clean\"\n\n[[condition]]\nname = \"noisy\"\nnoise = \"gaussian:0.05\"\n\n{methods}"
    )
}

/// Plain FWI with no regularisation and a zero learning rate returns its start, so its scores
/// are the start's.
const STILL: &str = "[[method]]\nname = \"still\"\n\
    fwi = { iterations = 1, optimizer = { kind = \"adam\", lr = 0.0 } }\n\n";
const RED_DIFF: &str = "[[method]]\nname = \"RED-diff\"\nprior = \"priors/marmousi70-small/prior.safetensors\"\n\
    posterior = { kind = \"red-diff\", iterations = 2, lr = 0.03, lambda = 0.75, t_min = 0.001, t_max = 1.0, samples = 1 }\n";

/// A two-stage method: RED-diff's mode under a Gaussian likelihood (σ = 5 % of the data RMS),
/// then a second stage that does not move (RED-diff with a zero learning rate returns its
/// start), so the method's result is the first stage's.
const TWO_STAGE: &str = "[[method]]\nname = \"two-stage\"\nprior = \"priors/marmousi70-small/prior.safetensors\"\n\
    misfit = \"l2\"\nnoise_relative = 0.05\n\
    start_method = { kind = \"red-diff\", iterations = 3, lr = 0.05, lambda = 1e7, t_min = 0.001, t_max = 1.0, samples = 1 }\n\
    posterior = { kind = \"red-diff\", iterations = 1, lr = 0.0, lambda = 0.75, t_min = 0.001, t_max = 1.0, samples = 1 }\n";

fn records(out: &Path) -> Vec<serde_json::Value> {
    let mut all = Vec::new();
    for entry in std::fs::read_dir(out.join("results")).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        all.extend(text.lines().filter_map(|l| serde_json::from_str(l).ok()));
    }
    all
}

/// How far an inversion moved its model: |SSIM of the result − SSIM of the start|.
fn ssim_change(record: &serde_json::Value) -> f64 {
    (record["ssim"].as_f64().unwrap() - record["start_ssim"].as_f64().unwrap()).abs()
}

fn run(cfg: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["benchmark", "--config", s(cfg), "--out", s(out)];
    args.extend(extra);
    velprior(&args)
}

/// Catches scores of the wrong model (the start's SSIM must come back from a method
/// that does not move), rows missing from the table, and a resume that redoes or loses work.
#[test]
fn scores_resume_and_shards() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("bench.toml");
    std::fs::write(&cfg, config(1, &format!("{STILL}{RED_DIFF}"))).unwrap();
    let out = dir.path().join("out");
    ok(&run(&cfg, &out, &[]));
    let first = records(&out);
    assert_eq!(first.len(), 2 * 2, "1 model × 2 conditions × 2 methods");
    for r in &first {
        if r["method"] == "still" {
            // Up to the f32 round trip through FWI's normalised units.
            assert!(ssim_change(r) < 1e-6, "{r}");
        }
        assert!(r["ssim"].as_f64().unwrap().is_finite(), "{r}");
    }
    let table = std::fs::read_to_string(out.join("summary.md")).unwrap();
    assert_eq!(table.lines().count(), 2 + 4, "{table}");
    for f in [
        "summary.csv",
        "summary.json",
        "examples.png",
        "boxplots.png",
        "config.toml",
    ] {
        assert!(out.join(f).exists(), "{f} missing");
    }

    // A rerun redoes nothing; a record cut by a kill is redone, once.
    let part = out.join("results/all.jsonl");
    let text = std::fs::read_to_string(&part).unwrap();
    let cut = text.trim_end().rfind('\n').unwrap() + 10;
    std::fs::write(&part, &text[..cut]).unwrap();
    ok(&run(&cfg, &out, &[]));
    let again = records(&out);
    assert_eq!(again.len(), 4);
    assert_eq!(
        again[..3],
        first[..3],
        "finished inversions are kept as they were"
    );

    // Two shards of two models, then the unsharded command only tabulates.
    std::fs::write(&cfg, config(2, STILL)).unwrap();
    let sharded = dir.path().join("sharded");
    for shard in ["0/2", "1/2"] {
        ok(&run(&cfg, &sharded, &["--shard", shard]));
    }
    assert_eq!(records(&sharded).len(), 2 * 2);
    let t0 = std::time::Instant::now();
    ok(&run(&cfg, &sharded, &[]));
    assert_eq!(records(&sharded).len(), 4, "the unsharded run adds nothing");
    let table = std::fs::read_to_string(sharded.join("summary.md")).unwrap();
    assert!(
        table.contains("| curvefault | noisy | still | 2 |"),
        "{table}"
    );
    eprintln!("tabulating {:.1} s", t0.elapsed().as_secs_f64());
}

/// Catches a method's `start_method` being ignored (its result would be the start: the second
/// stage does not move).
#[test]
fn a_two_stage_method_starts_from_its_first_stage() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("bench.toml");
    std::fs::write(&cfg, config(1, &format!("{STILL}{TWO_STAGE}"))).unwrap();
    let out = dir.path().join("out");
    ok(&run(&cfg, &out, &[]));
    let all = records(&out);
    assert_eq!(all.len(), 2 * 2, "1 model × 2 conditions × 2 methods");
    for r in all.iter().filter(|r| r["method"] == "two-stage") {
        assert!(
            ssim_change(r) > 1e-3,
            "the first stage moved the model: {r}"
        );
    }
    // The same method without its first stage returns the start.
    let one_stage = TWO_STAGE.replace("start_method", "# start_method");
    std::fs::write(&cfg, config(1, &one_stage)).unwrap();
    let out = dir.path().join("one-stage");
    ok(&run(&cfg, &out, &[]));
    for r in records(&out) {
        assert!(ssim_change(&r) < 1e-6, "{r}");
    }
}

/// Catches a folder refusing a config that only adds a method (the user would redo every
/// inversion), and one accepting a changed method (its records would mix two settings).
#[test]
fn a_config_may_add_methods_to_a_folder() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("bench.toml");
    let out = dir.path().join("out");
    std::fs::write(&cfg, config(1, STILL)).unwrap();
    ok(&run(&cfg, &out, &[]));
    let first = records(&out);
    let added = STILL.replace("name = \"still\"", "name = \"still too\"");
    std::fs::write(&cfg, config(1, &format!("{STILL}{added}"))).unwrap();
    ok(&run(&cfg, &out, &[]));
    let both = records(&out);
    assert_eq!(both.len(), 2 * 2, "the added method's inversions, once");
    assert_eq!(
        both[..2],
        first[..],
        "the folder's inversions are kept as they were"
    );
    let changed = STILL.replace("iterations = 1", "iterations = 2");
    std::fs::write(&cfg, config(1, &format!("{changed}{added}"))).unwrap();
    one_error_line(&run(&cfg, &out, &[]), "a config may only add methods to it");
}

#[test]
fn bad_configs_are_one_error_line() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("bench.toml");
    let out = dir.path().join("out");
    for (text, needle) in [
        (
            config(1, STILL).replace("gaussian:0.05", "gauss:0.05"),
            "condition noisy: noise",
        ),
        (
            config(1, &STILL.replace("fwi =", "prior = \"x\"\nfwi =")),
            "method still: give either fwi",
        ),
        (
            config(1, &RED_DIFF.replace("marmousi70-small", "nope")),
            "method RED-diff: prior priors/nope",
        ),
        (
            config(1, &STILL.replace("fwi =", "noise_relative = 0.05\nfwi =")),
            "method still: misfit, likelihood_scale, noise_relative and start_method are for posterior methods",
        ),
        (
            config(
                1,
                &TWO_STAGE.replace("noise_relative", "likelihood_scale = 1.0\nnoise_relative"),
            ),
            "method two-stage: give likelihood_scale or noise_relative, not both",
        ),
        (
            config(
                1,
                &TWO_STAGE.replace("noise_relative = 0.05", "noise_relative = -1.0"),
            ),
            "noise_relative = -1: must be finite and > 0",
        ),
        (config(0, STILL), "models >= 1"),
        (
            config(1, ""),
            "at least one [[condition]] and one [[method]]",
        ),
        (config(1, STILL).replace("curvefault", "curvy"), "curvy"),
        // 10⁸ time steps: 240 GB of data for one model, refused before anything is allocated.
        (
            config(1, STILL).replace("nt = 300", "nt = 100000000"),
            "seismic data of one model",
        ),
    ] {
        std::fs::write(&cfg, text).unwrap();
        one_error_line(&run(&cfg, &out, &[]), needle);
        assert!(!out.exists(), "nothing is written for: {needle}");
    }
    // Another config into the same folder is refused.
    std::fs::write(&cfg, config(1, STILL)).unwrap();
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("config.toml"), "something else").unwrap();
    one_error_line(&run(&cfg, &out, &[]), "holds a benchmark of another config");
}

/// A test set imported from a file (OpenFWI's CurveFault sample) is a family named by the
/// file's stem; a file of the wrong size is one error line.
#[test]
fn imported_models_are_a_family() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("bench.toml");
    let imported = config(1, STILL).replace(
        "families = [\"curvefault\"]",
        "files = [\"data/reference/openfwi-curvefault-sample/velocity.npy\"]",
    );
    std::fs::write(&cfg, &imported).unwrap();
    let out = dir.path().join("out");
    ok(&run(&cfg, &out, &[]));
    let all = records(&out);
    assert_eq!(all.len(), 2);
    assert!(all.iter().all(|r| r["family"] == "velocity"), "{all:?}");
    std::fs::write(&cfg, imported.replace("size = [70, 70]", "size = [70, 80]")).unwrap();
    one_error_line(
        &run(&cfg, &dir.path().join("other"), &[]),
        "holds 1 models of 70x70; the test set needs 1 of 70x80",
    );
}
