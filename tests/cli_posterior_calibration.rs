//! End-to-end: `velprior posterior` with a `[calibration]` config — a case whose coverage is
//! known in closed form (a Gaussian prior, truths drawn from it, well logs, the exact sampler),
//! the shipped diffusion prior with DPS (tiny), and one-line errors for bad calibration keys.

use std::path::Path;
use std::process::{Command, Output};

fn velprior(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_velprior"))
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("binary runs")
}

fn config(models: &str, count: usize, every: usize) -> String {
    format!(
        "[calibration]\nprior = \"priors/marmousi70-small/prior.safetensors\"\nmodels = \"{models}\"\n\
         count = {count}\nnoise_std = 50.0\noperator = {{ kind = \"wells\", every = {every} }}\n\n\
         [calibration.method]\nkind = \"dps\"\nsteps = 2\nzeta = 0.001\nguidance = \"network\"\nsamples = 2\nclip_x0 = true\n"
    )
}

/// `velprior posterior --config CFG --out RUN`.
fn posterior(cfg: &Path, run: &Path) -> Output {
    velprior(&[
        "posterior",
        "--config",
        cfg.to_str().unwrap(),
        "--out",
        run.to_str().unwrap(),
    ])
}

fn ok(out: Output) {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// P(|T| ≤ c) for Student's t with ν degrees of freedom (Simpson's rule on the density).
fn t_two_sided(c: f64, nu: f64) -> f64 {
    let density = |t: f64| (1.0 + t * t / nu).powf(-(nu + 1.0) / 2.0);
    let integral = |a: f64, b: f64| {
        let n = 20_000;
        let h = (b - a) / n as f64;
        (0..=n)
            .map(|i| {
                let w = if i == 0 || i == n {
                    1.0
                } else if i % 2 == 1 {
                    4.0
                } else {
                    2.0
                };
                w * density(a + i as f64 * h)
            })
            .sum::<f64>()
            * h
            / 3.0
    };
    integral(0.0, c) / integral(0.0, 400.0)
}

/// Runs a calibration of the exact linear-Gaussian sampler and returns its metrics.json.
fn exact_calibration(
    dir: &Path,
    truths: &Path,
    count: usize,
    every: usize,
    noise: f64,
) -> serde_json::Value {
    let cfg = dir.join(format!("exact-{every}.toml"));
    std::fs::write(
        &cfg,
        format!(
            "[calibration]\nprior = \"{}\"\nmodels = \"{}\"\ncount = {count}\nnoise_std = {noise}\n\
             operator = {{ kind = \"wells\", every = {every} }}\n\n\
             [calibration.method]\nkind = \"linear-gaussian\"\nsamples = {SAMPLES}\n",
            dir.join("gaussian/checkpoint.safetensors").display(),
            truths.display()
        ),
    )
    .unwrap();
    let run = dir.join(format!("run-{every}"));
    ok(velprior(&[
        "posterior",
        "--config",
        cfg.to_str().unwrap(),
        "--out",
        run.to_str().unwrap(),
    ]));
    serde_json::from_str(&std::fs::read_to_string(run.join("metrics.json")).unwrap()).unwrap()
}

/// Posterior samples per model in the exact case.
const SAMPLES: usize = 16;

/// Truths drawn from a Gaussian prior and observed with the noise the likelihood assumes are
/// draws from the exact posterior given their data; so are the sampler's S samples. Then
/// (truth − sample mean) / (sample std · √(1 + 1/S)) is Student's t with S − 1 degrees of
/// freedom at every pixel, and the expected ±kσ coverage is P(|T| ≤ k/√(1 + 1/S)): 0.652 and
/// 0.929 for S = 16. Tolerance: three standard errors even if every pixel of a model moved
/// together (√(p(1 − p)/K), K models). Catches the noise std used as a variance (or the
/// wrong noise in the data), bands from the wrong std (n instead of n − 1 shifts little, a
/// variance for a std much), and — with every column observed and 10 m/s noise, where the
/// exact posterior std of each pixel is below 10 m/s — a sampler that ignores the data.
#[test]
fn calibration_of_the_exact_sampler_has_the_known_coverage() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let corpus = d.join("corpus.h5");
    ok(velprior(&[
        "data",
        "synth",
        "-f",
        "curvefault",
        "-n",
        "200",
        "--size",
        "16x16",
        "--seed",
        "3",
        "-o",
        corpus.to_str().unwrap(),
    ]));
    let gaussian = d.join("gaussian.toml");
    std::fs::write(
        &gaussian,
        format!(
            "kind = \"gaussian\"\noutput = \"{}\"\n\n[data]\ncorpus = \"{}\"\nvmin = 1500.0\nvmax = 4500.0\n\n\
             [model]\nrank = 8\n\n[fit]\nsample_count = 0\nseed = 0\n",
            d.join("gaussian").display(),
            corpus.display()
        ),
    )
    .unwrap();
    ok(velprior(&["train", "--config", gaussian.to_str().unwrap()]));
    let truths = d.join("truths.h5");
    let count = 400;
    ok(velprior(&[
        "sample",
        "--checkpoint",
        d.join("gaussian/checkpoint.safetensors").to_str().unwrap(),
        "-n",
        &count.to_string(),
        "--seed",
        "5",
        "--output",
        truths.to_str().unwrap(),
    ]));

    let s = SAMPLES as f64;
    let widen = (1.0 + 1.0 / s).sqrt();
    let m = exact_calibration(d, &truths, count, 4, 100.0);
    for (key, k) in [("within_1sigma", 1.0), ("within_2sigma", 2.0)] {
        let expected = t_two_sided(k / widen, s - 1.0);
        let tolerance = 3.0 * (expected * (1.0 - expected) / count as f64).sqrt();
        let got = m[key].as_f64().unwrap();
        eprintln!("{key}: {got:.4}, expected {expected:.4} ± {tolerance:.4}");
        assert!(
            (got - expected).abs() < tolerance,
            "{key} {got}, expected {expected}"
        );
    }
    let sharp = exact_calibration(d, &truths, 50, 1, 10.0);
    let std = sharp["mean_std"].as_f64().unwrap();
    eprintln!("every column observed, 10 m/s noise: mean posterior std {std:.2} m/s");
    assert!(std < 10.0, "{sharp}");
}

