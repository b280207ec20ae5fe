//! Plain FWI baseline: Adam or projected L-BFGS on the normalised model, box bounds, Tikhonov
//! and TV regularisation, Gaussian-smoothed start, optional multiscale low-pass of the data.
//!
//! The objective, in RED-DiffEq's normalised units x = 2(v − vmin)/(vmax − vmin) − 1, is
//! f(x) = misfit(F(v(x)), d_obs)/N_data + λ_tik·mean|∇x|² + λ_tv·mean|∇x|.
//! File reading and PNG/JSON writing belong to the CLI; this module works on arrays.

pub mod adam;
pub mod lbfgs;
pub mod regularise;
pub mod smooth;

use crate::adjoint::{GradientOptions, misfit_and_gradient};
use crate::checkpointing::Storage;
use crate::error::{PhysicsError, Result, param};
use crate::geometry::{Acquisition, ModelShape};
use crate::metrics::{Metrics, velocity_metrics};
use crate::misfit::Misfit;
use crate::propagate::SolverConfig;
use crate::wavelet::{ricker, ricker_openfwi};

/// Source wavelet of the acquisition.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum WaveletConfig {
    /// The OpenFWI window Ricker (peak at 73 ms for 15 Hz, 1 ms).
    Openfwi { freq: f32 },
    /// Ricker with peak frequency `freq` (Hz) delayed by `delay` (s).
    Ricker { freq: f32, delay: f32 },
}

/// Surface acquisition: sources spread evenly (OpenFWI rule), a receiver in every column.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AcquisitionConfig {
    pub n_sources: usize,
    /// Depth index of sources and receivers (OpenFWI: 1, i.e. 10 m).
    pub depth: usize,
    /// Number of time steps (= samples per trace).
    pub nt: usize,
    pub wavelet: WaveletConfig,
}

impl AcquisitionConfig {
    /// Build the acquisition for a model `nx` columns wide.
    pub fn build(&self, nx: usize, dt: f32) -> Acquisition {
        let w = match self.wavelet {
            WaveletConfig::Openfwi { freq } => ricker_openfwi(freq, dt, self.nt),
            WaveletConfig::Ricker { freq, delay } => ricker(freq, dt, self.nt, delay),
        };
        Acquisition::surface(nx, self.n_sources, self.depth, w)
    }
}

/// Optimiser and its step size in normalised units.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum OptimizerConfig {
    Adam {
        lr: f32,
        #[serde(default = "beta1")]
        beta1: f32,
        #[serde(default = "beta2")]
        beta2: f32,
        #[serde(default = "eps")]
        eps: f32,
    },
    /// Projected L-BFGS; `first_step` is the largest change of x in the first iteration.
    Lbfgs {
        #[serde(default = "history")]
        history: usize,
        first_step: f32,
    },
}

fn beta1() -> f32 {
    0.9
}
fn beta2() -> f32 {
    0.999
}
fn eps() -> f32 {
    1e-8
}
fn history() -> usize {
    10
}

/// Regularisation weights (0 = off).
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegularisationConfig {
    #[serde(default)]
    pub tikhonov: f32,
    #[serde(default)]
    pub tv: f32,
}

/// A multiscale stage: low-pass data and wavelet below `cutoff_hz` for `iterations`.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stage {
    pub cutoff_hz: f32,
    pub iterations: usize,
}

/// Input files, resolved and read by the CLI (paths relative to the working directory).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FwiFiles {
    /// Observed data, (1, n_shots, nt, n_rec) or (n_shots, nt, n_rec) .npy.
    pub observed: String,
    /// True model (m/s) for metrics and, without `initial_model`, the smoothed start.
    #[serde(default)]
    pub true_model: Option<String>,
    /// Starting model (m/s); overrides smoothing the truth.
    #[serde(default)]
    pub initial_model: Option<String>,
}

