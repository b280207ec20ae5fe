//! Stationary correlation functions ρ(d; ℓ) of the Gaussian-process prior, for a lag d and
//! a correlation length ℓ in the same units (grid cells); ρ(0) = 1.

use serde::{Deserialize, Serialize};

/// A correlation family (`kernel = "exponential" | "gaussian" | "matern32"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kernel {
    /// exp(−d/ℓ): rough fields (Matérn ν = 1/2).
    Exponential,
    /// exp(−d²/(2ℓ²)): smooth fields.
    Gaussian,
    /// (1 + √3 d/ℓ) exp(−√3 d/ℓ): Matérn ν = 3/2, once differentiable.
    Matern32,
}

impl Kernel {
    /// ρ(d; ℓ).
    pub fn correlation(self, lag: f64, length: f64) -> f64 {
        let d = lag.abs() / length;
        match self {
            Kernel::Exponential => (-d).exp(),
            Kernel::Gaussian => (-0.5 * d * d).exp(),
            Kernel::Matern32 => {
                let s = 3f64.sqrt() * d;
                (1.0 + s) * (-s).exp()
            }
        }
    }

    /// The code stored in checkpoints.
    pub fn code(self) -> u8 {
        match self {
            Kernel::Exponential => 0,
            Kernel::Gaussian => 1,
            Kernel::Matern32 => 2,
        }
    }

    /// The kernel of a stored code.
    pub fn from_code(code: u8) -> Option<Kernel> {
        [Kernel::Exponential, Kernel::Gaussian, Kernel::Matern32]
            .into_iter()
            .find(|k| k.code() == code)
    }
}
