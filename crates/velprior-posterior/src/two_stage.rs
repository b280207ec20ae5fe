//! A two-stage sampler's first stage: a method that finds where the posterior lies (RED-diff:
//! its mode) runs first, and the mean of its chains becomes the start of the sampling method
//! (a short anneal from there, DAPS with t0 < 1, draws the spread). On seismic data the
//! diffusion samplers started from a smooth model fit the data worse than RED-diff does; started
//! from RED-diff's model they keep its fit.

use velprior_data::item_seed;

use crate::method::{MethodConfig, PriorModel};
use crate::problem::Problem;
use crate::{NoObserver, Result};

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
    let one = method.one_chain();
    let chains = method.chains();
    let mut mean = vec![0f32; start.len()];
    for j in 0..chains {
        let out = one.run(
            prior,
            problem,
            start,
            item_seed(seed, FIRST_STAGE + j),
            &mut NoObserver,
        )?;
        let n = out.samples.len() / start.len().max(1);
        for sample in out.samples.chunks(start.len()) {
            for (m, &v) in mean.iter_mut().zip(sample) {
                *m += v / (chains * n) as f32;
            }
        }
    }
    Ok(mean)
}
