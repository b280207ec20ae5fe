//! The two seams of this crate: [`LogDensity`], a prior density known in closed form (what
//! MALA, ULA and MAP inversion need), and [`DensityModel`], one that a checkpoint can hold
//! (it also samples and stores itself).

use candle_core::{Device, Tensor};

use crate::error::Result;
use crate::gaussian::GaussianPrior;

/// A prior density known up to a constant, on flattened models (x of length `dim()`) in
/// normalised units; evaluating a learned density (a flow) may fail.
pub trait LogDensity: Send + Sync {
    /// D, the values per model.
    fn dim(&self) -> usize;
    /// log p(x) + const.
    fn log_density(&self, x: &[f32]) -> Result<f64>;
    /// ∇ log p(x), length D.
    fn grad_log_density(&self, x: &[f32]) -> Result<Vec<f32>>;
    /// The prior as a Gaussian, when it is one (for the exact linear-Gaussian posterior).
    fn as_gaussian(&self) -> Option<&GaussianPrior> {
        None
    }
}

/// A fitted density a checkpoint holds: it samples and stores itself.
pub trait DensityModel: LogDensity {
    /// `n` independent draws from `seed`, row-major (n, D), normalised units.
    fn sample(&self, n: usize, seed: u64) -> Result<Vec<f32>>;
    /// The checkpoint tensors (names in each implementation's module docs).
    fn to_tensors(&self, device: &Device) -> Result<Vec<(String, Tensor)>>;
    /// The density as a map from a latent code to a model, where it has one (a flow).
    fn as_decoder(&self) -> Option<&dyn velprior_nn::Decoder> {
        None
    }
}
