//! A density prior with an exact log-density (Gaussian/PCA, Gaussian mixture, Gaussian process,
//! flow) as a [`Prior`]: draws in closed form; posterior methods use its log-density; a flow
//! also decodes its base variable.

use velprior_nn::Decoder;

use super::{Prior, PriorForm};
use crate::baselines::DensityCheckpoint;
use crate::checkpoint::CheckpointMeta;
use crate::error::Result;
use crate::samplers::{SamplerConfig, SamplerObserver};

impl Prior for DensityCheckpoint {
    fn meta(&self) -> &CheckpointMeta {
        &self.meta
    }

    fn draw(
        &self,
        count: usize,
        seed: u64,
        _sampler: &SamplerConfig,
        _observer: &mut dyn SamplerObserver,
    ) -> Result<Vec<f32>> {
        self.sample(count, seed)
    }

    fn form(&self) -> PriorForm<'_> {
        PriorForm::Density(&*self.density)
    }

    fn latent(&self) -> Option<(&dyn Decoder, f64)> {
        self.density.as_decoder().map(|d| (d, 1.0))
    }
}
