//! Exponential moving average of the weights (Polyak averaging), the weights samplers use.

use candle_core::{Tensor, Var};

use crate::Result;

/// Shadow copies θ̄ ← d·θ̄ + (1 − d)·θ of a list of variables.
pub struct Ema {
    /// The averaged tensors, in the order of the variables they track.
    pub shadow: Vec<Tensor>,
    decay: f64,
}

impl Ema {
    /// Starts the average at the current weights.
    pub fn new(vars: &[Var], decay: f64) -> Result<Self> {
        let shadow = vars
            .iter()
            .map(|v| v.as_tensor().copy())
            .collect::<candle_core::Result<Vec<_>>>()?;
        Ok(Ema { shadow, decay })
    }

    /// Moves the average towards the current weights.
    pub fn update(&mut self, vars: &[Var]) -> Result<()> {
        for (s, v) in self.shadow.iter_mut().zip(vars) {
            // Detached: the average must not keep an autograd history across steps.
            *s = ((&*s * self.decay)? + (v.as_tensor().detach() * (1.0 - self.decay))?)?.detach();
        }
        Ok(())
    }
}
