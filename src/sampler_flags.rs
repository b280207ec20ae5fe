//! The diffusion sampler flags shared by `velprior sample` and `velprior evaluate`.

use anyhow::{Result, bail};
use clap::{Args, ValueEnum};
use velprior_diffusion::samplers::SamplerConfig;
use velprior_kernels::DdpmVariance;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum SamplerKind {
    /// DDPM ancestral sampling (all training steps unless --steps).
    Ddpm,
    /// DDIM with --steps and --eta.
    Ddim,
    /// DPM-Solver++(2M), a second-order ODE solver (--steps, default 25).
    DpmSolver,
    /// Reverse VP-SDE, Euler–Maruyama.
    EulerMaruyama,
    /// Predictor–corrector (Euler–Maruyama + Langevin, --snr).
    Pc,
}

/// --sampler, --steps, --eta, --snr (diffusion priors only).
#[derive(Debug, Args)]
pub struct SamplerFlags {
    /// Sampler (diffusion only).
    #[arg(long, value_enum, default_value = "dpm-solver")]
    pub sampler: SamplerKind,
    /// Sampler steps (diffusion only; default DPM-Solver++ 25, DDIM 50, SDE samplers 500, DDPM
    /// all training steps).
    #[arg(long)]
    pub steps: Option<usize>,
    /// DDIM η in [0, 1] (0 = deterministic; diffusion only).
    #[arg(long, default_value_t = 0.0)]
    pub eta: f64,
    /// Predictor–corrector signal-to-noise ratio (diffusion only).
    #[arg(long, default_value_t = 0.16)]
    pub snr: f64,
    /// DPM-Solver++ only: bound x̂0 by dynamic thresholding at this quantile of |x̂0| per
    /// sample (Imagen's; default 0.95), or `off` to clip it to [−1, 1].
    #[arg(long, value_name = "QUANTILE|off", value_parser = parse_dynamic_threshold)]
    pub dynamic_threshold: Option<DynamicThreshold>,
}

/// `--dynamic-threshold`'s value.
#[derive(Debug, Clone, Copy)]
pub enum DynamicThreshold {
    /// Clip x̂0 to [−1, 1] instead.
    Off,
    /// The quantile of |x̂0| per sample.
    Quantile(f64),
}

fn parse_dynamic_threshold(s: &str) -> Result<DynamicThreshold, String> {
    if s == "off" {
        return Ok(DynamicThreshold::Off);
    }
    s.parse()
        .map(DynamicThreshold::Quantile)
        .map_err(|_| format!("'{s}' is neither a quantile in (0, 1] (e.g. 0.95) nor 'off'"))
}

impl SamplerFlags {
    /// The sampler these flags describe, x̂0 clipped to [−1, 1] (DPM-Solver++: dynamically
    /// thresholded unless `--dynamic-threshold off`).
    pub fn config(&self) -> Result<SamplerConfig> {
        let clip = Some([-1.0, 1.0]);
        if self.dynamic_threshold.is_some() && !matches!(self.sampler, SamplerKind::DpmSolver) {
            bail!(
                "--dynamic-threshold works with --sampler dpm-solver only: drop it or switch sampler"
            );
        }
        let config = match self.sampler {
            SamplerKind::Ddpm => SamplerConfig::Ddpm {
                steps: self.steps,
                variance: DdpmVariance::Posterior,
                clip,
            },
            SamplerKind::Ddim => SamplerConfig::Ddim {
                steps: self.steps.unwrap_or(50),
                eta: self.eta,
                clip,
            },
            SamplerKind::DpmSolver => {
                let steps = self.steps.unwrap_or(25);
                match self.dynamic_threshold {
                    None => SamplerConfig::dpm_solver(steps),
                    Some(DynamicThreshold::Off) => SamplerConfig::DpmSolver {
                        steps,
                        clip,
                        dynamic_threshold: None,
                    },
                    Some(DynamicThreshold::Quantile(q)) => SamplerConfig::DpmSolver {
                        steps,
                        clip: None,
                        dynamic_threshold: Some(q),
                    },
                }
            }
            SamplerKind::EulerMaruyama => SamplerConfig::EulerMaruyama {
                steps: self.steps.unwrap_or(500),
                t_min: 1e-3,
                clip,
            },
            SamplerKind::Pc => SamplerConfig::Pc {
                steps: self.steps.unwrap_or(500),
                snr: self.snr,
                corrector_steps: 1,
                t_min: 1e-3,
                clip,
            },
        };
        config.validate()?;
        Ok(config)
    }
}
