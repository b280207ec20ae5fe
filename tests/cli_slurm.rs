//! End-to-end: the documented Slurm job-array script of a posterior study run under a real
//! single-node Slurm (slurmctld + slurmd + munge, started as root by
//! `configs/slurm/local-cluster.sh`; `scripts/setup.sh --test` installs the packages), merged to
//! the bits of the unsharded run. Says so and passes where Slurm cannot start.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{cmd, corpus_bits, ok, s, tiny_posterior, velprior};

/// Stops the throwaway cluster of `configs/slurm/local-cluster.sh` when dropped (also on panic).
struct Cluster(PathBuf);

impl Drop for Cluster {
    fn drop(&mut self) {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/slurm/local-cluster.sh");
        let _ = Command::new("bash")
            .arg(script)
            .args(["stop", s(&self.0)])
            .status();
    }
}

/// Whether a real single-node Slurm can be started here: root, with slurmctld, slurmd, sbatch
/// and munged installed (`bash scripts/setup.sh --test` installs them).
fn slurm_available() -> Result<(), String> {
    let uid = Command::new("id")
        .arg("-u")
        .output()
        .map_err(|e| e.to_string())?;
    if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
        return Err("not root".into());
    }
    for tool in ["slurmctld", "slurmd", "sbatch", "munged"] {
        let found = ["/usr/sbin", "/usr/bin"]
            .iter()
            .any(|d| Path::new(d).join(tool).exists());
        if !found {
            return Err(format!("{tool} not installed"));
        }
    }
    Ok(())
}

/// The documented job-array script, `configs/slurm/posterior-study.sbatch`, submitted to a real
/// single-node Slurm (slurmctld + slurmd + munge started by `configs/slurm/local-cluster.sh`)
/// as `--array=0-1`, then merged: the bits of the unsharded run. Where Slurm cannot be started
/// (not root, packages missing) the test says so on stderr and passes, unless
/// VELPRIOR_REQUIRE_SLURM=1; tests/cli_shard.rs covers the same path as local processes.
#[test]
fn slurm_job_array_of_the_posterior_script_merges_to_the_unsharded_run() {
    if let Err(why) = slurm_available() {
        assert!(
            std::env::var("VELPRIOR_REQUIRE_SLURM").is_err(),
            "VELPRIOR_REQUIRE_SLURM is set but Slurm cannot start: {why}"
        );
        eprintln!("cli_slurm: Slurm not available ({why}); job arrays ran as local processes only");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let cluster = dir.path().join("cluster");
    // Free ports, so that test runs side by side get clusters of their own.
    let port = || {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port().to_string()
    };
    let started = Command::new("bash")
        .arg(root.join("configs/slurm/local-cluster.sh"))
        .args(["start", s(&cluster)])
        .env("VELPRIOR_SLURMCTLD_PORT", port())
        .env("VELPRIOR_SLURMD_PORT", port())
        .output()
        .unwrap();
    let _guard = Cluster(cluster.clone());
    ok(&started);
    let conf = cluster.join("slurm.conf");
    let config = tiny_posterior(dir.path());
    let single = dir.path().join("single");
    ok(&cmd(&[
        "posterior",
        "--config",
        s(&config),
        "--seed",
        "3",
        "--out",
        s(&single),
    ])
    .output()
    .unwrap());
    let out = dir.path().join("study");
    let submitted = Command::new("sbatch")
        .env("SLURM_CONF", &conf)
        .env("VELPRIOR", env!("CARGO_BIN_EXE_velprior"))
        .env("RUST_LOG", "warn")
        .args([
            "--parsable",
            "--array=0-1",
            "--cpus-per-task=1",
            &format!("--chdir={}", s(dir.path())),
            &format!("--output={}/slurm-%a.out", s(dir.path())),
        ])
        .arg(root.join("configs/slurm/posterior-study.sbatch"))
        .args([s(&config), s(&out), "3"])
        .output()
        .unwrap();
    ok(&submitted);
    let job = String::from_utf8_lossy(&submitted.stdout)
        .trim()
        .to_string();
    let t0 = std::time::Instant::now();
    loop {
        let q = Command::new("squeue")
            .env("SLURM_CONF", &conf)
            .args(["-h", "-j", &job])
            .output()
            .unwrap();
        if String::from_utf8_lossy(&q.stdout).trim().is_empty() {
            break;
        }
        assert!(
            t0.elapsed().as_secs() < 180,
            "job array {job} still queued after 3 min"
        );
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
    let merged = dir.path().join("merged");
    let shards = dir.path().join("study.shards");
    let logs: String = (0..2)
        .map(|a| {
            std::fs::read_to_string(dir.path().join(format!("slurm-{a}.out"))).unwrap_or_default()
        })
        .collect();
    let o = velprior(&["merge", s(&shards), "--out", s(&merged)]);
    assert!(
        o.status.success(),
        "{}\njob logs:\n{logs}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        logs.contains("shard 0/2") && logs.contains("shard 1/2"),
        "{logs}"
    );
    assert_eq!(
        corpus_bits(&merged.join("samples.h5")),
        corpus_bits(&single.join("samples.h5"))
    );
    eprintln!("cli_slurm: ran as a Slurm job array (job {job}) on a single-node cluster");
}
