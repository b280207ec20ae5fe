//! Importers: .npy (C and Fortran order, the shared Marmousi file), raw f32, SEG-Y, and the
//! resample / clip / patch options.

use std::path::{Path, PathBuf};

use velprior_data::import::{Format, ImportOptions, RawLayout, f32_to_ibm, import};
use velprior_data::transform::PatchSpec;

fn shared_data(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../data/reference")
        .join(rel)
}

/// Builds a version-1.0 .npy file by hand (independent of the reader under test).
fn npy_bytes(descr: &str, fortran: bool, shape: &[usize], payload: &[u8]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let shape_txt = if shape.len() == 1 {
        format!("({},)", dims[0])
    } else {
        format!("({})", dims.join(", "))
    };
    let mut header = format!(
        "{{'descr': '{descr}', 'fortran_order': {}, 'shape': {shape_txt}, }}",
        if fortran { "True" } else { "False" }
    );
    while !(10 + header.len() + 1).is_multiple_of(64) {
        header.push(' ');
    }
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(payload);
    out
}

#[test]
fn npy_fortran_and_c_order_agree() {
    let dir = tempfile::tempdir().unwrap();
    // Model (2, 3): rows [1500, 1600, 1700], [1800, 1900, 2000].
    let c: Vec<u8> = [1500.0f32, 1600.0, 1700.0, 1800.0, 1900.0, 2000.0]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let f: Vec<u8> = [1500.0f64, 1800.0, 1600.0, 1900.0, 1700.0, 2000.0]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    std::fs::write(
        dir.path().join("c.npy"),
        npy_bytes("<f4", false, &[2, 3], &c),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("f.npy"),
        npy_bytes("<f8", true, &[2, 3], &f),
    )
    .unwrap();
    let a = import(
        &dir.path().join("c.npy"),
        &Format::Npy,
        &ImportOptions::default(),
    )
    .unwrap();
    let b = import(
        &dir.path().join("f.npy"),
        &Format::Npy,
        &ImportOptions::default(),
    )
    .unwrap();
    assert_eq!(a.shape(), [1, 2, 3]);
    assert_eq!(a.velocity(), b.velocity());
    assert_eq!(a.model(0)[3], 1800.0);
}

#[test]
fn shared_marmousi_npy_imports_as_70_by_190() {
    let path = shared_data("marmousi-70x190/velocity.npy");
    let c = import(&path, &Format::Npy, &ImportOptions::default()).unwrap();
    assert_eq!(c.shape(), [1, 70, 190]);
    let (lo, hi) = c
        .velocity()
        .iter()
        .fold((f32::MAX, f32::MIN), |(a, b), &v| (a.min(v), b.max(v)));
    assert_eq!((lo, hi), (1500.0, 4500.0));
    // Marmousi's water layer: the top row is slow, velocity rises with depth on average.
    let row_mean = |z: usize| c.model(0)[z * 190..(z + 1) * 190].iter().sum::<f32>() / 190.0;
    assert!(
        row_mean(0) < 1600.0 && row_mean(69) > 3000.0,
        "{} {}",
        row_mean(0),
        row_mean(69)
    );
}

#[test]
fn truncated_npy_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let payload: Vec<u8> = [1500.0f32; 5]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let path = dir.path().join("t.npy");
    std::fs::write(&path, npy_bytes("<f4", false, &[2, 3], &payload)).unwrap();
    let msg = import(&path, &Format::Npy, &ImportOptions::default())
        .unwrap_err()
        .to_string();
    assert!(msg.contains("t.npy") && msg.contains("truncated"), "{msg}");
}

