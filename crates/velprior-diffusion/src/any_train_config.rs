//! A `velprior train` config of any prior kind ([`AnyTrainConfig`]), chosen by its top-level
//! `kind` key.

use std::path::Path;

use serde::Deserialize;

use crate::baselines::config::{AeTrainConfig, DensityFitConfig, DensitySpec, GanTrainConfig};
use crate::checkpoint::PriorKind;
use crate::config::{TrainConfig, parse_toml};
use crate::error::{DiffusionError, Result};

/// A `velprior train` config of any prior kind, chosen by its top-level `kind` key.
#[derive(Debug, Clone, PartialEq)]
pub enum AnyTrainConfig {
    /// `kind = "diffusion"` (or no `kind`): [`TrainConfig`].
    Diffusion(TrainConfig),
    /// `kind = "autoencoder"` or `kind = "vae"` (a variational autoencoder).
    Autoencoder(AeTrainConfig),
    /// `kind = "gaussian" | "gmm" | "gp" | "flow"`: a density with an exact log-density.
    Density(DensityFitConfig),
    /// `kind = "gan"`: a DCGAN.
    Gan(GanTrainConfig),
}

#[derive(Deserialize)]
struct KindKey {
    kind: Option<toml::Spanned<PriorKind>>,
}

impl AnyTrainConfig {
    /// Parses TOML text; `origin` names the file in errors.
    pub fn from_toml(text: &str, origin: &Path) -> Result<AnyTrainConfig> {
        parse_toml::<toml::Table>(text, origin)?;
        let key: KindKey = toml::from_str(text).map_err(|e| {
            DiffusionError::Config(format!(
                "{}: kind: {} (use \"diffusion\", \"autoencoder\", \"vae\", \"gan\", \"gaussian\", \"gmm\", \"gp\" or \"flow\")",
                origin.display(),
                e.message().trim()
            ))
        })?;
        let Some(kind) = key.kind else {
            return Ok(AnyTrainConfig::Diffusion(TrainConfig::from_toml(
                text, origin,
            )?));
        };
        // Blank the `kind = ...` line so each config keeps rejecting unknown keys and error
        // line numbers stay those of the file.
        let span = kind.span();
        let start = text[..span.start].rfind('\n').map_or(0, |i| i + 1);
        let end = text[span.end..]
            .find('\n')
            .map_or(text.len(), |i| span.end + i);
        let rest = format!("{}{}", &text[..start], &text[end..]);
        Ok(match kind.into_inner() {
            PriorKind::Diffusion => {
                AnyTrainConfig::Diffusion(TrainConfig::from_toml(&rest, origin)?)
            }
            PriorKind::Autoencoder => {
                let cfg: AeTrainConfig = parse_toml(&rest, origin)?;
                cfg.validate(origin)?;
                AnyTrainConfig::Autoencoder(cfg)
            }
            PriorKind::Vae => {
                let mut cfg: AeTrainConfig = parse_toml(&rest, origin)?;
                cfg.model.variational = true;
                cfg.validate(origin)?;
                AnyTrainConfig::Autoencoder(cfg)
            }
            PriorKind::Gan => {
                let cfg: GanTrainConfig = parse_toml(&rest, origin)?;
                cfg.validate(origin)?;
                AnyTrainConfig::Gan(cfg)
            }
            PriorKind::Gaussian => AnyTrainConfig::Density(DensityFitConfig::parse(
                &rest,
                origin,
                DensitySpec::Gaussian,
            )?),
            PriorKind::Gmm => {
                AnyTrainConfig::Density(DensityFitConfig::parse(&rest, origin, DensitySpec::Gmm)?)
            }
            PriorKind::Gp => {
                AnyTrainConfig::Density(DensityFitConfig::parse(&rest, origin, DensitySpec::Gp)?)
            }
            PriorKind::Flow => {
                AnyTrainConfig::Density(DensityFitConfig::parse(&rest, origin, DensitySpec::Flow)?)
            }
        })
    }

    /// Reads and parses a TOML file.
    pub fn load(path: &Path) -> Result<AnyTrainConfig> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            DiffusionError::Config(format!("{}: cannot read config ({e})", path.display()))
        })?;
        AnyTrainConfig::from_toml(&text, path)
    }

    /// The run folder.
    pub fn output(&self) -> &Path {
        match self {
            AnyTrainConfig::Diffusion(c) => &c.output,
            AnyTrainConfig::Autoencoder(c) => &c.output,
            AnyTrainConfig::Density(c) => &c.output,
            AnyTrainConfig::Gan(c) => &c.output,
        }
    }
}
