//! Dynamic thresholding of x̂_0 (Saharia et al. 2022) against values worked out by hand.

use candle_core::{Device, Tensor};
use velprior_diffusion::samplers::{SamplerConfig, Thresholding, dynamic_threshold};

/// Two samples of 5 values. Sample 0 lies within [−1, 1]: its 0.75-quantile of |x| (rank
/// ⌊4 · 0.75⌋ = 3 of 0.1, 0.2, 0.5, 0.9, 1.0) is 0.9 < 1, so s = 1 and it stays as it is.
/// Sample 1 overshoots: |x| sorted 0.5, 1.0, 2.0, 4.0, 8.0, rank 3 is 4.0, so it is clamped to
/// [−4, 4] and divided by 4. Catches a threshold shared by the batch (sample 0 would be divided
/// by 4), a missing max(1, ·) (sample 0 would be stretched by 1/0.9), an off-by-one rank (s = 2
/// or 8) and clamping without rescaling.
#[test]
fn dynamic_threshold_rescales_each_sample_by_its_own_quantile() {
    let x = Tensor::from_vec(
        vec![0.1f32, -0.5, 0.9, -1.0, 0.2, 2.0, -8.0, 0.5, 4.0, -1.0],
        (2, 5),
        &Device::Cpu,
    )
    .unwrap();
    let got = dynamic_threshold(&x, 0.75)
        .unwrap()
        .to_vec2::<f32>()
        .unwrap();
    assert_eq!(got[0], vec![0.1, -0.5, 0.9, -1.0, 0.2]);
    assert_eq!(got[1], vec![0.5, -1.0, 0.125, 1.0, -0.25]);
    let dynamic = Thresholding::Dynamic { quantile: 0.75 };
    assert_eq!(dynamic.apply(&x).unwrap().to_vec2::<f32>().unwrap(), got);
    let clipped = Thresholding::Clip(-1.0, 1.0).apply(&x).unwrap();
    assert_eq!(
        clipped.to_vec2::<f32>().unwrap()[1],
        vec![1.0, -1.0, 0.5, 1.0, -1.0]
    );
}

/// The config rejects a quantile outside (0, 1] and dynamic thresholding beside `clip`.
#[test]
fn dynamic_threshold_settings_are_checked() {
    let config = |q: f64, clip: Option<[f32; 2]>| SamplerConfig::DpmSolver {
        steps: 10,
        clip,
        dynamic_threshold: Some(q),
    };
    assert!(config(0.95, None).validate().is_ok());
    assert!(config(1.0, None).validate().is_ok());
    for q in [0.0, -0.5, 1.5, f64::NAN] {
        let err = config(q, None).validate().unwrap_err().to_string();
        assert!(err.contains("dynamic_threshold"), "{err}");
    }
    let err = config(0.95, Some([-1.0, 1.0]))
        .validate()
        .unwrap_err()
        .to_string();
    assert!(err.contains("keep one"), "{err}");
}