#[test]
fn raw_depth_fastest_matches_row_major() {
    let dir = tempfile::tempdir().unwrap();
    // (H, W) = (2, 3) stored trace by trace: column x holds [v(0,x), v(1,x)].
    let traces = [1500.0f32, 1800.0, 1600.0, 1900.0, 1700.0, 2000.0];
    let path = dir.path().join("m.bin");
    std::fs::write(
        &path,
        traces
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect::<Vec<u8>>(),
    )
    .unwrap();
    let fmt = Format::RawF32 {
        shape: [2, 3],
        layout: RawLayout::DepthFastest,
    };
    let c = import(&path, &fmt, &ImportOptions::default()).unwrap();
    assert_eq!(
        c.model(0),
        &[1500.0, 1600.0, 1700.0, 1800.0, 1900.0, 2000.0]
    );
    let wrong = Format::RawF32 {
        shape: [3, 3],
        layout: RawLayout::DepthFastest,
    };
    let msg = import(&path, &wrong, &ImportOptions::default())
        .unwrap_err()
        .to_string();
    assert!(msg.contains("24 bytes") && msg.contains("3x3"), "{msg}");
}

fn segy_file(format: u16, traces: &[Vec<f32>]) -> Vec<u8> {
    let ns = traces[0].len();
    let mut out = vec![b' '; 3200];
    let mut bin = vec![0u8; 400];
    bin[20..22].copy_from_slice(&(ns as u16).to_be_bytes());
    bin[24..26].copy_from_slice(&format.to_be_bytes());
    out.extend(bin);
    for t in traces {
        out.extend(vec![0u8; 240]);
        for &v in t {
            let word = if format == 1 {
                f32_to_ibm(v)
            } else {
                v.to_bits()
            };
            out.extend(word.to_be_bytes());
        }
    }
    out
}

#[test]
fn segy_ibm_and_ieee_read_one_trace_per_column() {
    let dir = tempfile::tempdir().unwrap();
    let traces = vec![vec![1500.0, 1750.5, 2000.0], vec![1600.0, 1850.25, 4500.0]];
    for format in [1u16, 5] {
        let path = dir.path().join(format!("m{format}.sgy"));
        std::fs::write(&path, segy_file(format, &traces)).unwrap();
        let c = import(&path, &Format::Segy, &ImportOptions::default()).unwrap();
        assert_eq!(c.shape(), [1, 3, 2]);
        assert_eq!(
            c.model(0),
            &[1500.0, 1600.0, 1750.5, 1850.25, 2000.0, 4500.0]
        );
    }
    let path = dir.path().join("cut.sgy");
    let mut bytes = segy_file(5, &traces);
    bytes.truncate(bytes.len() - 3);
    std::fs::write(&path, bytes).unwrap();
    let msg = import(&path, &Format::Segy, &ImportOptions::default())
        .unwrap_err()
        .to_string();
    assert!(msg.contains("truncated"), "{msg}");
}

#[test]
fn resample_clip_and_patches_make_a_training_corpus() {
    let path = shared_data("marmousi-70x190/velocity.npy");
    let options = ImportOptions {
        spacing: Some((10.0, 10.0)),
        resample_to: Some(20.0),
        clip: Some((1600.0, 4000.0)),
        patches: Some(PatchSpec {
            h: 32,
            w: 32,
            stride_z: 2,
            stride_x: 16,
        }),
    };
    let c = import(&path, &Format::Npy, &options).unwrap();
    // 70x190 at 10 m -> 36x96 at 20 m -> patches 32x32 at z 0,2,4 and x 0,16,...,64.
    assert_eq!(c.shape(), [3 * 5, 32, 32]);
    assert_eq!(c.meta.dx, 20.0);
    assert!(c.velocity().iter().all(|&v| (1600.0..=4000.0).contains(&v)));
    let too_big = ImportOptions {
        patches: Some(PatchSpec {
            h: 80,
            w: 80,
            stride_z: 1,
            stride_x: 1,
        }),
        ..Default::default()
    };
    assert!(
        import(&path, &Format::Npy, &too_big)
            .unwrap_err()
            .to_string()
            .contains("larger than the model")
    );
}