/// A complete FWI experiment (`velprior fwi --config …`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FwiConfig {
    pub files: FwiFiles,
    pub solver: SolverConfig,
    pub acquisition: AcquisitionConfig,
    pub optimizer: OptimizerConfig,
    /// Total iterations when `multiscale` is empty.
    pub iterations: usize,
    #[serde(default)]
    pub misfit: Misfit,
    #[serde(default)]
    pub regularisation: RegularisationConfig,
    /// σ (cells) of the Gaussian smoothing of the true model used as start.
    #[serde(default)]
    pub smooth_sigma: f32,
    /// Normalisation and box bounds (m/s): x = 2(v − vmin)/(vmax − vmin) − 1 ∈ [−1, 1].
    pub vmin: f32,
    pub vmax: f32,
    #[serde(default)]
    pub multiscale: Vec<Stage>,
    #[serde(default)]
    pub storage: Storage,
}

/// One line of the per-iteration log.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct IterationLog {
    pub iteration: usize,
    /// Data misfit / N_data at the model before this iteration's update.
    pub misfit: f64,
    pub regularisation: f64,
    pub total: f64,
    /// Metrics of the updated model against the truth (when given).
    pub metrics: Option<Metrics>,
    /// Low-pass cutoff of the current stage (Hz), if multiscale.
    pub cutoff_hz: Option<f32>,
    pub seconds: f64,
}

/// Result of an inversion.
#[derive(Debug, Clone)]
pub struct FwiResult {
    pub start: Vec<f32>,
    pub model: Vec<f32>,
    pub log: Vec<IterationLog>,
}

