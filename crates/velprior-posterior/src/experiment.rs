//! A posterior experiment set up from its config (`velprior posterior --config`): the prior on
//! its device, the files of the FWI experiment (observed data, true and start models), the
//! acoustic operator, and the chains of the config's method. [`FwiInputs`] reads the files the
//! plain FWI baseline reads too.

use std::ops::Range;
use std::path::Path;
use std::time::Instant;

use candle_core::Device;
use velprior_data::import::{read_model, read_npy};
use velprior_diffusion::prior::{AnyPrior, Prior};
use velprior_physics::fwi::FwiFiles;
use velprior_physics::fwi::smooth::gaussian_smooth;
use velprior_physics::{AcousticOperator, ModelShape};

use crate::config::PosteriorConfig;
use crate::method::PriorModel;
use crate::patches::PatchDenoiser;
use crate::two_stage::first_stage_start;
use crate::{IterationRecord, PosteriorError, Problem, Result};

/// The files of an FWI experiment, read: observed data and the true and initial models (m/s).
#[derive(Debug, Clone)]
pub struct FwiInputs {
    /// The model grid (from the true or the initial model).
    pub shape: ModelShape,
    /// Observed data, as the operator lays it out.
    pub observed: Vec<f32>,
    /// The true model, for metrics (and the smoothed start without an initial model).
    pub truth: Option<Vec<f32>>,
    /// The initial model.
    pub initial: Option<Vec<f32>>,
}

impl FwiInputs {
    /// Reads `files` (named in the config `origin`); at least one model is needed, and the two
    /// models, when both are given, must have one shape.
    pub fn load(files: &FwiFiles, origin: &Path) -> Result<FwiInputs> {
        let read = |p: &Option<String>| p.as_deref().map(|p| read_model(Path::new(p))).transpose();
        let (truth, initial) = (read(&files.true_model)?, read(&files.initial_model)?);
        let shape = match (&truth, &initial) {
            (Some((a, _)), Some((b, _))) if a != b => {
                return Err(PosteriorError::invalid(format!(
                    "{}: files.true_model is {}x{} but files.initial_model is {}x{}; give models \
                     of one grid",
                    origin.display(),
                    a[0],
                    a[1],
                    b[0],
                    b[1]
                )));
            }
            (Some((s, _)), _) | (None, Some((s, _))) => ModelShape::new(s[0], s[1]),
            (None, None) => {
                return Err(PosteriorError::invalid(format!(
                    "{}: files.true_model or files.initial_model is needed",
                    origin.display()
                )));
            }
        };
        Ok(FwiInputs {
            shape,
            observed: read_npy(Path::new(&files.observed))?.values,
            truth: truth.map(|t| t.1),
            initial: initial.map(|t| t.1),
        })
    }

    /// The start model: the initial model, or else the truth smoothed by `sigma` cells.
    pub fn start(&self, sigma: f32) -> Result<Vec<f32>> {
        match (&self.initial, &self.truth) {
            (Some(v), _) => Ok(v.clone()),
            (None, Some(t)) => Ok(gaussian_smooth(t, self.shape, sigma)),
            (None, None) => Err(PosteriorError::invalid(
                "a start model needs files.initial_model or files.true_model",
            )),
        }
    }
}

/// A posterior experiment, ready to run chains.
pub struct Experiment {
    /// The config it was read from.
    pub config: PosteriorConfig,
    /// The prior, on the device its network runs on.
    pub prior: AnyPrior,
    /// Observed data, true and initial models.
    pub inputs: FwiInputs,
    /// The start model of every chain (m/s).
    pub start: Vec<f32>,
    operator: AcousticOperator,
}

/// What a run of chains produced.
#[derive(Debug, Clone)]
pub struct Chains {
    /// The samples in m/s, chain after chain, (nz · nx) each.
    pub samples: Vec<f32>,
    /// The acceptance rate of each chain (Metropolis-type methods).
    pub acceptance: Vec<f64>,
    /// Wall time of the chains (s), the first stage's included.
    pub wall_time_s: f64,
    /// The first stage's model (m/s), when the config has a `[start_method]` (not kept by
    /// merged shards).
    pub first_stage: Option<Vec<f32>>,
}

