//! The regularised-AE teaching corpus: 1-D two-layer profiles with v2 ≈ 2·v1.
//!
//! Each model is an H×1 image: v1 above an interface at `depth`, v2 below, with
//! v1 ~ U[1500, 2250] m/s, v2 = 2·v1·(1 + 0.03·N(0, 1)) and the interface uniform in the
//! middle half of the profile, or at a fixed fraction of the depth when asked (the teaching
//! experiment fixes it so the corpus varies only in (v1, v2)). The parameters (v1, v2, depth
//! in m) are stored beside it.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

/// Parameter names stored with the corpus.
pub const PARAMETER_NAMES: [&str; 3] = ["v1", "v2", "depth"];

/// Draws one profile of `h` samples at spacing `dz` m with the interface at `interface` × the
/// depth (rounded to a sample), or uniform in the middle half when `None`; returns
/// (profile, [v1, v2, depth]).
pub fn generate(
    rng: &mut ChaCha8Rng,
    h: usize,
    dz: f64,
    interface: Option<f64>,
) -> (Vec<f32>, [f32; 3]) {
    let v1: f32 = rng.random_range(1500.0..=2250.0);
    let noise: f32 = StandardNormal.sample(rng);
    let v2 = 2.0 * v1 * (1.0 + 0.03 * noise);
    let interface = match interface {
        Some(fraction) => ((fraction * h as f64).round() as usize).min(h),
        None => rng.random_range(h / 4..=(3 * h / 4).max(h / 4)),
    };
    let profile = (0..h)
        .map(|z| if z < interface { v1 } else { v2 })
        .collect();
    (profile, [v1, v2, (interface as f64 * dz) as f32])
}
