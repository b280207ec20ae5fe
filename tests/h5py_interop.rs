//! Runs `tests/interop/h5py_interop.py`: files written by velprior are read by h5py and
//! files written by h5py are read by velprior. Skipped (with a message) where python3 with
//! h5py is missing, unless `VELPRIOR_REQUIRE_PYTHON=1` (set by `.ci/run`).

use std::path::Path;
use std::process::Command;

#[test]
fn h5py_round_trips_both_ways() {
    let has_h5py = Command::new("python3")
        .args(["-c", "import h5py, numpy"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_h5py {
        assert!(
            std::env::var("VELPRIOR_REQUIRE_PYTHON").as_deref() != Ok("1"),
            "python3 with h5py is required (VELPRIOR_REQUIRE_PYTHON=1) but missing: pip install h5py numpy"
        );
        eprintln!("skipped: python3 with h5py not found (pip install h5py numpy to run it)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/h5py_interop.py");
    let out = Command::new("python3")
        .arg(&script)
        .arg(env!("CARGO_BIN_EXE_velprior"))
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