/// Run FWI on in-memory arrays. `d_obs` is the observed data (shots × (nt, n_rec));
/// `truth`/`initial` are (nz, nx) in m/s; `observer` sees each log line and current model.
pub fn run_fwi(
    cfg: &FwiConfig,
    shape: ModelShape,
    d_obs: &[f32],
    truth: Option<&[f32]>,
    initial: Option<&[f32]>,
    observer: &mut dyn FnMut(&IterationLog, &[f32]),
) -> Result<FwiResult> {
    if !(cfg.vmax > cfg.vmin && cfg.vmin > 0.0) {
        return Err(param("vmin/vmax", "need 0 < vmin < vmax (m/s)"));
    }
    let acq = cfg.acquisition.build(shape.nx, cfg.solver.dt);
    if d_obs.len() != acq.data_len() {
        return Err(PhysicsError::Shape {
            what: "observed data",
            expected: acq.data_len(),
            got: d_obs.len(),
        });
    }
    let start = match (initial, truth) {
        (Some(v0), _) => v0.to_vec(),
        (None, Some(t)) => smooth::gaussian_smooth(t, shape, cfg.smooth_sigma),
        (None, None) => {
            return Err(param(
                "files.initial_model",
                "give an initial model or a true model to smooth",
            ));
        }
    };
    shape.check_velocity(&start)?;
    let (lo, span) = (cfg.vmin, cfg.vmax - cfg.vmin);
    let to_v = |x: &[f32]| {
        x.iter()
            .map(|&x| lo + (x + 1.0) * 0.5 * span)
            .collect::<Vec<f32>>()
    };
    let mut x: Vec<f32> = start
        .iter()
        .map(|&v| ((v - lo) / span * 2.0 - 1.0).clamp(-1.0, 1.0))
        .collect();
    let project = |x: &mut [f32]| x.iter_mut().for_each(|v| *v = v.clamp(-1.0, 1.0));
    let stages: Vec<(Option<f32>, usize)> = if cfg.multiscale.is_empty() {
        vec![(None, cfg.iterations)]
    } else {
        cfg.multiscale
            .iter()
            .map(|s| (Some(s.cutoff_hz), s.iterations))
            .collect()
    };
    let mut log = Vec::new();
    let t0 = std::time::Instant::now();
    let n_data = d_obs.len() as f64;
    let opts = GradientOptions {
        misfit: cfg.misfit,
        storage: cfg.storage,
    };
    let reg = cfg.regularisation;
    let mut it = 0;
    for (cutoff, iters) in stages {
        let (mut acq_s, mut dobs_s) = (acq.clone(), d_obs.to_vec());
        if let Some(fc) = cutoff {
            let n_rec: Vec<usize> = acq.shots.iter().map(|s| s.receivers.len()).collect();
            smooth::lowpass_gathers(&mut dobs_s, acq.nt(), &n_rec, cfg.solver.dt, fc);
            smooth::lowpass(&mut acq_s.wavelet, cfg.solver.dt, fc);
        }
        // Objective in normalised units: (total, data part, reg part, gradient).
        let objective = |x: &[f32]| -> Result<(f64, f64, f64, Vec<f32>)> {
            let v = to_v(x);
            let (f, gv, _) = misfit_and_gradient(&v, shape, &cfg.solver, &acq_s, &dobs_s, opts)?;
            let scale = 0.5 * span / n_data as f32;
            let mut g: Vec<f32> = gv.iter().map(|g| g * scale).collect();
            let mut r = 0.0;
            for (lam, rf) in [
                (
                    reg.tikhonov,
                    regularise::tikhonov as fn(&[f32], ModelShape) -> (f64, Vec<f32>),
                ),
                (reg.tv, regularise::total_variation),
            ] {
                if lam != 0.0 {
                    let (rv, rg) = rf(x, shape);
                    r += f64::from(lam) * rv;
                    g.iter_mut().zip(&rg).for_each(|(a, b)| *a += lam * b);
                }
            }
            Ok((f / n_data + r, f / n_data, r, g))
        };
        let mut record =
            |it: usize, fd: f64, fr: f64, x: &[f32], log: &mut Vec<IterationLog>| -> Result<()> {
                let v = to_v(x);
                let metrics = truth.map(|t| velocity_metrics(&v, t, shape)).transpose()?;
                let line = IterationLog {
                    iteration: it,
                    misfit: fd,
                    regularisation: fr,
                    total: fd + fr,
                    metrics,
                    cutoff_hz: cutoff,
                    seconds: t0.elapsed().as_secs_f64(),
                };
                tracing::info!(
                    iteration = it,
                    misfit = fd,
                    total = fd + fr,
                    ssim = line.metrics.map(|m| m.ssim),
                    "fwi"
                );
                observer(&line, &v);
                log.push(line);
                Ok(())
            };
        match cfg.optimizer {
            OptimizerConfig::Adam {
                lr,
                beta1,
                beta2,
                eps,
            } => {
                let mut opt = adam::Adam::new(x.len(), lr, beta1, beta2, eps);
                for _ in 0..iters {
                    let (_, fd, fr, g) = objective(&x)?;
                    opt.step(&mut x, &g);
                    project(&mut x);
                    record(it, fd, fr, &x, &mut log)?;
                    it += 1;
                }
            }
            OptimizerConfig::Lbfgs {
                history,
                first_step,
            } => {
                let mut mem = lbfgs::Lbfgs::new(history);
                let (mut fx, mut fd, mut fr, mut g) = objective(&x)?;
                for _ in 0..iters {
                    let mut parts = (fd, fr);
                    let mut f = |xx: &[f32]| -> Result<(f64, Vec<f32>)> {
                        let (t, d, r, g) = objective(xx)?;
                        parts = (d, r);
                        Ok((t, g))
                    };
                    let (xn, fnew, gn) =
                        lbfgs::lbfgs_iteration(&mut mem, &x, fx, &g, first_step, &project, &mut f)?;
                    if fnew < fx {
                        (fd, fr) = parts;
                    }
                    (x, fx, g) = (xn, fnew, gn);
                    record(it, fd, fr, &x, &mut log)?;
                    it += 1;
                }
            }
        }
    }
    Ok(FwiResult {
        start,
        model: to_v(&x),
        log,
    })
}
