//! Spectral normalisation (Miyato et al. 2018): a layer's weight W divided by an estimate of
//! its largest singular value σ(W), so that the layer is 1-Lipschitz. σ comes from power
//! iteration on W reshaped to (out, in·…): each training forward pass takes one step,
//! v = Wᵀu/‖Wᵀu‖, u = Wv/‖Wv‖, σ = uᵀWv, with u, v held constant in the gradient (as in
//! PyTorch's `spectral_norm`).

use std::sync::Mutex;

use candle_core::{D, Tensor};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

use crate::error::{NnError, Result};

/// A weight and the left singular vector estimate u of its power iteration.
#[derive(Debug)]
pub struct SpectralNorm {
    weight: Tensor,
    u: Mutex<Tensor>,
}

impl Clone for SpectralNorm {
    fn clone(&self) -> Self {
        SpectralNorm {
            weight: self.weight.clone(),
            u: Mutex::new(self.u()),
        }
    }
}

fn unit(x: &Tensor) -> Result<Tensor> {
    let norm = x.sqr()?.sum_all()?.sqrt()?;
    Ok(x.broadcast_div(&(norm + 1e-12)?)?)
}

impl SpectralNorm {
    /// Normalises `weight` (out, …); u starts as a unit Gaussian vector from `seed`.
    pub fn new(weight: Tensor, seed: u64) -> Result<Self> {
        let out = weight.dim(0)?;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let u: Vec<f32> = (0..out).map(|_| StandardNormal.sample(&mut rng)).collect();
        let u = unit(&Tensor::from_vec(u, (out, 1), weight.device())?)?;
        Ok(SpectralNorm {
            weight,
            u: Mutex::new(u),
        })
    }

    fn matrix(&self) -> Result<Tensor> {
        Ok(self.weight.flatten_from(1)?)
    }

    /// W/σ with σ from one more power-iteration step (u is updated).
    pub fn normalised(&self) -> Result<Tensor> {
        let w = self.matrix()?;
        let fixed = w.detach();
        let mut u = self.u.lock().map_err(|_| poisoned())?;
        let v = unit(&fixed.t()?.matmul(&u)?)?;
        let next = unit(&fixed.matmul(&v)?)?;
        let sigma = next.t()?.matmul(&w.matmul(&v)?)?.squeeze(D::Minus1)?;
        *u = next;
        Ok(self
            .weight
            .broadcast_div(&sigma.reshape(vec![1; self.weight.rank()])?)?)
    }

    /// The current estimate σ = uᵀWv, v = Wᵀu/‖Wᵀu‖, without a step.
    pub fn sigma(&self) -> Result<f64> {
        let w = self.matrix()?.detach();
        let u = self.u();
        let v = unit(&w.t()?.matmul(&u)?)?;
        Ok(f64::from(
            u.t()?
                .matmul(&w.matmul(&v)?)?
                .flatten_all()?
                .to_vec1::<f32>()?[0],
        ))
    }

    /// The vector u (out, 1), to checkpoint.
    pub fn u(&self) -> Tensor {
        self.u
            .lock()
            .map(|u| u.clone())
            .unwrap_or_else(|e| e.into_inner().clone())
    }

    /// Restores a checkpointed u.
    pub fn set_u(&self, u: &Tensor) -> Result<()> {
        let want = (self.weight.dim(0)?, 1);
        if u.dims2()? != want {
            return Err(NnError::Shape(format!(
                "spectral-norm vector of shape {:?}, the weight needs {want:?}",
                u.dims()
            )));
        }
        *self.u.lock().map_err(|_| poisoned())? = u.clone();
        Ok(())
    }
}

fn poisoned() -> NnError {
    NnError::Candle(candle_core::Error::Msg(
        "a spectral-norm vector was left poisoned by a panic".into(),
    ))
}
