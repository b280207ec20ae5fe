//! End-to-end tests of `velprior data …` and `velprior quickstart` on the built binary:
//! outputs, determinism, and one-line errors for bad input.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn velprior(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_velprior"))
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("binary runs")
}

fn shared(rel: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("data/reference")
        .join(rel)
        .display()
        .to_string()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Asserts a clean failure: non-zero exit, exactly one `error:` line naming `needle`, no
/// panic, and no file at `output`.
fn assert_clean_failure(out: &Output, needle: &str, output: &Path) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "should fail: {stderr}");
    assert!(!stderr.contains("panicked"), "panic: {stderr}");
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error")).collect();
    assert_eq!(errors.len(), 1, "one error line expected: {stderr}");
    assert!(errors[0].contains(needle), "'{needle}' not in: {stderr}");
    assert!(!output.exists(), "no output may be left behind");
    let dir = output.parent().unwrap();
    let leftovers: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

#[test]
fn import_of_shared_marmousi_matches_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("marmousi.h5");
    let r = velprior(&[
        "data",
        "import",
        &shared("marmousi-70x190/velocity.npy"),
        "-o",
        s(&out),
    ]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let corpus = velprior_data::read_corpus(&out, None).unwrap();
    assert_eq!(corpus.shape(), [1, 70, 190]);
    let direct =
        velprior_data::import::read_npy(Path::new(&shared("marmousi-70x190/velocity.npy")))
            .unwrap();
    assert_eq!(corpus.velocity(), &direct.values[..]);
}

