//! The GAN as a [`Prior`]: draws G(z), z ~ N(0, I); posterior methods search z through the
//! generator.

use super::{Prior, PriorForm};
use crate::baselines::GanPrior;
use crate::checkpoint::CheckpointMeta;
use crate::error::Result;
use crate::samplers::{SamplerConfig, SamplerObserver};

impl Prior for GanPrior {
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
        PriorForm::Latent {
            decoder: &self.generator,
            latent_std: 1.0,
        }
    }
}
