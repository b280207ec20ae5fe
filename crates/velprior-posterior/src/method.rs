//! The posterior methods a config can name (`[method] kind = …`), the prior each one needs,
//! and one entry point that runs a method on a [`Problem`].

use std::ops::Range;

use candle_core::Tensor;
use serde::{Deserialize, Serialize};
use velprior_data::item_seed;
use velprior_diffusion::Denoiser;
use velprior_diffusion::prior::{Prior, PriorForm};
use velprior_kernels::Schedule;
use velprior_nn::Decoder;

use crate::alternating::{AlternatingConfig, alternating};
use crate::boomerang::{BoomerangConfig, boomerang};
use crate::daps::{DapsConfig, daps};
use crate::dps::{DpsConfig, dps};
use crate::langevin::langevin;
use crate::linear_gaussian::{LinearGaussianConfig, linear_gaussian};
use crate::map::{MapConfig, latent_map_estimate, map_estimate};
use crate::metropolis::{LatentTarget, random_walk_metropolis};
use crate::observer::{IterationRecord, PosteriorObserver};
use crate::patches::PatchDenoiser;
use crate::problem::Problem;
use crate::red_diff::{RedDiffConfig, red_diff};
use crate::sgld::{SgldConfig, sgld};
use crate::target::{Chain, ChainConfig, ChainSpace, LogDensity, PosteriorTarget, Target};
use crate::variational::{ViConfig, variational};
use crate::{PosteriorError, Result};

/// A method and its settings (`[method]`, `kind = "red-diff" | "dps" | "alternating" |
/// "daps" | "map" | "mala" | "ula" | "metropolis" | "sgld" | "vi" | "boomerang" |
/// "linear-gaussian"`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum MethodConfig {
    RedDiff(RedDiffConfig),
    Dps(DpsConfig),
    /// Decoupled annealing posterior sampling.
    Daps(DapsConfig),
    Alternating(AlternatingConfig),
    /// MAP inversion with a closed-form density prior.
    Map(MapConfig),
    /// Metropolis-adjusted Langevin.
    Mala(McmcConfig),
    /// Unadjusted Langevin.
    Ula(McmcConfig),
    /// Random-walk Metropolis.
    Metropolis(McmcConfig),
    /// Stochastic-gradient Langevin with shot subsampling.
    Sgld(SgldConfig),
    /// Variational inference with a normalizing flow.
    Vi(ViConfig),
    /// Boomerang local sampling around the start model (diffusion prior; no data).
    Boomerang(BoomerangConfig),
    /// The exact posterior of a Gaussian prior under a linear operator (the reference).
    LinearGaussian(LinearGaussianConfig),
}

/// Settings of an MCMC baseline (MALA, ULA, random-walk Metropolis) in model space (Gaussian
/// prior) or an autoencoder's latent space: `chains` independent chains (chain j seeded
/// seed + j), each keeping `samples` states after `burn_in` steps, every `thin`-th.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct McmcConfig {
    /// Where the chain moves (default: model space).
    #[serde(default)]
    pub space: ChainSpace,
    /// Langevin step h, or the random-walk proposal std (normalised units, or latent units).
    pub step: f64,
    /// States kept per chain.
    pub samples: usize,
    /// Steps discarded first.
    #[serde(default)]
    pub burn_in: usize,
    /// Steps between kept states.
    #[serde(default = "one")]
    pub thin: usize,
    /// Independent chains.
    #[serde(default = "one")]
    pub chains: usize,
}

impl McmcConfig {
    fn chain(&self) -> ChainConfig {
        ChainConfig {
            step: self.step,
            samples: self.samples,
            burn_in: self.burn_in,
            thin: self.thin,
        }
    }
}

fn one() -> usize {
    1
}

/// How errors name the closed-form density priors.
const DENSITY: &str = "density (gaussian, gmm, gp or flow)";
const LATENT: &str = "latent-variable (autoencoder, vae or gan)";

/// The loaded prior a method runs with.
pub enum PriorModel<'a> {
    /// A diffusion model (possibly applied by overlapping windows) and its schedule.
    Diffusion {
        denoiser: &'a dyn Denoiser,
        schedule: &'a Schedule,
    },
    /// A closed-form density (Gaussian/PCA, Gaussian mixture, Gaussian process), normalised
    /// units.
    Density(&'a dyn LogDensity),
    /// A decoder of latent codes (autoencoder, VAE, GAN generator) and the std s of its
    /// latent prior N(0, s²I).
    Latent {
        decoder: &'a dyn Decoder,
        latent_std: f64,
    },
}