#[test]
fn synth_is_deterministic_and_info_show_split_work() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b, c) = (
        dir.path().join("a.h5"),
        dir.path().join("b.h5"),
        dir.path().join("c.h5"),
    );
    for (path, seed) in [(&a, "3"), (&b, "3"), (&c, "4")] {
        let r = velprior(&[
            "data",
            "synth",
            "--family",
            "curvefault",
            "-n",
            "40",
            "--seed",
            seed,
            "-o",
            s(path),
        ]);
        assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    }
    let read = |p: &Path| velprior_data::read_corpus(p, None).unwrap().into_velocity();
    assert_eq!(read(&a), read(&b));
    assert_ne!(read(&a), read(&c));

    let info = velprior(&["data", "info", s(&a), "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&info.stdout).unwrap();
    assert_eq!(v["shape"], serde_json::json!([40, 70, 70]));
    assert!(v["stats"]["min"].as_f64().unwrap() >= 1500.0);

    let png = dir.path().join("grid.png");
    let r = velprior(&[
        "data",
        "show",
        s(&a),
        "-o",
        s(&png),
        "--count",
        "6",
        "--cols",
        "3",
    ]);
    assert!(r.status.success() && png.exists());

    let (train, test) = (dir.path().join("train.h5"), dir.path().join("test.h5"));
    let r = velprior(&[
        "data",
        "split",
        s(&a),
        "--train",
        s(&train),
        "--test",
        s(&test),
        "--test-fraction",
        "0.25",
    ]);
    assert!(r.status.success());
    assert_eq!(velprior_data::read_corpus(&test, None).unwrap().len(), 10);
    assert_eq!(velprior_data::read_corpus(&train, None).unwrap().len(), 30);
}

#[test]
fn bad_inputs_fail_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.h5");
    let o = s(&out);

    let r = velprior(&["data", "info", s(&dir.path().join("missing.h5"))]);
    assert_clean_failure(&r, "not found", &out);

    let text = dir.path().join("text.h5");
    std::fs::write(&text, "not hdf5").unwrap();
    assert_clean_failure(
        &velprior(&["data", "info", s(&text)]),
        "not an HDF5 file",
        &out,
    );
    assert_clean_failure(
        &velprior(&[
            "data",
            "show",
            s(&text),
            "-o",
            &dir.path().join("x.png").display().to_string(),
        ]),
        "not an HDF5 file",
        &dir.path().join("x.png"),
    );

    let good = dir.path().join("good.h5");
    assert!(
        velprior(&["data", "synth", "-f", "flatvel", "-n", "3", "-o", s(&good)])
            .status
            .success()
    );
    assert_clean_failure(
        &velprior(&["data", "info", s(&good), "--dataset", "vp"]),
        "no dataset 'vp'",
        &out,
    );
    assert_clean_failure(
        &velprior(&["data", "show", s(&good), "--index", "7", "-o", o]),
        "does not exist",
        &out,
    );

    // A .npy with NaN, a truncated .npy, a raw file with the wrong dims, a patch too big.
    let mut nan = Vec::from(&b"\x93NUMPY\x01\x00"[..]);
    let header = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }";
    let mut header = header.to_string();
    while !(10 + header.len() + 1).is_multiple_of(64) {
        header.push(' ');
    }
    header.push('\n');
    nan.extend((header.len() as u16).to_le_bytes());
    nan.extend(header.as_bytes());
    let npy_nan = dir.path().join("nan.npy");
    let mut bytes = nan.clone();
    for v in [1500.0f32, f32::NAN, 2000.0, 2100.0] {
        bytes.extend(v.to_le_bytes());
    }
    std::fs::write(&npy_nan, &bytes).unwrap();
    assert_clean_failure(
        &velprior(&["data", "import", s(&npy_nan), "-o", o]),
        "NaN",
        &out,
    );
    // A missing file: the OS error once (catches it repeated by the error chain).
    let missing = dir.path().join("nope.npy");
    let r = velprior(&["data", "import", s(&missing), "-o", o]);
    assert_clean_failure(&r, "nope.npy: No such file or directory", &out);
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert_eq!(stderr.matches("No such file").count(), 1, "{stderr}");
    let npy_short = dir.path().join("short.npy");
    std::fs::write(&npy_short, &bytes[..bytes.len() - 6]).unwrap();
    assert_clean_failure(
        &velprior(&["data", "import", s(&npy_short), "-o", o]),
        "truncated",
        &out,
    );
    let neg = dir.path().join("neg.npy");
    let mut negb = nan.clone();
    for v in [1500.0f32, -1.0, 2000.0, 0.0] {
        negb.extend(v.to_le_bytes());
    }
    std::fs::write(&neg, &negb).unwrap();
    assert_clean_failure(
        &velprior(&["data", "import", s(&neg), "-o", o]),
        "non-positive",
        &out,
    );

    let raw = dir.path().join("m.bin");
    std::fs::write(&raw, vec![0u8; 4 * 12]).unwrap();
    assert_clean_failure(
        &velprior(&[
            "data",
            "import",
            s(&raw),
            "--format",
            "raw",
            "--shape",
            "5x5",
            "-o",
            o,
        ]),
        "5x5",
        &out,
    );
    assert_clean_failure(
        &velprior(&["data", "import", s(&raw), "-o", o]),
        "--format",
        &out,
    );

    let marm = shared("marmousi-70x190/velocity.npy");
    assert_clean_failure(
        &velprior(&["data", "import", &marm, "--patch", "100x100", "-o", o]),
        "larger than the model",
        &out,
    );

    let sgy = dir.path().join("cut.sgy");
    std::fs::write(&sgy, vec![0u8; 3000]).unwrap();
    assert_clean_failure(
        &velprior(&["data", "import", s(&sgy), "-o", o]),
        "SEG-Y",
        &out,
    );

    assert_clean_failure(
        &velprior(&["data", "synth", "-f", "flatvel", "-n", "0", "-o", o]),
        "n >= 1",
        &out,
    );
}

#[test]
fn quickstart_writes_a_run_folder() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let r = velprior(&[
        "quickstart",
        "--out",
        s(&run),
        "-n",
        "64",
        "--train-steps",
        "0",
        "--posterior-steps",
        "0",
    ]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    for f in [
        "config.json",
        "summary.json",
        "corpus.h5",
        "train.h5",
        "test.h5",
        "corpus.png",
        "family-marmousi.png",
    ] {
        assert!(run.join(f).exists(), "{f} missing");
    }
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["corpus"]["models"], 64);
}

/// Logs written to a pipe carry no ANSI colour codes (colour only on a terminal).
#[test]
fn logs_to_a_pipe_are_plain_text() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("c.h5");
    let r = Command::new(env!("CARGO_BIN_EXE_velprior"))
        .args(["data", "synth", "-f", "flatvel", "-n", "2", "-o", s(&out)])
        .env("RUST_LOG", "info")
        .output()
        .expect("binary runs");
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert!(r.status.success() && stderr.contains("INFO"), "{stderr}");
    assert!(
        !stderr.contains('\u{1b}'),
        "ANSI escape in piped logs: {stderr:?}"
    );
}
