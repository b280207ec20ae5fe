//! A two-stage sampler's first stage: a method that finds where the posterior lies (RED-diff:
//! its mode) runs first, and the mean of its chains becomes the start of the sampling method
//! (a short anneal from there, DAPS with t0 < 1, draws the spread). On seismic data the
//! diffusion samplers started from a smooth model fit the data worse than RED-diff does; started
//! from RED-diff's model they keep its fit.

use crate::Result;
use crate::method::{MethodConfig, PriorModel};
use crate::problem::Problem;

/// Seeds of the first stage's chains start here (item_seed(seed, FIRST_STAGE + j)), far from
/// the chain indices of the second stage.
const FIRST_STAGE: usize = 1 << 30;

/// The mean (normalised units) of `method`'s chains from `start`, chain j seeded
/// item_seed(seed, 2³⁰ + j).
pub fn first_stage_start(
    method: &MethodConfig,
    prior: &PriorModel,
    problem: &Problem,
    start: &[f32],
    seed: u64,
) -> Result<Vec<f32>> {
    let first = FIRST_STAGE..FIRST_STAGE + method.chains();
    let outputs = method.run_chains(prior, problem, start, first, seed, &mut |_, _| Ok(()))?;
    let samples: Vec<&[f32]> = outputs
        .iter()
        .flat_map(|out| out.samples.chunks(start.len().max(1)))
        .collect();
    let mut mean = vec![0f32; start.len()];
    for sample in &samples {
        for (m, &v) in mean.iter_mut().zip(*sample) {
            *m += v / samples.len() as f32;
        }
    }
    Ok(mean)
}
