//! Run a plain-FWI config on in-memory arrays (what `velprior fwi` will do once the CLI wires
//! it): reads the .npy files named in the config, runs `run_fwi`, writes a JSON-lines log.
//!
//! Run: `cargo run --release -p velprior-physics --example fwi_marmousi -- configs/fwi-marmousi-tikhonov.toml /tmp/out.jsonl [iterations]`

use std::io::Write;
use velprior_physics::{FwiConfig, ModelShape, run_fwi};

/// Read an .npy file as f32 in C order, with its shape (handles Fortran order).
fn read_npy(path: &str) -> (Vec<f32>, Vec<usize>) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let npy = npyz::NpyFile::new(&bytes[..]).unwrap();
    let shape: Vec<usize> = npy.shape().iter().map(|&s| s as usize).collect();
    let fortran = npy.order() == npyz::Order::Fortran;
    let raw: Vec<f32> = npy.into_vec::<f32>().unwrap();
    if !fortran {
        return (raw, shape);
    }
    let nd = shape.len();
    let mut out = vec![0.0f32; raw.len()];
    let mut idx = vec![0usize; nd];
    for o in out.iter_mut() {
        let (mut f, mut stride) = (0, 1);
        for k in 0..nd {
            f += idx[k] * stride;
            stride *= shape[k];
        }
        *o = raw[f];
        for k in (0..nd).rev() {
            idx[k] += 1;
            if idx[k] < shape[k] {
                break;
            }
            idx[k] = 0;
        }
    }
    (out, shape)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let cfg_path = args
        .get(1)
        .expect("usage: fwi_marmousi CONFIG.toml OUT.jsonl [iterations]");
    let mut cfg: FwiConfig = toml::from_str(&std::fs::read_to_string(cfg_path).unwrap()).unwrap();
    if let Some(n) = args.get(3) {
        cfg.iterations = n.parse().unwrap();
    }
    let (truth, ts) = read_npy(cfg.files.true_model.as_ref().unwrap());
    let (d_obs, _) = read_npy(&cfg.files.observed);
    let shape = ModelShape::new(ts[ts.len() - 2], ts[ts.len() - 1]);
    let mut out = std::fs::File::create(args.get(2).unwrap()).unwrap();
    let r = run_fwi(&cfg, shape, &d_obs, Some(&truth), None, &mut |line, _| {
        writeln!(out, "{}", serde_json::to_string(line).unwrap()).unwrap();
        if line.iteration % 10 == 0 {
            eprintln!("{line:?}");
        }
    })
    .unwrap();
    let start = velprior_physics::velocity_metrics(&r.start, &truth, shape).unwrap();
    println!("start: {start:?}");
    println!("final: {:?}", r.log.last().unwrap());
}