impl Experiment {
    /// Reads the config `text` (from `origin`), loads the prior onto `device` and the files,
    /// and checks that the method, the prior, the model and the data fit together, so that a
    /// bad config fails before anything runs.
    pub fn from_config(text: &str, origin: &Path, device: &Device) -> Result<Experiment> {
        let config = PosteriorConfig::from_toml(text, origin)?;
        let prior = AnyPrior::load(&config.prior, device)
            .map_err(|e| PosteriorError::invalid(format!("{}: prior: {e}", origin.display())))?;
        let inputs = FwiInputs::load(&config.files, origin)?;
        let operator = AcousticOperator::from_survey(
            inputs.shape,
            &config.solver,
            &config.acquisition,
            config.misfit,
            config.storage,
        );
        let start = inputs.start(config.smooth_sigma)?;
        let experiment = Experiment {
            config,
            prior,
            inputs,
            start,
            operator,
        };
        experiment.problem()?;
        let windows = experiment.windows().map_err(|e| {
            PosteriorError::invalid(format!(
                "{}: {}: {e}",
                origin.display(),
                experiment.config.prior.display()
            ))
        })?;
        let prior_model = PriorModel::of(&experiment.prior, windows.as_ref());
        let config = &experiment.config;
        for method in std::iter::once(&config.method).chain(&config.start_method) {
            method
                .check_prior(&prior_model)
                .map_err(|e| PosteriorError::invalid(format!("{}: {e}", origin.display())))?;
        }
        Ok(experiment)
    }

    /// The model grid.
    pub fn shape(&self) -> ModelShape {
        self.inputs.shape
    }

    /// The likelihood of the observed data, in the prior's normalised units.
    pub fn problem(&self) -> Result<Problem<'_>> {
        let observed = &self.inputs.observed;
        let scale = self
            .config
            .likelihood_scale
            .unwrap_or(observed.len() as f64);
        let norm = self.prior.meta().normalisation;
        Problem::new(&self.operator, observed, norm, scale)
            .map_err(|e| PosteriorError::invalid(format!("{}: {e}", self.config.files.observed)))
    }

    /// The prior's windows over the model, when the model is larger than the prior.
    fn windows(&self) -> Result<Option<PatchDenoiser<'_>>> {
        let shape = self.shape();
        PatchDenoiser::for_model(&self.prior, [shape.nz, shape.nx], self.config.patch_stride)
    }

    /// Runs chains `chains` of the method, chain j from seed `item_seed(seed, j)`, so that
    /// shards splitting the chains give the chains of an unsharded run; `observer` hears each
    /// iteration with its chain's index.
    pub fn run_chains(
        &self,
        chains: Range<usize>,
        seed: u64,
        observer: &mut dyn FnMut(usize, &IterationRecord<'_>) -> Result<()>,
    ) -> Result<Chains> {
        let problem = self.problem()?;
        let windows = self.windows()?;
        let prior = PriorModel::of(&self.prior, windows.as_ref());
        let t0 = Instant::now();
        let start = problem.to_unit(&self.start);
        let first_stage = match &self.config.start_method {
            Some(first) => Some(first_stage_start(first, &prior, &problem, &start, seed)?),
            None => None,
        };
        let start = first_stage.as_deref().unwrap_or(&start);
        let outputs = self
            .config
            .method
            .run_chains(&prior, &problem, start, chains, seed, observer)?;
        let acceptance = outputs
            .iter()
            .filter_map(|out| out.acceptance_rate)
            .collect();
        let samples: Vec<f32> = outputs.into_iter().flat_map(|out| out.samples).collect();
        Ok(Chains {
            samples: problem.to_velocity(&samples),
            acceptance,
            wall_time_s: t0.elapsed().as_secs_f64(),
            first_stage: first_stage.map(|x| problem.to_velocity(&x)),
        })
    }
}
