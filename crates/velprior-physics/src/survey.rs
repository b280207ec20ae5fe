//! Simulated surveys: [`forward`] data of a velocity model, then field-like degradations (noise
//! scaled to the data, dead traces), seeded per model.

use std::str::FromStr;

use rand::SeedableRng;
use rand::seq::index::sample;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Exp1, StandardNormal};
use rayon::prelude::*;

use crate::error::{PhysicsError, Result, param};
use crate::{Acquisition, ModelShape, SolverConfig, forward};

/// Noise added to simulated data, scaled by the model's data RMS.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum DataNoise {
    /// Gaussian with standard deviation `relative` × RMS (`gaussian:0.05`).
    Gaussian { relative: f64 },
    /// Laplacian with scale b = `relative` × RMS (`laplace:0.05`).
    Laplace { relative: f64 },
}

impl FromStr for DataNoise {
    type Err = PhysicsError;

    fn from_str(s: &str) -> Result<DataNoise> {
        let bad = || {
            param(
                "noise",
                format!(
                    "'{s}' is not KIND:LEVEL with KIND gaussian or laplace and LEVEL > 0 relative \
                     to the data RMS, e.g. gaussian:0.05"
                ),
            )
        };
        let (kind, level) = s.split_once(':').ok_or_else(bad)?;
        let relative: f64 = level.parse().map_err(|_| bad())?;
        if !(relative > 0.0 && relative.is_finite()) {
            return Err(bad());
        }
        match kind {
            "gaussian" => Ok(DataNoise::Gaussian { relative }),
            "laplace" => Ok(DataNoise::Laplace { relative }),
            _ => Err(bad()),
        }
    }
}

/// What is done to the data after modelling.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Degradation {
    /// Noise, if any.
    pub noise: Option<DataNoise>,
    /// Receivers whose traces are zeroed in every shot (dead channels), chosen at random.
    pub dead_traces: usize,
    /// Seed of the noise and the dead traces; model `i` draws them from streams `2i` and
    /// `2i + 1`.
    pub seed: u64,
}

/// Data of model `index` of a survey: [`forward`] of `v` (laid out as it returns, shot by
/// shot, time by receiver), then `degradation` with its own random stream for this model.
pub fn simulate(
    v: &[f32],
    shape: ModelShape,
    cfg: &SolverConfig,
    acq: &Acquisition,
    degradation: &Degradation,
    index: usize,
) -> Result<Vec<f32>> {
    let receivers = acq.shots.first().map_or(0, |s| s.receivers.len());
    if acq.shots.iter().any(|s| s.receivers.len() != receivers)
        || degradation.dead_traces > receivers
    {
        return Err(param(
            "dead_traces",
            format!(
                "{} dead traces asked of shots with {receivers} receivers each; use at most \
                 {receivers} (and the same receivers in every shot)",
                degradation.dead_traces
            ),
        ));
    }
    let mut data = forward(v, shape, cfg, acq)?;
    // Noise and dead traces draw from separate streams, so adding one keeps the other.
    let stream = |k: u64| {
        let mut rng = ChaCha8Rng::seed_from_u64(degradation.seed);
        rng.set_stream(2 * index as u64 + k);
        rng
    };
    if let Some(noise) = degradation.noise {
        let mut rng = stream(0);
        let rms = crate::metrics::rms(&data);
        for d in &mut data {
            let draw = match noise {
                DataNoise::Gaussian { relative } => {
                    let z: f64 = StandardNormal.sample(&mut rng);
                    relative * rms * z
                }
                DataNoise::Laplace { relative } => {
                    // Laplace(b) = b·(E1 − E2) for independent standard exponentials.
                    let (e1, e2): (f64, f64) = (Exp1.sample(&mut rng), Exp1.sample(&mut rng));
                    relative * rms * (e1 - e2)
                }
            };
            *d += draw as f32;
        }
    }
    if degradation.dead_traces > 0 {
        let dead = sample(&mut stream(1), receivers, degradation.dead_traces);
        for row in data.chunks_mut(receivers) {
            for r in dead.iter() {
                row[r] = 0.0;
            }
        }
    }
    Ok(data)
}

/// [`simulate`] of every model of `models` (row-major (N, nz, nx)) in parallel, model `i` with
/// stream `first + i` (`first`: the index of the first model in the whole set, so that a part
/// gets the streams it has in the whole), concatenated in model order; `done` is called after
/// each model.
pub fn simulate_all(
    models: &[f32],
    first: usize,
    shape: ModelShape,
    cfg: &SolverConfig,
    acq: &Acquisition,
    degradation: &Degradation,
    done: &(dyn Fn() + Sync),
) -> Result<Vec<f32>> {
    let per_model: Vec<Vec<f32>> = models
        .par_chunks(shape.len().max(1))
        .enumerate()
        .map(|(i, v)| {
            let d = simulate(v, shape, cfg, acq, degradation, first + i);
            done();
            d
        })
        .collect::<Result<_>>()?;
    Ok(per_model.concat())
}
