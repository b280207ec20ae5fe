//! `velprior forward`: the OpenFWI preset reproduces OpenFWI's own data, noise has the asked
//! size relative to the data, dead traces are whole zeroed receivers, and bad input is one
//! error line with nothing written.

mod common;

use std::path::Path;
use std::process::Output;

use common::{ok, one_error_line, s, velprior, write_npy};
use velprior_data::import::read_npy;

const VELOCITY: &str = "data/reference/openfwi-curvefault-sample/velocity.npy";

fn forward(out: &Path, extra: &[&str]) -> Vec<f32> {
    let mut args = vec!["forward", "--velocity", VELOCITY, "-o", s(out)];
    args.extend(extra);
    ok(&velprior(&args));
    let raw = read_npy(out).unwrap();
    assert_eq!(raw.shape, vec![1, 5, 1000, 70]);
    raw.values
}

/// `velprior forward` of the sample model with the survey of `config`, written to `out`.
fn forward_with_config(config: &Path, out: &Path) -> Output {
    velprior(&[
        "forward",
        "--velocity",
        VELOCITY,
        "--config",
        s(config),
        "-o",
        s(out),
    ])
}

/// A survey file: 2 surface shots of `nt` steps at 1 ms, 15 Hz, grid spacing `dx`, C-PML.
fn survey(dx: f32, nt: usize, max_velocity: f32) -> String {
    format!(
        "[solver]\ndx = {dx:?}\ndt = 0.001\norder = 4\nfreq = 15.0\nfree_surface = false\n\
         [solver.boundary]\nkind = \"cpml\"\nwidth = 10\nreflection = 0.001\nmax_velocity = {max_velocity:?}\n\
         [acquisition]\nn_sources = 2\ndepth = 1\nnt = {nt}\nwavelet = {{ kind = \"openfwi\", freq = 15.0 }}\n"
    )
}

fn rms(v: impl Iterator<Item = f32>) -> f64 {
    let (sum, n) = v.fold((0.0, 0usize), |(s, n), x| (s + f64::from(x).powi(2), n + 1));
    (sum / n as f64).sqrt()
}

/// Catches a preset that differs from OpenFWI's survey (source positions, wavelet, border,
/// receiver depth) or a wrong output layout: OpenFWI's own data of this model are the truth.
#[test]
fn openfwi_preset_reproduces_openfwi_data() {
    let dir = tempfile::tempdir().unwrap();
    let d = forward(&dir.path().join("d.npy"), &[]);
    let reference = read_npy(Path::new(
        "data/reference/openfwi-curvefault-sample/seismic.npy",
    ))
    .unwrap();
    let err = rms(d.iter().zip(&reference.values).map(|(a, b)| a - b))
        / rms(reference.values.iter().copied());
    assert!(
        err < 1e-3,
        "relative L2 error {err:.2e} against OpenFWI's data"
    );
    // The same data as HDF5 (its contents: velprior-data's tests/seismic_h5.rs).
    let h5 = dir.path().join("d.h5");
    ok(&velprior(&[
        "forward",
        "--velocity",
        VELOCITY,
        "-o",
        s(&h5),
    ]));
    assert_eq!(&std::fs::read(&h5).unwrap()[..8], b"\x89HDF\r\n\x1a\n");
}

/// Noise is LEVEL × the data RMS: Gaussian with that standard deviation, Laplacian with that
/// scale b (RMS √2·b). With 350,000 samples the measured RMS ratio has a standard error near
/// 1e-4, so ±2e-3 catches noise scaled by the maximum instead of the RMS, a variance given as
/// a standard deviation, or the Laplace scale used as its standard deviation (0.100 vs 0.141).
#[test]
fn noise_has_the_asked_size_relative_to_the_data() {
    let dir = tempfile::tempdir().unwrap();
    let clean = forward(&dir.path().join("clean.npy"), &[]);
    let data_rms = rms(clean.iter().copied());
    for (noise, want) in [("gaussian:0.1", 0.1), ("laplace:0.1", 0.1 * 2f64.sqrt())] {
        let noisy = forward(&dir.path().join("noisy.npy"), &["--noise", noise]);
        let got = rms(noisy.iter().zip(&clean).map(|(a, b)| a - b)) / data_rms;
        assert!(
            (got - want).abs() < 2e-3,
            "{noise}: noise RMS {got:.4} of the data's, want {want:.4}"
        );
    }
}

/// Dead traces are K whole receivers zeroed in every shot (the same K), chosen by the seed
/// alone (not by the noise drawn before them).
#[test]
fn dropped_traces_are_whole_receivers_chosen_by_the_seed() {
    let dir = tempfile::tempdir().unwrap();
    let dead = |seed: &str, noise: &str| -> Vec<usize> {
        let d = forward(
            &dir.path().join("d.npy"),
            &["--drop-traces", "7", "--seed", seed, "--noise", noise],
        );
        let per_shot: Vec<Vec<usize>> = d
            .chunks(1000 * 70)
            .map(|shot| {
                (0..70)
                    .filter(|&r| shot.chunks(70).all(|row| row[r] == 0.0))
                    .collect()
            })
            .collect();
        assert!(per_shot.iter().all(|p| *p == per_shot[0]), "{per_shot:?}");
        per_shot[0].clone()
    };
    let (a, b) = (dead("1", "gaussian:0.01"), dead("2", "gaussian:0.01"));
    assert_eq!((a.len(), b.len()), (7, 7));
    assert_ne!(a, b, "another seed should drop other receivers");
    assert_eq!(
        dead("1", "laplace:0.5"),
        a,
        "the dead receivers must not depend on the noise drawn"
    );
}