impl<'a> PriorModel<'a> {
    /// A loaded checkpoint as its method sees it; a diffusion prior through `windows` when the
    /// model is wider than the prior's windows.
    pub fn of(prior: &'a dyn Prior, windows: Option<&'a PatchDenoiser<'a>>) -> PriorModel<'a> {
        match prior.form() {
            PriorForm::Denoiser { denoiser, schedule } => PriorModel::Diffusion {
                denoiser: match windows {
                    Some(windows) => windows as &dyn Denoiser,
                    None => denoiser,
                },
                schedule,
            },
            PriorForm::Density(d) => PriorModel::Density(d),
            PriorForm::Latent {
                decoder,
                latent_std,
            } => PriorModel::Latent {
                decoder,
                latent_std,
            },
        }
    }

    /// "diffusion", "density" or "latent-variable", as [`MethodConfig::prior_kind`] names them.
    pub fn kind(&self) -> &'static str {
        match self {
            PriorModel::Diffusion { .. } => "diffusion",
            PriorModel::Density(_) => DENSITY,
            PriorModel::Latent { .. } => LATENT,
        }
    }
}

/// What one chain (or one batch of a diffusion method) produced.
#[derive(Debug, Clone)]
pub struct MethodOutput {
    /// Samples, normalised units, concatenated (nz · nx each).
    pub samples: Vec<f32>,
    /// Accepted / proposed moves (Metropolis-type chains only).
    pub acceptance_rate: Option<f64>,
}