#[test]
fn calibration_config_writes_coverage() {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models.h5");
    let m = models.to_str().unwrap();
    let out = velprior(&[
        "data", "synth", "-f", "marmousi", "-n", "2", "--size", "70x70", "--seed", "99", "-o", m,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cfg = dir.path().join("cal.toml");
    std::fs::write(&cfg, config(m, 1, 10)).unwrap();
    let run = dir.path().join("run");
    let out = velprior(&[
        "posterior",
        "--config",
        cfg.to_str().unwrap(),
        "--out",
        run.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let metrics: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("metrics.json")).unwrap()).unwrap();
    // ±2σ bands contain the ±1σ ones, so their coverage is never lower, and DPS's samples
    // spread (catches the two coverages swapped, or bands of zero width).
    let (c1, c2) = (
        metrics["within_1sigma"].as_f64().unwrap(),
        metrics["within_2sigma"].as_f64().unwrap(),
    );
    assert!(c1 <= c2, "{metrics}");
    assert!(metrics["mean_std"].as_f64().unwrap() > 0.0, "{metrics}");
    assert_eq!(metrics["models"].as_array().unwrap().len(), 1);
    assert!(run.join("calibration.png").exists());

    for (text, needle) in [
        (config(m, 5, 10), "calibration.count = 5"),
        (config(m, 1, 0), "calibration.operator.every"),
    ] {
        std::fs::write(&cfg, text).unwrap();
        let out = velprior(&[
            "posterior",
            "--config",
            cfg.to_str().unwrap(),
            "--out",
            run.to_str().unwrap(),
        ]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && !err.contains("panicked"), "{err}");
        assert!(err.contains(needle), "expected '{needle}' in: {err}");
    }
}

/// A seismic calibration with a two-stage sampler as the shipped config has it, tiny (one model,
/// 100 time steps, 3 RED-diff iterations with the illumination-faded weight, one DAPS level from
/// the mode plus a start error): the first stage runs and is reported, the calibration curve and
/// error-vs-std come out with their pictures. Catches the seismic observation, the first stage or
/// the config's settings not wired into the run, a curve not ordered by level (its observed coverage must not fall as
/// the nominal level rises), and two noise levels accepted.
#[test]
fn seismic_calibration_with_a_first_stage() {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models.h5");
    let m = models.to_str().unwrap();
    ok(velprior(&[
        "data", "synth", "-f", "openfwi", "-n", "1", "--size", "70x70", "--seed", "810000", "-o", m,
    ]));
    let text = format!(
        "[calibration]\nprior = \"priors/openfwi70/prior.safetensors\"\nmodels = \"{m}\"\ncount = 1\n\
         noise_relative = 0.05\n\n[calibration.operator]\nkind = \"seismic\"\n\
         solver = {{ dx = 10.0, dt = 0.001, order = 4, freq = 15.0, free_surface = false, \
         boundary = {{ kind = \"cpml\", width = 20, reflection = 0.001, max_velocity = 4500.0 }} }}\n\
         acquisition = {{ n_sources = 2, depth = 1, nt = 100, wavelet = {{ kind = \"openfwi\", freq = 15.0 }} }}\n\n\
         [calibration.start_method]\nkind = \"red-diff\"\niterations = 3\nlr = 0.03\nlambda = 1e7\n\
         t_min = 0.001\nt_max = 1.0\nsamples = 1\n\
         prior_weight = {{ kind = \"illumination\", probes = 2, smooth = 2.0, fade_below = 0.01 }}\n\n\
         [calibration.method]\nkind = \"daps\"\nsteps = 5\n\
         t0 = 0.2\nx0_step = {{ kind = \"gauss-newton\", cg_iterations = 1 }}\n\
         start_error = {{ std = 250.0, length = 5.0 }}\nsamples = 2\n"
    );
    let cfg = dir.path().join("seismic.toml");
    std::fs::write(&cfg, &text).unwrap();
    let run = dir.path().join("run");
    ok(posterior(&cfg, &run));
    let metrics: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("metrics.json")).unwrap()).unwrap();
    assert!(metrics["first_stage_mean_ssim"].is_f64(), "{metrics}");
    let curve: Vec<f64> = metrics["calibration_curve"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["observed"].as_f64().unwrap())
        .collect();
    assert_eq!(curve.len(), 11);
    assert!(curve.windows(2).all(|w| w[0] <= w[1]), "{curve:?}");
    assert!(!metrics["error_vs_std"].as_array().unwrap().is_empty());
    for png in [
        "calibration_curve.png",
        "error_vs_std.png",
        "calibration.png",
    ] {
        assert!(run.join(png).exists(), "{png}");
    }

    std::fs::write(
        &cfg,
        text.replace(
            "noise_relative = 0.05",
            "noise_relative = 0.05\nnoise_std = 1.0",
        ),
    )
    .unwrap();
    let out = posterior(&cfg, &run);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && !err.contains("panicked"), "{err}");
    assert!(err.contains("give one of noise_std"), "{err}");
}

