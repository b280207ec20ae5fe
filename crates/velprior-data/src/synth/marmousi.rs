//! Marmousi-style models: a fine-layered velocity log with a depth trend, folded by
//! Gaussian bumps and shear, cut by several planar faults, optionally with a salt body.
//!
//! Recipe (GENERATORS.md §4.2, after Wu et al. 2019 and Kadu's salt models): 10–30 units
//! 2–12 cells thick, v = v0 + g·z/H + δ (g ∈ [1500, 2800] m/s over the model depth, as in
//! Marmousi squeezed into a 70-row section) with ±5 % fine layering; folding
//! s1 = (z/H)·Σ b_k exp(−(x−c_k)²/2σ_k²) plus shear e + f·x; 2–8 faults (dip 55–82°, throw
//! 3–20 cells); salt (probability 0.4) as the hull of 8–20 points in the lower two thirds,
//! 4400–4500 m/s, inserted after faulting; optional water layer; clipped to [1500, 4500];
//! models whose spread is below 500 m/s are redrawn.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

use super::fault::{Fault, FaultRanges, unfault};
use super::openfwi::{VMAX, VMIN};
use super::salt::SaltBody;

/// Probability that a model contains a salt body.
pub const SALT_PROBABILITY: f64 = 0.4;

/// A depth log sampled at 1/4 cell over [−H, 2H] (room for folding and fault throws).
struct VelocityLog {
    values: Vec<f32>,
    origin: f64,
    step: f64,
}

impl VelocityLog {
    fn draw(rng: &mut ChaCha8Rng, h: usize) -> VelocityLog {
        let step = 0.25;
        let origin = -(h as f64);
        let len = (3.0 * h as f64 / step) as usize + 1;
        let v0 = rng.random_range(1500.0..=1900.0);
        let gain = rng.random_range(1500.0..=2800.0) / h as f64; // m/s per cell
        let sigma = rng.random_range(150.0..=400.0);
        let delta = Normal::new(0.0, sigma).expect("positive sigma");
        let mut values = Vec::with_capacity(len);
        let (mut unit_left, mut unit_v, mut fine_left, mut fine_factor) = (0.0, 0.0, 0.0, 1.0);
        for i in 0..len {
            let z = origin + i as f64 * step;
            if unit_left <= 0.0 {
                unit_left = rng.random_range(2.0..=12.0);
                unit_v = v0 + gain * z.max(0.0) + delta.sample(rng);
            }
            if fine_left <= 0.0 {
                fine_left = rng.random_range(1.0..=3.0);
                fine_factor = 1.0 + rng.random_range(-0.05..=0.05);
            }
            values.push((unit_v * fine_factor) as f32);
            unit_left -= step;
            fine_left -= step;
        }
        VelocityLog {
            values,
            origin,
            step,
        }
    }

    fn at(&self, z: f64) -> f32 {
        let i = ((z - self.origin) / self.step).round().max(0.0) as usize;
        self.values[i.min(self.values.len() - 1)]
    }
}

/// Folding: depth shift s1(x, z) + s2(x) in cells.
struct Folding {
    bumps: Vec<(f64, f64, f64)>,
    shear: (f64, f64),
    h: f64,
}

impl Folding {
    fn draw(rng: &mut ChaCha8Rng, h: usize, w: usize) -> Folding {
        let scale = h as f64 / 128.0;
        let sign = if rng.random_bool(0.5) { 1.0 } else { -1.0 };
        let bumps = (0..4)
            .map(|_| {
                (
                    sign * rng.random_range(3.0..=15.0) * scale,
                    rng.random_range(0.0..w as f64),
                    rng.random_range(10.0..=40.0) * w as f64 / 128.0,
                )
            })
            .collect();
        let shear = (rng.random_range(-1.0..=1.0), rng.random_range(-0.15..=0.15));
        Folding {
            bumps,
            shear,
            h: h as f64,
        }
    }

    fn shift(&self, x: f64, z: f64) -> f64 {
        let s1: f64 = self
            .bumps
            .iter()
            .map(|&(b, c, s)| b * (-(x - c).powi(2) / (2.0 * s * s)).exp())
            .sum();
        (z / self.h) * s1 + self.shear.0 + self.shear.1 * x
    }
}

/// Draws one Marmousi-style model of size (h, w), row-major, m/s.
pub fn generate(rng: &mut ChaCha8Rng, h: usize, w: usize) -> Vec<f32> {
    loop {
        let model = draw_once(rng, h, w);
        let (lo, hi) = model
            .iter()
            .fold((f32::MAX, f32::MIN), |(a, b), &v| (a.min(v), b.max(v)));
        if hi - lo >= 500.0 {
            return model;
        }
    }
}

fn draw_once(rng: &mut ChaCha8Rng, h: usize, w: usize) -> Vec<f32> {
    let log = VelocityLog::draw(rng, h);
    let folding = Folding::draw(rng, h, w);
    let (hf, wf) = (h as f64, w as f64);
    let margin = 20.0 * wf / 128.0;
    let ranges = FaultRanges {
        x0: (margin, wf - margin),
        z0: (20.0 * hf / 128.0, hf - 20.0 * hf / 128.0),
        dip_deg: (55.0, 82.0),
        throw: (3.0 * hf / 128.0, 20.0 * hf / 128.0),
    };
    let faults: Vec<Fault> = (0..rng.random_range(2..=8))
        .map(|_| Fault::random(rng, &ranges))
        .collect();
    let salt = rng.random_bool(SALT_PROBABILITY).then(|| {
        let centre = (
            rng.random_range(0.3 * wf..=0.7 * wf),
            rng.random_range(0.55 * hf..=0.8 * hf),
        );
        let half = (
            rng.random_range(0.1..=0.25) * wf,
            rng.random_range(0.075..=0.2) * hf,
        );
        let points = rng.random_range(8..=20);
        let velocity = rng.random_range(4400.0..=4500.0);
        SaltBody::random(rng, centre, half, points, velocity)
    });
    let water = if rng.random_bool(0.5) {
        rng.random_range(0..=(10 * h / 128))
    } else {
        0
    };
    let mut out = Vec::with_capacity(h * w);
    for z in 0..h {
        for x in 0..w {
            let (xf, zf) = (x as f64, z as f64);
            let v = if z < water {
                1500.0
            } else if let Some(s) = salt.as_ref().filter(|s| s.contains(xf, zf)) {
                s.velocity
            } else {
                let (ux, uz) = unfault(&faults, xf, zf);
                log.at(uz + folding.shift(ux, uz))
            };
            out.push(v.clamp(VMIN, VMAX));
        }
    }
    out
}
