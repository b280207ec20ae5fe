//! The regularised autoencoder as a [`Prior`]: draws decode z ~ N(0, s²I); posterior methods
//! use its decoder and s.

use super::{Prior, PriorForm};
use crate::baselines::AePrior;
use crate::checkpoint::CheckpointMeta;
use crate::error::Result;
use crate::samplers::{SamplerConfig, SamplerObserver};

impl Prior for AePrior {
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
            decoder: &self.ae,
            latent_std: self.latent_std(),
        }
    }
}
