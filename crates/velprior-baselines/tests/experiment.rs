//! The two-layer autoencoder teaching experiment meets its criteria with the shipped config.

use std::path::Path;

use velprior_baselines::{AeExperimentConfig, run_experiment};
use velprior_diffusion::baselines::QuietAe;

#[test]
fn teaching_experiment_meets_the_criteria() {
    // The shipped config (700 epochs, 200 profiles, both λ): ~20 s of CPU.
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = AeExperimentConfig::load(Path::new("../../configs/ae-two-layer.toml")).unwrap();
    cfg.output = dir.path().join("exp");
    let s = run_experiment(&cfg, &mut QuietAe).unwrap();
    assert!(
        (s.corpus.slope - 2.0).abs() < 0.1,
        "corpus slope {}",
        s.corpus.slope
    );
    let penalised = &s.runs[0];
    assert!(penalised.slope_relative_error <= 0.1, "{penalised:?}");
    assert!(penalised.samples.correlation >= 0.9, "{penalised:?}");
    // "Clearly fewer" off the corpus range with the penalty: at most half as many.
    assert!(
        2 * penalised.off_range <= s.runs[1].off_range,
        "{:?}",
        s.runs
    );
    assert!(s.criteria.penalty_halves_off_range);
}