/// An interrupted calibration resumes: with the last model's line removed (as if the run had
/// stopped before it), a rerun samples only that model and writes the report of the
/// uninterrupted run — the same coverage, curve and error-vs-std to the last digit, model 0 not
/// sampled again. Catches resumed models left out of the pooled figures, the remaining models
/// drawn with other seeds, and everything sampled again — also where the config holds an f32
/// whose widened value JSON must read back exactly (lr = 0.03 of the first stage: serde_json's
/// fast float parser reads 0.029999999329447746 one unit in the last place off, so the saved
/// state never matched and a rerun started afresh).
#[test]
fn an_interrupted_calibration_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models.h5");
    let m = models.to_str().unwrap();
    ok(velprior(&[
        "data", "synth", "-f", "marmousi", "-n", "2", "--size", "70x70", "--seed", "99", "-o", m,
    ]));
    let cfg = dir.path().join("cal.toml");
    let first_stage = "\n[calibration.start_method]\nkind = \"red-diff\"\niterations = 2\nlr = 0.03\n\
                       lambda = 1.0\nt_min = 0.001\nt_max = 1.0\nsamples = 1\n";
    std::fs::write(&cfg, config(m, 2, 10) + first_stage).unwrap();
    let run = dir.path().join("run");
    ok(posterior(&cfg, &run));
    let read = |name: &str| std::fs::read_to_string(run.join(name)).unwrap();
    let whole: serde_json::Value = serde_json::from_str(&read("metrics.json")).unwrap();
    let lines = read("metrics.jsonl");
    let first = lines.lines().next().unwrap().to_string();
    std::fs::write(run.join("metrics.jsonl"), format!("{first}\n")).unwrap();
    ok(posterior(&cfg, &run));
    let resumed: serde_json::Value = serde_json::from_str(&read("metrics.json")).unwrap();
    for key in [
        "within_1sigma",
        "within_2sigma",
        "mean_std",
        "rmse_mps",
        "crps",
        "calibration_curve",
        "error_vs_std",
    ] {
        assert_eq!(resumed[key], whole[key], "{key}");
    }
    let again = read("metrics.jsonl");
    assert_eq!(again.lines().count(), 2);
    assert_eq!(
        again.lines().next().unwrap(),
        first,
        "model 0 was sampled again"
    );
}
