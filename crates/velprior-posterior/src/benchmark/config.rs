//! A benchmark as read from TOML (`velprior benchmark --config …`): a test set, the survey that
//! observes it, the conditions the data are degraded under, and the inversion methods.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use velprior_data::synth::Family;
use velprior_physics::fwi::{AcquisitionConfig, OptimizerConfig, RegularisationConfig, Stage};
use velprior_physics::{DataNoise, Misfit, SolverConfig, Storage};

use crate::method::MethodConfig;
use crate::{PosteriorError, Result};

/// The whole benchmark.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BenchmarkConfig {
    /// The models inverted.
    pub test_set: TestSet,
    /// Finite-difference solver of the survey.
    pub solver: SolverConfig,
    /// Sources, receivers and wavelet.
    pub acquisition: AcquisitionConfig,
    /// Data misfit of every method (the protocol's L1 by default).
    #[serde(default = "l1")]
    pub misfit: Misfit,
    /// Every method starts from the true model smoothed by a Gaussian of this many cells.
    pub smooth_sigma: f32,
    /// Velocity bounds and plain FWI's normalisation (m/s).
    pub vmin: f32,
    pub vmax: f32,
    /// Wavefield storage of the adjoint gradient.
    #[serde(default)]
    pub storage: Storage,
    /// How the observed data are degraded (`[[condition]]`, at least one).
    #[serde(default)]
    pub condition: Vec<Condition>,
    /// The inversion methods (`[[method]]`, at least one).
    #[serde(default)]
    pub method: Vec<BenchmarkMethod>,
}

fn l1() -> Misfit {
    Misfit::L1
}

/// The models inverted: built-in families generated from a seed disjoint from every shipped
/// prior's corpus, and/or models imported from files.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestSet {
    #[serde(default)]
    pub families: Vec<Family>,
    /// Velocity models (m/s) from files — .npy of shape (N, 1, H, W) or (N, H, W), or HDF5
    /// corpora (e.g. OpenFWI's test sets) — each file a family named by its stem.
    #[serde(default)]
    pub files: Vec<PathBuf>,
    /// Models per family (the first ones of each file).
    pub models: usize,
    /// Model size (H, W); imported models must have it.
    pub size: [usize; 2],
    /// Seed of every built-in family's models (family k uses seed + k) and of the noise.
    pub seed: u64,
}

impl TestSet {
    /// The name of each family: built-in families, then the files' stems.
    pub fn names(&self) -> Vec<String> {
        self.families
            .iter()
            .map(|f| f.to_string())
            .chain(self.files.iter().map(|p| {
                p.file_stem().map_or_else(
                    || p.display().to_string(),
                    |s| s.to_string_lossy().into_owned(),
                )
            }))
            .collect()
    }
}

/// One way of observing the data: noise relative to each model's data RMS and dead traces,
/// drawn from the model's own seeded stream.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    pub name: String,
    /// `gaussian:σ` or `laplace:b`, relative to the data RMS (none: clean).
    #[serde(default)]
    pub noise: Option<String>,
    /// Receivers whose traces are zeroed in every shot.
    #[serde(default)]
    pub drop_traces: usize,
}

impl Condition {
    /// The parsed noise, or an error naming the condition.
    pub fn noise(&self) -> Result<Option<DataNoise>> {
        self.noise
            .as_deref()
            .map(|text| {
                text.parse().map_err(|e| {
                    PosteriorError::invalid(format!("condition {}: noise: {e}", self.name))
                })
            })
            .transpose()
    }
}

/// An inversion method: plain FWI (`fwi = {…}`) or a posterior method with a prior
/// (`prior = "…"`, `posterior = { kind = "red-diff", … }`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BenchmarkMethod {
    pub name: String,
    #[serde(default)]
    pub fwi: Option<FwiSettings>,
    #[serde(default)]
    pub prior: Option<PathBuf>,
    #[serde(default)]
    pub posterior: Option<MethodConfig>,
    /// The method's own data misfit (a sampler's Gaussian likelihood: `"l2"`) in place of the
    /// benchmark's.
    #[serde(default)]
    pub misfit: Option<Misfit>,
    /// Divisor of the misfit in the negative log-likelihood (default: the number of data).
    #[serde(default)]
    pub likelihood_scale: Option<f64>,
    /// The likelihood's σ relative to each model's observed-data RMS, in place of
    /// `likelihood_scale`: the L2 misfit's scale is then (σ · RMS)².
    #[serde(default)]
    pub noise_relative: Option<f64>,
    /// A first stage whose mean starts the method (as `[start_method]` of the posterior
    /// configs: RED-diff's mode, then a sampler's anneal from it).
    #[serde(default)]
    pub start_method: Option<MethodConfig>,
    /// Window stride when the prior's windows are smaller than the models.
    #[serde(default = "default_stride")]
    pub patch_stride: [usize; 2],
}

