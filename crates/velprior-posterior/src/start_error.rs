//! The error of a start model, as a stated belief: a stationary Gaussian field of `std` m/s per
//! cell whose correlation falls off as exp(−r² / (4 `length`²)) (white noise blurred by a
//! Gaussian of `length` cells), faded where the data see the cell
//! ([`crate::illumination::seen_fraction`] with `fade_below`): there the first stage has fit
//! the data, and a short anneal could not remove the error again. A sampler that starts each
//! chain from the start plus a draw of it carries the start's uncertainty into the cells the
//! data do not constrain, where nothing else can tell how wrong the start is. With
//! `antithetic`, chains seeded 2k and 2k + 1 start from the start plus and minus the same draw:
//! each chain's start is distributed as before, while the pair's mean keeps none of the error.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};
use velprior_data::Normalisation;
use velprior_physics::ModelShape;
use velprior_physics::fwi::smooth::{gaussian_kernel, gaussian_smooth};

use crate::illumination::seen_fraction;
use crate::{PosteriorError, Result};

/// A start model's error: std (m/s), correlation length (cells), and the illumination below
/// which it is kept.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StartError {
    /// Std per cell, m/s.
    pub std: f32,
    /// σ of the Gaussian blur of white noise, cells (0: independent cells).
    pub length: f32,
    /// The error is kept in full where the data see a cell less than this fraction of the
    /// best-seen cell, and fades above (default 0.001).
    #[serde(default = "fade_below")]
    pub fade_below: f32,
    /// Chains seeded 2k and 2k + 1 start from the start ± one draw (default false: a draw
    /// each).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub antithetic: bool,
}

fn fade_below() -> f32 {
    0.001
}

impl StartError {
    /// Refuses settings that make no field.
    pub fn check(&self) -> Result<()> {
        let valid = |v: f32, min: f32| v.is_finite() && v >= min;
        if !valid(self.std, f32::MIN_POSITIVE)
            || !valid(self.length, 0.0)
            || !valid(self.fade_below, f32::MIN_POSITIVE)
        {
            return Err(PosteriorError::invalid(
                "daps: start_error needs a finite std > 0 (m/s), a finite length >= 0 (cells) and a finite fade_below > 0, e.g. { std = 250, length = 5, fade_below = 0.001 }",
            ));
        }
        Ok(())
    }

    /// The fraction of the error kept in each cell, 1 − seen for the data precision `h` at the
    /// start ([`crate::illumination::data_precision`]).
    pub fn kept(&self, h: &[f32]) -> Result<Vec<f32>> {
        let seen = seen_fraction(h, self.fade_below)
            .map_err(|e| PosteriorError::invalid(format!("daps: start_error: {e}")))?;
        Ok(seen.iter().map(|w| (1.0 - w) as f32).collect())
    }

    /// The error of the chain seeded `chain_seed`: a draw from `rng`, or with `antithetic`
    /// ± the pair's draw (from its own stream, seeded `chain_seed / 2`), + for even seeds.
    pub fn draw_for_chain(
        &self,
        shape: ModelShape,
        normalisation: Normalisation,
        kept: &[f32],
        chain_seed: u64,
        rng: &mut impl Rng,
    ) -> Vec<f32> {
        if !self.antithetic {
            return self.draw(shape, normalisation, kept, rng);
        }
        // Stream 1: no chain's own random numbers (stream 0 of its seed) repeat the pair's.
        let mut pair_rng = ChaCha8Rng::seed_from_u64(chain_seed / 2);
        pair_rng.set_stream(1);
        let error = self.draw(shape, normalisation, kept, &mut pair_rng);
        if chain_seed.is_multiple_of(2) {
            error
        } else {
            error.iter().map(|e| -e).collect()
        }
    }

    /// One draw of the field in normalised units (the prior's `normalisation`), times `kept`
    /// per cell.
    pub fn draw(
        &self,
        shape: ModelShape,
        normalisation: Normalisation,
        kept: &[f32],
        rng: &mut impl Rng,
    ) -> Vec<f32> {
        let white: Vec<f32> = (0..shape.len())
            .map(|_| StandardNormal.sample(rng))
            .collect();
        let field = gaussian_smooth(&white, shape, self.length);
        // Blurring unit white noise by a separable kernel w leaves variance (Σ w²)² per cell.
        let units = self.std / (0.5 * (normalisation.vmax - normalisation.vmin));
        let scale = units / kernel_energy(self.length);
        field
            .iter()
            .zip(kept)
            .map(|(&v, &k)| v * scale * k)
            .collect()
    }
}

/// Σ w² of the 1-D kernel that [`gaussian_smooth`] applies (1 for σ = 0: no blur).
fn kernel_energy(sigma: f32) -> f32 {
    if sigma <= 0.0 {
        return 1.0;
    }
    gaussian_kernel(sigma).iter().map(|w| w * w).sum::<f64>() as f32
}
