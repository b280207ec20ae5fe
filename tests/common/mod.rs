//! Helpers shared by the end-to-end tests (each test binary uses some of them).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Writes an f32 .npy file of `shape` (the library's writer).
pub fn write_npy(path: &Path, shape: &[usize], values: &[f32]) {
    velprior_data::write_npy(path, shape, values).unwrap();
}

/// The velprior binary with `args`, quiet logs, outside any Slurm job array.
pub fn cmd(args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_velprior"));
    c.args(args)
        .env("RUST_LOG", "warn")
        .env_remove("SLURM_ARRAY_TASK_ID");
    c
}

pub fn velprior(args: &[&str]) -> Output {
    cmd(args).output().expect("binary runs")
}

pub fn ok(out: &Output) {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Asserts a clean failure: non-zero exit, no panic, exactly one `error` line, naming `needle`.
pub fn one_error_line(out: &Output, needle: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && !stderr.contains("panicked"),
        "{stderr}"
    );
    let lines: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error")).collect();
    assert!(
        lines.len() == 1 && lines[0].contains(needle),
        "'{needle}' not in: {stderr}"
    );
}

pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Writes `n` flat-layer models of `size` ("HxW") to the corpus `path`.
pub fn flatvel_corpus(path: &Path, n: usize, size: &str) {
    ok(&velprior(&[
        "data",
        "synth",
        "-f",
        "flatvel",
        "-n",
        &n.to_string(),
        "--size",
        size,
        "-o",
        s(path),
    ]));
}

/// Trains a tiny diffusion prior on 16x16 flat-layer models; returns its checkpoint.
pub fn tiny_prior(dir: &Path) -> PathBuf {
    let corpus = dir.join("c.h5");
    flatvel_corpus(&corpus, 6, "16x16");
    let text = format!(
        "output = \"{}\"\n[data]\ncorpus = \"{}\"\nvmin = 1500.0\nvmax = 4500.0\n\
         [model]\nbase_channels = 8\nchannel_mult = [1, 2]\nres_blocks_per_level = 1\ngroups = 4\n\
         time_sinusoid_dim = 8\ntime_embed_dim = 16\n[diffusion]\ntimesteps = 50\n\
         [train]\nsteps = 2\nbatch_size = 2\nlog_every = 1\ncheckpoint_every = 2\nsample_count = 0\n",
        s(&dir.join("prior")),
        s(&corpus)
    );
    let cfg = dir.join("prior.toml");
    std::fs::write(&cfg, text).unwrap();
    ok(&velprior(&["train", "--config", s(&cfg)]));
    dir.join("prior/checkpoint.safetensors")
}

/// The velocity array's bits and the spacing/source attributes of an HDF5 corpus.
pub fn corpus_bits(path: &Path) -> (Vec<u32>, [usize; 3], String, u64, u64) {
    let c = velprior_data::read_corpus(path, None).unwrap();
    (
        c.velocity().iter().map(|v| v.to_bits()).collect(),
        c.shape(),
        c.meta.source.clone(),
        c.meta.dx.to_bits(),
        c.meta.dz.to_bits(),
    )
}

/// A tiny RED-diff posterior config (16x16, 2 shots, 60 time steps, 3 chains) over a tiny
/// prior, with made-up data; returns its path.
pub fn tiny_posterior(dir: &Path) -> PathBuf {
    let ckpt = tiny_prior(dir);
    let (nz, nx, nt, shots) = (16, 16, 60, 2);
    let truth: Vec<f32> = (0..nz * nx)
        .map(|i| 2000.0 + 60.0 * (i / nx) as f32)
        .collect();
    let data: Vec<f32> = (0..shots * nt * nx)
        .map(|i| (i as f32 * 0.37).sin() * 1e-3)
        .collect();
    let (truth_path, data_path) = (dir.join("truth.npy"), dir.join("data.npy"));
    write_npy(&truth_path, &[nz, nx], &truth);
    write_npy(&data_path, &[shots, nt, nx], &data);
    let config = dir.join("post.toml");
    std::fs::write(
        &config,
        format!(
            "prior = \"{}\"\nsmooth_sigma = 2.0\n[files]\nobserved = \"{}\"\ntrue_model = \"{}\"\n\
             [solver]\ndx = 10.0\ndt = 0.001\norder = 4\nfreq = 15.0\nfree_surface = false\n\
             [solver.boundary]\nkind = \"cpml\"\nwidth = 8\nreflection = 0.001\nmax_velocity = 4500.0\n\
             [acquisition]\nn_sources = {shots}\ndepth = 1\nnt = {nt}\nwavelet = {{ kind = \"openfwi\", freq = 15.0 }}\n\
             [method]\nkind = \"red-diff\"\niterations = 3\nlr = 0.05\nlambda = 0.5\n\
             t_min = 0.1\nt_max = 0.9\nsamples = 3\n",
            s(&ckpt),
            s(&data_path),
            s(&truth_path)
        ),
    )
    .unwrap();
    config
}