fn default_stride() -> [usize; 2] {
    [35, 35]
}

/// Plain FWI's settings (the rest comes from the benchmark).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FwiSettings {
    pub iterations: usize,
    pub optimizer: OptimizerConfig,
    #[serde(default)]
    pub regularisation: RegularisationConfig,
    #[serde(default)]
    pub multiscale: Vec<Stage>,
}

/// What a method is, checked.
pub enum MethodKind<'a> {
    Fwi(&'a FwiSettings),
    Posterior {
        prior: &'a PathBuf,
        method: &'a MethodConfig,
    },
}

impl BenchmarkMethod {
    /// Plain FWI or a posterior method with its prior (the likelihood and first-stage keys only
    /// with the latter); an error unless exactly one is given.
    pub fn kind(&self) -> Result<MethodKind<'_>> {
        let invalid = |what: &str| PosteriorError::invalid(format!("method {}: {what}", self.name));
        let posterior_only = self.misfit.is_some()
            || self.likelihood_scale.is_some()
            || self.noise_relative.is_some()
            || self.start_method.is_some();
        if self.likelihood_scale.is_some() && self.noise_relative.is_some() {
            return Err(invalid("give likelihood_scale or noise_relative, not both"));
        }
        if let Some(sigma) = self.noise_relative
            && !(sigma > 0.0 && sigma.is_finite())
        {
            return Err(invalid(&format!(
                "noise_relative = {sigma}: must be finite and > 0 (e.g. 0.05)"
            )));
        }
        match (&self.fwi, &self.prior, &self.posterior) {
            (Some(f), None, None) if !posterior_only => Ok(MethodKind::Fwi(f)),
            (Some(_), None, None) => Err(invalid(
                "misfit, likelihood_scale, noise_relative and start_method are for posterior methods; plain FWI takes the benchmark's misfit",
            )),
            (None, Some(prior), Some(method)) => Ok(MethodKind::Posterior { prior, method }),
            _ => Err(invalid(
                "give either fwi = {…} or prior = \"…\" with posterior = { kind = … }",
            )),
        }
    }
}

impl BenchmarkConfig {
    /// Whether this config is `old` with methods added: the same test set, survey, conditions
    /// and settings, and every method of `old` unchanged under its name. A folder of `old`'s
    /// inversions stays valid for it (only the new methods' inversions are missing).
    pub fn extends(&self, old: &BenchmarkConfig) -> bool {
        let (Ok(new), Ok(old)) = (serde_json::to_value(self), serde_json::to_value(old)) else {
            return false;
        };
        let methods = |c: &serde_json::Value| c["method"].as_array().cloned().unwrap_or_default();
        let (new_methods, old_methods) = (methods(&new), methods(&old));
        let rest = |mut c: serde_json::Value| {
            c.as_object_mut().map(|o| o.remove("method"));
            c
        };
        rest(new) == rest(old)
            && old_methods
                .iter()
                .all(|m| new_methods.iter().any(|n| n["name"] == m["name"] && n == m))
    }

    /// Checks what deserialisation cannot: non-empty lists, unique names, parsable conditions,
    /// well-formed methods.
    pub fn check(&self) -> Result<()> {
        let t = &self.test_set;
        if (t.families.is_empty() && t.files.is_empty()) || t.models == 0 {
            return Err(PosteriorError::invalid(
                "test_set: give at least one family or file, and models >= 1",
            ));
        }
        let names = t.names();
        for (i, name) in names.iter().enumerate() {
            if names[..i].contains(name) {
                return Err(PosteriorError::invalid(format!(
                    "test_set: two families are named '{name}'; rename one of the files"
                )));
            }
        }
        if self.condition.is_empty() || self.method.is_empty() {
            return Err(PosteriorError::invalid(
                "a benchmark needs at least one [[condition]] and one [[method]]",
            ));
        }
        if !(self.vmax > self.vmin && self.vmin > 0.0) {
            return Err(PosteriorError::invalid(
                "vmin/vmax: need 0 < vmin < vmax (m/s)",
            ));
        }
        for (what, names) in [
            (
                "condition",
                self.condition.iter().map(|c| &c.name).collect::<Vec<_>>(),
            ),
            ("method", self.method.iter().map(|m| &m.name).collect()),
        ] {
            for (i, name) in names.iter().enumerate() {
                if name.is_empty() || names[..i].contains(name) {
                    return Err(PosteriorError::invalid(format!(
                        "{what} names must be unique and non-empty: '{name}'"
                    )));
                }
            }
        }
        for c in &self.condition {
            c.noise()?;
        }
        for m in &self.method {
            m.kind()?;
        }
        Ok(())
    }
}
