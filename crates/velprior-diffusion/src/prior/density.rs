//! A closed-form density prior (Gaussian/PCA, Gaussian mixture, Gaussian process) as a
//! [`Prior`]: draws in closed form; posterior methods use its log-density.

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
}
