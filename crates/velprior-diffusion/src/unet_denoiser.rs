//! The UNet as a [`Denoiser`]: maps noise levels to the network's time input and its output
//! (ε, v or x₀) to ε̂.

use candle_core::{Device, Tensor};
use velprior_nn::UNet;

use crate::Result;
use crate::config::{DiffusionConfig, Objective};
use crate::denoiser::{Denoiser, NoiseLevel};
use crate::noise::per_sample;
use crate::objective::{continuous_time_input, eps_from_output};

/// A trained UNet with the conventions it was trained under.
pub struct UNetDenoiser {
    unet: UNet,
    objective: Objective,
    /// `Some(T)` for discrete training on T steps (time input = index), `None` for continuous.
    discrete_timesteps: Option<usize>,
    /// Where the network's weights live.
    device: Device,
}

impl UNetDenoiser {
    /// Wraps `unet` trained with `diffusion`.
    pub fn new(unet: UNet, diffusion: &DiffusionConfig) -> Self {
        let discrete_timesteps = (!diffusion.continuous).then_some(diffusion.timesteps);
        UNetDenoiser {
            device: unet.device().clone(),
            unet,
            objective: diffusion.objective,
            discrete_timesteps,
        }
    }

    /// The network.
    pub fn unet(&self) -> &UNet {
        &self.unet
    }

    fn time_input(&self, level: &NoiseLevel) -> f32 {
        match self.discrete_timesteps {
            // t = (i + 1)/T  ⇒  i = t·T − 1.
            Some(steps) => (level.t * steps as f64 - 1.0).round().max(0.0) as f32,
            None => continuous_time_input(level.t),
        }
    }
}

impl Denoiser for UNetDenoiser {
    fn device(&self) -> &Device {
        &self.device
    }

    fn predict_eps(&self, x_t: &Tensor, levels: &[NoiseLevel]) -> Result<Tensor> {
        let device = x_t.device();
        let time: Vec<f32> = levels.iter().map(|l| self.time_input(l)).collect();
        let time = Tensor::from_vec(time, levels.len(), device)?;
        let out = self.unet.forward(x_t, &time, false)?;
        let a = per_sample(
            &levels
                .iter()
                .map(|l| l.alpha_bar.sqrt())
                .collect::<Vec<_>>(),
            device,
        )?;
        let b = per_sample(
            &levels.iter().map(NoiseLevel::sigma).collect::<Vec<_>>(),
            device,
        )?;
        eps_from_output(self.objective, &out, x_t, &a, &b)
    }
}