impl MethodConfig {
    /// The method's name as written in configs.
    pub fn name(&self) -> &'static str {
        match self {
            MethodConfig::RedDiff(_) => "red-diff",
            MethodConfig::Dps(_) => "dps",
            MethodConfig::Daps(_) => "daps",
            MethodConfig::Alternating(_) => "alternating",
            MethodConfig::Map(_) => "map",
            MethodConfig::Mala(_) => "mala",
            MethodConfig::Ula(_) => "ula",
            MethodConfig::Metropolis(_) => "metropolis",
            MethodConfig::Sgld(_) => "sgld",
            MethodConfig::Vi(_) => "vi",
            MethodConfig::Boomerang(_) => "boomerang",
            MethodConfig::LinearGaussian(_) => "linear-gaussian",
        }
    }

    /// The prior kind the method needs ("diffusion", "density" or "latent-variable").
    pub fn prior_kind(&self) -> &'static str {
        match self {
            MethodConfig::RedDiff(_)
            | MethodConfig::Dps(_)
            | MethodConfig::Daps(_)
            | MethodConfig::Alternating(_)
            | MethodConfig::Boomerang(_) => "diffusion",
            MethodConfig::Mala(c) | MethodConfig::Ula(c) | MethodConfig::Metropolis(c) => {
                match c.space {
                    ChainSpace::Model => DENSITY,
                    ChainSpace::Latent => LATENT,
                }
            }
            MethodConfig::Map(c) => match c.space {
                ChainSpace::Model => DENSITY,
                ChainSpace::Latent => LATENT,
            },
            MethodConfig::LinearGaussian(_) | MethodConfig::Sgld(_) | MethodConfig::Vi(_) => {
                DENSITY
            }
        }
    }

    /// An error naming the prior kind needed unless `prior` is of that kind.
    pub fn check_prior(&self, prior: &PriorModel) -> Result<()> {
        if prior.kind() == self.prior_kind() {
            return Ok(());
        }
        Err(PosteriorError::invalid(format!(
            "method {} needs a prior checkpoint of kind {}, not {}: set `prior` to one",
            self.name(),
            self.prior_kind(),
            prior.kind()
        )))
    }

    /// Iterations the observer sees per chain.
    pub fn iterations(&self) -> usize {
        match self {
            MethodConfig::RedDiff(c) => c.iterations,
            MethodConfig::Dps(c) => c.steps,
            MethodConfig::Daps(c) => ((c.t0 * c.steps as f64).ceil() as usize).clamp(1, c.steps),
            MethodConfig::Alternating(c) => {
                ((c.t0 * c.steps as f64).ceil() as usize).clamp(1, c.steps)
            }
            MethodConfig::Mala(c) | MethodConfig::Ula(c) | MethodConfig::Metropolis(c) => {
                c.chain().total()
            }
            MethodConfig::Sgld(c) => c.chain().total(),
            MethodConfig::Map(c) => c.iterations,
            MethodConfig::Vi(c) => c.iterations,
            MethodConfig::Boomerang(c) => ((c.t_star * c.steps as f64).ceil() as usize).max(1),
            MethodConfig::LinearGaussian(_) => 1,
        }
    }

    /// Independent chains: each diffusion sample is its own chain; an MCMC chain keeps many
    /// states; Boomerang draws all its samples in one batch.
    pub fn chains(&self) -> usize {
        match self {
            MethodConfig::RedDiff(c) => c.samples,
            MethodConfig::Dps(c) => c.samples,
            MethodConfig::Daps(c) => c.samples,
            MethodConfig::Alternating(c) => c.samples,
            MethodConfig::Mala(c) | MethodConfig::Ula(c) | MethodConfig::Metropolis(c) => c.chains,
            MethodConfig::Sgld(c) => c.chains,
            MethodConfig::Boomerang(_) | MethodConfig::Map(_) | MethodConfig::Vi(_) => 1,
            MethodConfig::LinearGaussian(c) => c.samples,
        }
    }

    /// The same method running a single chain.
    pub fn one_chain(&self) -> MethodConfig {
        let mut m = self.clone();
        match &mut m {
            MethodConfig::RedDiff(c) => c.samples = 1,
            MethodConfig::Dps(c) => c.samples = 1,
            MethodConfig::Daps(c) => c.samples = 1,
            MethodConfig::Alternating(c) => c.samples = 1,
            MethodConfig::Mala(c) | MethodConfig::Ula(c) | MethodConfig::Metropolis(c) => {
                c.chains = 1
            }
            MethodConfig::Sgld(c) => c.chains = 1,
            MethodConfig::Boomerang(_) | MethodConfig::Map(_) | MethodConfig::Vi(_) => {}
            MethodConfig::LinearGaussian(c) => c.samples = 1,
        }
        m
    }

    /// Runs chains `chains` of the method one by one from `start` (normalised), chain j seeded
    /// `item_seed(seed, j)`, so that runs splitting the chains (shards) give the chains of one
    /// run; `observer` hears each iteration with its chain's index. One output per chain.
    pub fn run_chains(
        &self,
        prior: &PriorModel,
        problem: &Problem,
        start: &[f32],
        chains: Range<usize>,
        seed: u64,
        observer: &mut dyn FnMut(usize, &IterationRecord<'_>) -> Result<()>,
    ) -> Result<Vec<MethodOutput>> {
        let one = self.one_chain();
        chains
            .map(|j| {
                let mut chain_observer = |r: &IterationRecord<'_>| observer(j, r);
                one.run(
                    prior,
                    problem,
                    start,
                    item_seed(seed, j),
                    &mut chain_observer,
                )
            })
            .collect()
    }

    /// Runs the method once (all chains of its config; use [`MethodConfig::one_chain`] to run
    /// them one by one) from `start` (normalised; RED-diff, alternating, MCMC and Boomerang
    /// start there).
    pub fn run(
        &self,
        prior: &PriorModel,
        problem: &Problem,
        start: &[f32],
        seed: u64,
        observer: &mut dyn PosteriorObserver,
    ) -> Result<MethodOutput> {
        self.check_prior(prior)?;
        let plain = |samples| MethodOutput {
            samples,
            acceptance_rate: None,
        };
        if let PriorModel::Diffusion {
            denoiser, schedule, ..
        } = prior
        {
            let d = *denoiser;
            match self {
                MethodConfig::RedDiff(c) => {
                    return red_diff(d, problem, schedule, start, c, seed, observer).map(plain);
                }
                MethodConfig::Dps(c) => {
                    return dps(d, problem, schedule, c, seed, observer).map(plain);
                }
                MethodConfig::Daps(c) => {
                    return daps(d, problem, schedule, c, start, seed, observer).map(plain);
                }
                MethodConfig::Alternating(c) => {
                    return alternating(d, problem, schedule, start, c, seed, observer).map(plain);
                }
                MethodConfig::Boomerang(c) => {
                    let shape = problem.shape();
                    return boomerang(d, schedule, start, shape, c, seed, observer).map(plain);
                }
                _ => {}
            }
        }
        if let (MethodConfig::LinearGaussian(c), PriorModel::Density(density)) = (self, prior) {
            let gaussian = density.as_gaussian().ok_or_else(|| {
                PosteriorError::invalid("method linear-gaussian needs a Gaussian prior checkpoint")
            })?;
            return linear_gaussian(gaussian, problem, c.samples, seed).map(plain);
        }
        if let (MethodConfig::Sgld(c), PriorModel::Density(density)) = (self, prior) {
            return sgld(*density, problem, start, c, seed, observer).map(plain);
        }
        if let (MethodConfig::Map(c), PriorModel::Density(density)) = (self, prior) {
            return map_estimate(*density, problem, start, c, observer).map(plain);
        }
        if let (
            MethodConfig::Map(c),
            PriorModel::Latent {
                decoder,
                latent_std,
            },
        ) = (self, prior)
        {
            let target = LatentTarget {
                decoder: *decoder,
                latent_std: *latent_std,
                problem,
            };
            let z0 = latent_start(*decoder, start)?;
            return latent_map_estimate(&target, &z0, c, observer).map(plain);
        }
        if let (MethodConfig::Vi(c), PriorModel::Density(density)) = (self, prior) {
            return variational(*density, problem, start, c, seed, observer).map(plain);
        }
        let (kind, c) = match self {
            MethodConfig::Mala(c) => (Sampler::Mala, c),
            MethodConfig::Ula(c) => (Sampler::Ula, c),
            MethodConfig::Metropolis(c) => (Sampler::RandomWalk, c),
            _ => {
                return Err(PosteriorError::invalid(format!(
                    "method {}: the prior does not fit",
                    self.name()
                )));
            }
        };
        mcmc(kind, c, prior, problem, start, seed, observer)
    }
}

