//! Synthetic families: determinism per seed, invariance to block size, physical ranges,
//! family-specific structure.

use velprior_data::read_corpus;
use velprior_data::synth::{Family, SynthSpec, generate, generate_to_file};

#[test]
fn same_seed_same_bits_other_seed_differs() {
    for family in Family::ALL {
        let a = generate(&SynthSpec::new(family, 6, 11)).unwrap();
        let b = generate(&SynthSpec::new(family, 6, 11)).unwrap();
        let c = generate(&SynthSpec::new(family, 6, 12)).unwrap();
        assert_eq!(a, b, "{family}");
        assert_ne!(a.velocity(), c.velocity(), "{family}");
    }
}

#[test]
fn streamed_file_equals_in_memory_corpus() {
    let dir = tempfile::tempdir().unwrap();
    let spec = SynthSpec::new(Family::TwoLayer, 23, 5);
    let path = dir.path().join("two.h5");
    generate_to_file(&spec, &path, 7, |_| {}).unwrap();
    let from_file = read_corpus(&path, None).unwrap();
    let in_memory = generate(&spec).unwrap();
    assert_eq!(from_file.velocity(), in_memory.velocity());
    assert_eq!(from_file.parameters, in_memory.parameters);
}

/// Catches a mix that cycles the families in another order, draws model `i` from another
/// stream than the pure family's, or leaves one family out.
#[test]
fn openfwi_mix_takes_model_i_from_family_i_mod_4() {
    let mix = generate(&SynthSpec::new(Family::Openfwi, 8, 21)).unwrap();
    for (k, family) in Family::OPENFWI.into_iter().enumerate() {
        let pure = generate(&SynthSpec::new(family, 8, 21)).unwrap();
        for i in [k, k + 4] {
            assert_eq!(
                mix.model(i),
                pure.model(i),
                "model {i} should be {family}'s"
            );
        }
    }
}

#[test]
fn openfwi_families_are_in_range_and_rise_with_depth() {
    for family in Family::OPENFWI.into_iter().chain([Family::Openfwi]) {
        let c = generate(&SynthSpec::new(family, 64, 3)).unwrap();
        assert_eq!(c.model_shape(), [70, 70]);
        assert!(
            c.velocity().iter().all(|&v| (1500.0..=4500.0).contains(&v)),
            "{family}"
        );
        let mean_rows = |rows: std::ops::Range<usize>| -> f64 {
            let mut s = 0.0;
            for i in 0..c.len() {
                for z in rows.clone() {
                    s += c.model(i)[z * 70..(z + 1) * 70]
                        .iter()
                        .map(|&v| v as f64)
                        .sum::<f64>();
                }
            }
            s / (c.len() * rows.len() * 70) as f64
        };
        assert!(mean_rows(60..70) > mean_rows(0..10) + 500.0, "{family}");
    }
}

#[test]
fn flat_layers_are_laterally_constant_and_faults_break_that() {
    let flat = generate(&SynthSpec::new(Family::Flatvel, 8, 1)).unwrap();
    for i in 0..flat.len() {
        for row in flat.model(i).chunks(70) {
            assert!(row.iter().all(|&v| v == row[0]));
        }
    }
    let faulted = generate(&SynthSpec::new(Family::Flatfault, 8, 1)).unwrap();
    let broken = (0..faulted.len())
        .filter(|&i| {
            faulted
                .model(i)
                .chunks(70)
                .any(|r| r.iter().any(|&v| v != r[0]))
        })
        .count();
    assert!(
        broken >= 6,
        "faults offset layers in most models, got {broken}/8"
    );
}

#[test]
fn two_layer_profiles_follow_v2_twice_v1() {
    let c = generate(&SynthSpec::new(Family::TwoLayer, 200, 0)).unwrap();
    assert_eq!(c.shape(), [200, 64, 1]);
    let p = c.parameters.as_ref().unwrap();
    assert_eq!(p.names, ["v1", "v2", "depth"]);
    for i in 0..200 {
        let (v1, v2, depth) = (p.values[3 * i], p.values[3 * i + 1], p.values[3 * i + 2]);
        let m = c.model(i);
        assert_eq!(m[0], v1);
        assert_eq!(m[63], v2);
        let k = (depth / 10.0).round() as usize;
        assert_eq!((m[k - 1], m[k]), (v1, v2));
        assert!((v2 / v1 - 2.0).abs() < 0.2);
    }
}

#[test]
fn a_fixed_interface_puts_every_step_at_that_depth_and_keeps_the_velocities() {
    let random = generate(&SynthSpec::new(Family::TwoLayer, 50, 4)).unwrap();
    let fixed = generate(&SynthSpec {
        interface: Some(0.4),
        ..SynthSpec::new(Family::TwoLayer, 50, 4)
    })
    .unwrap();
    let (pr, pf) = (
        random.parameters.unwrap(),
        fixed.parameters.as_ref().unwrap(),
    );
    for i in 0..50 {
        // v1 and v2 are drawn before the interface, so they do not change.
        assert_eq!(pr.values[3 * i..3 * i + 2], pf.values[3 * i..3 * i + 2]);
        assert_eq!(pf.values[3 * i + 2], 260.0); // round(0.4 · 64) = 26 samples of 10 m
        let m = fixed.model(i);
        assert_eq!((m[25], m[26]), (pf.values[3 * i], pf.values[3 * i + 1]));
    }
}

#[test]
fn marmousi_models_have_spread_and_salt_sometimes() {
    let c = generate(&SynthSpec {
        shape: Some([64, 96]),
        ..SynthSpec::new(Family::Marmousi, 20, 2)
    })
    .unwrap();
    assert_eq!(c.model_shape(), [64, 96]);
    let mut with_salt = 0;
    for i in 0..c.len() {
        let m = c.model(i);
        let (lo, hi) = m
            .iter()
            .fold((f32::MAX, f32::MIN), |(a, b), &v| (a.min(v), b.max(v)));
        assert!(hi - lo >= 500.0 && lo >= 1500.0 && hi <= 4500.0);
        if m.iter().filter(|&&v| v >= 4400.0).count() > 20 {
            with_salt += 1;
        }
    }
    assert!(
        (2..=16).contains(&with_salt),
        "salt in {with_salt}/20 models"
    );
}

#[test]
fn bad_specs_are_refused() {
    assert!(generate(&SynthSpec::new(Family::Flatvel, 0, 0)).is_err());
    assert!(
        generate(&SynthSpec {
            shape: Some([3, 3]),
            ..SynthSpec::new(Family::Flatvel, 1, 0)
        })
        .is_err()
    );
    for (family, fraction) in [(Family::TwoLayer, 1.0), (Family::TwoLayer, f64::NAN)] {
        let err = generate(&SynthSpec {
            interface: Some(fraction),
            ..SynthSpec::new(family, 1, 0)
        })
        .unwrap_err();
        assert!(err.to_string().contains("outside (0, 1)"), "{err}");
    }
    let err = generate(&SynthSpec {
        interface: Some(0.5),
        ..SynthSpec::new(Family::Flatvel, 1, 0)
    })
    .unwrap_err();
    assert!(err.to_string().contains("two-layer family only"), "{err}");
    assert!(
        "bogus"
            .parse::<Family>()
            .unwrap_err()
            .to_string()
            .contains("curvefault")
    );
}