#[test]
fn bad_input_is_one_error_line_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("d.npy");
    let bad_shape = dir.path().join("v.npy");
    write_npy(&bad_shape, &[2, 2, 3, 4, 5], &[2000.0; 240]);
    for (args, needle) in [
        (vec!["--noise", "gaussian:-1"], "gaussian:-1"),
        (vec!["--noise", "white:0.1"], "white:0.1"),
        (vec!["--drop-traces", "71"], "71 dead traces"),
    ] {
        let mut all = vec!["forward", "--velocity", VELOCITY, "-o", s(&out)];
        all.extend(args);
        one_error_line(&velprior(&all), needle);
    }
    one_error_line(
        &velprior(&[
            "forward",
            "--velocity",
            VELOCITY,
            "-o",
            s(&dir.path().join("d.segy")),
        ]),
        "*.npy or *.h5",
    );
    // 40 m cells at 15 Hz leave 1.5 points per wavelength: refused with the dx that works.
    let coarse = dir.path().join("coarse.toml");
    std::fs::write(&coarse, survey(40.0, 100, 4500.0)).unwrap();
    one_error_line(&forward_with_config(&coarse, &out), "use dx <= 11.76 m");
    one_error_line(
        &velprior(&["forward", "--velocity", s(&bad_shape), "-o", s(&out)]),
        "is not (N, 1, H, W)",
    );
    assert!(!out.exists());
}

/// `--config` takes the survey of a whole FWI or posterior config: the same data as from a file
/// holding only its [solver] and [acquisition] tables. Catches a survey reader that refuses the
/// config's other tables (users then cut the survey out by hand) or reads another table's keys.
#[test]
fn config_survey_is_read_from_a_whole_posterior_config() {
    let dir = tempfile::tempdir().unwrap();
    let alone = dir.path().join("survey.toml");
    std::fs::write(&alone, survey(10.0, 200, 4800.0)).unwrap();
    let whole = dir.path().join("posterior.toml");
    std::fs::write(
        &whole,
        format!(
            "[prior]\npath = \"priors/openfwi70/prior.safetensors\"\n\
             [method]\nkind = \"red-diff\"\niterations = 5\n{}\
             [storage]\nmode = \"auto\"\n",
            survey(10.0, 200, 4800.0)
        ),
    )
    .unwrap();
    let data = |config: &Path, name: &str| {
        let out = dir.path().join(name);
        ok(&forward_with_config(config, &out));
        read_npy(&out).unwrap()
    };
    let (a, b) = (data(&alone, "a.npy"), data(&whole, "b.npy"));
    assert_eq!(a.shape, vec![1, 2, 200, 70]);
    assert_eq!(a.values, b.values);
    // A file without the survey's tables is still one error line naming what is missing.
    let no_survey = dir.path().join("no-survey.toml");
    std::fs::write(&no_survey, "[prior]\npath = \"p\"\n").unwrap();
    one_error_line(
        &forward_with_config(&no_survey, &dir.path().join("c.npy")),
        "missing field `solver`",
    );
}

/// Shards simulate disjoint models with the streams they have in the whole set, so their merge
/// is the unsharded output bit for bit (noise and dead traces included). Catches shards that
/// restart the noise streams at 0 or merge out of order.
#[test]
fn shards_merge_into_the_unsharded_data() {
    let dir = tempfile::tempdir().unwrap();
    let one = read_npy(Path::new(VELOCITY)).unwrap().values;
    let models: Vec<f32> = [1.0f32, 0.95, 1.05]
        .iter()
        .flat_map(|k| one.iter().map(move |v| v * k))
        .collect();
    let velocity = dir.path().join("v.npy");
    write_npy(&velocity, &[3, 70, 70], &models);
    let survey_file = dir.path().join("survey.toml");
    std::fs::write(&survey_file, survey(10.0, 200, 4800.0)).unwrap();
    let out = dir.path().join("d.npy");
    let args = |extra: &[&'static str]| {
        let mut a = vec![
            "forward".to_string(),
            "--velocity".into(),
            s(&velocity).into(),
            "--config".into(),
            s(&survey_file).into(),
            "--noise".into(),
            "gaussian:0.1".into(),
            "--drop-traces".into(),
            "5".into(),
            "--seed".into(),
            "4".into(),
            "-o".into(),
            s(&out).into(),
        ];
        a.extend(extra.iter().map(|x| x.to_string()));
        a
    };
    let run = |a: Vec<String>| velprior(&a.iter().map(String::as_str).collect::<Vec<_>>());
    ok(&run(args(&[])));
    let whole = read_npy(&out).unwrap();
    for shard in ["0/2", "1/2"] {
        ok(&run(args(&["--shard", shard])));
    }
    let merged = dir.path().join("merged");
    ok(&velprior(&[
        "merge",
        s(&dir.path().join("d.npy.shards")),
        "--out",
        s(&merged),
    ]));
    let joined = read_npy(&merged.join("d.npy")).unwrap();
    assert_eq!(joined.shape, whole.shape);
    assert!(
        joined.values == whole.values,
        "merged shards differ from the unsharded data"
    );
}