/// The MCMC baselines.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Sampler {
    Mala,
    Ula,
    RandomWalk,
}

impl Sampler {
    /// Runs this sampler on `target` from `x0`.
    fn run(
        self,
        target: &dyn Target,
        x0: &[f32],
        cfg: &ChainConfig,
        seed: u64,
        observer: &mut dyn PosteriorObserver,
    ) -> Result<Chain> {
        match self {
            Sampler::Mala => langevin(target, x0, cfg, true, seed, observer),
            Sampler::Ula => langevin(target, x0, cfg, false, seed, observer),
            Sampler::RandomWalk => random_walk_metropolis(target, x0, cfg, seed, observer),
        }
    }
}

/// Runs `sampler` in the space `c.space` names; kept latent states are decoded. ULA accepts
/// every move, so it reports no acceptance rate.
fn mcmc(
    sampler: Sampler,
    c: &McmcConfig,
    prior: &PriorModel,
    problem: &Problem,
    start: &[f32],
    seed: u64,
    observer: &mut dyn PosteriorObserver,
) -> Result<MethodOutput> {
    let chain_cfg = c.chain();
    let (samples, acceptance_rate) = match (c.space, prior) {
        (ChainSpace::Model, PriorModel::Density(density)) => {
            let target = PosteriorTarget {
                prior: *density,
                problem,
            };
            let chain = sampler.run(&target, start, &chain_cfg, seed, observer)?;
            (chain.samples, chain.acceptance_rate)
        }
        (
            ChainSpace::Latent,
            PriorModel::Latent {
                decoder,
                latent_std,
            },
        ) => {
            let target = LatentTarget {
                decoder: *decoder,
                latent_std: *latent_std,
                problem,
            };
            let z0 = latent_start(*decoder, start)?;
            // The observer sees models, not codes.
            let mut decoded = |r: &IterationRecord<'_>| -> Result<()> {
                let x = target.decode(r.estimate)?;
                observer.on_iteration(&IterationRecord { estimate: &x, ..*r })
            };
            let chain = sampler.run(&target, &z0, &chain_cfg, seed, &mut decoded)?;
            let mut samples = Vec::with_capacity(c.samples * problem.dim());
            for z in chain.samples.chunks(decoder.latent_dim()) {
                samples.extend(target.decode(z)?);
            }
            (samples, chain.acceptance_rate)
        }
        _ => {
            return Err(PosteriorError::invalid(
                "mcmc: space = \"model\" needs a density prior (gaussian, gmm, gp or flow), \"latent\" an autoencoder, VAE or GAN",
            ));
        }
    };
    Ok(MethodOutput {
        samples,
        acceptance_rate: (sampler != Sampler::Ula).then_some(acceptance_rate),
    })
}

/// The code a latent search starts from: E(start) where the network has an encoder, else
/// z = 0, the latent prior's mode (a GAN's generator cannot invert the start model).
fn latent_start(decoder: &dyn Decoder, start: &[f32]) -> Result<Vec<f32>> {
    let Some(autoencoder) = decoder.as_autoencoder() else {
        return Ok(vec![0.0; decoder.latent_dim()]);
    };
    let mut dims = vec![1];
    dims.extend(autoencoder.model_dims());
    let input = Tensor::from_slice(start, dims, autoencoder.device())?;
    Ok(autoencoder
        .encode(&input)?
        .flatten_all()?
        .to_vec1::<f32>()?)
}
