//! OpenFWI-style families: flat or curved layers, optionally cut by faults; blocky models
//! at 10 m in [1500, 4500] m/s with velocity rising with depth (the "A" variants).
//!
//! Recipe (GENERATORS.md §4.1): 3–8 layers with interfaces at least 3 cells apart, layer
//! velocities drawn uniformly and sorted ascending; curved interfaces follow one shared sum
//! of 1–2 sines; 1–2 planar faults (dip 45–85°, throw 3–15 cells, normal or reverse) move
//! the hanging wall along the dip. Layer indices are deformed first and mapped to velocity
//! last, so faults only produce existing velocities.

use rand::Rng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use super::fault::{Fault, FaultRanges, unfault};

/// Velocity range of OpenFWI maps, m/s.
pub const VMIN: f32 = 1500.0;
/// Upper end of the OpenFWI velocity range, m/s.
pub const VMAX: f32 = 4500.0;

/// Interface geometry of a layered model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interfaces {
    /// Horizontal interfaces.
    Flat,
    /// Interfaces following a shared sum of sines.
    Curved,
}

/// A layered model: interface depths (cells), layer velocities (m/s), shared undulation.
struct Layering {
    depths: Vec<f64>,
    velocities: Vec<f32>,
    /// (amplitude cells, cycles per model width, phase).
    sines: Vec<(f64, f64, f64)>,
    width: f64,
}

impl Layering {
    fn draw(rng: &mut ChaCha8Rng, h: usize, w: usize, interfaces: Interfaces) -> Layering {
        let layers = rng.random_range(3..=8usize);
        let scale = h as f64 / 70.0;
        let (lo, hi) = (
            (5.0 * scale).round() as usize,
            (65.0 * scale).round() as usize,
        );
        let min_gap = (3.0 * scale).round().max(2.0) as usize;
        let mut candidates: Vec<usize> = (lo..=hi.max(lo + 1)).collect();
        candidates.shuffle(rng);
        let mut depths: Vec<usize> = Vec::new();
        for c in candidates {
            if depths.len() == layers - 1 {
                break;
            }
            if depths.iter().all(|&d| d.abs_diff(c) >= min_gap) {
                depths.push(c);
            }
        }
        depths.sort_unstable();
        let mut velocities: Vec<f32> = (0..=depths.len())
            .map(|_| rng.random_range(VMIN..=VMAX))
            .collect();
        velocities.sort_by(|a, b| a.partial_cmp(b).expect("finite"));
        let sines = match interfaces {
            Interfaces::Flat => Vec::new(),
            Interfaces::Curved => (0..rng.random_range(1..=2))
                .map(|_| {
                    (
                        rng.random_range(1.0..=8.0) * scale,
                        rng.random_range(0.5..=2.0),
                        rng.random_range(0.0..std::f64::consts::TAU),
                    )
                })
                .collect(),
        };
        Layering {
            depths: depths.into_iter().map(|d| d as f64).collect(),
            velocities,
            sines,
            width: w as f64,
        }
    }

    /// Index of the layer holding the point (x, z) (cells, any real coordinates).
    fn layer_at(&self, x: f64, z: f64) -> usize {
        let shift: f64 = self
            .sines
            .iter()
            .map(|&(a, k, phi)| a * (std::f64::consts::TAU * k * x / self.width + phi).sin())
            .sum();
        self.depths.iter().filter(|&&d| d + shift <= z).count()
    }
}

/// Draws one OpenFWI-style model of size (h, w), row-major, m/s.
pub fn generate(
    rng: &mut ChaCha8Rng,
    h: usize,
    w: usize,
    interfaces: Interfaces,
    faulted: bool,
) -> Vec<f32> {
    let layering = Layering::draw(rng, h, w, interfaces);
    let faults: Vec<Fault> = if faulted {
        let (sx, sz) = (w as f64 / 70.0, h as f64 / 70.0);
        let ranges = FaultRanges {
            x0: (15.0 * sx, 55.0 * sx),
            z0: (20.0 * sz, 50.0 * sz),
            dip_deg: (45.0, 85.0),
            throw: (3.0 * sz, 15.0 * sz),
        };
        (0..rng.random_range(1..=2))
            .map(|_| Fault::random(rng, &ranges))
            .collect()
    } else {
        Vec::new()
    };
    let mut out = Vec::with_capacity(h * w);
    for z in 0..h {
        for x in 0..w {
            let (sx, sz) = unfault(&faults, x as f64, z as f64);
            out.push(layering.velocities[layering.layer_at(sx.round(), sz.round())]);
        }
    }
    out
}
