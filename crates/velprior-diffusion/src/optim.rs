//! AdamW (Loshchilov & Hutter 2019) with linear warm-up and cosine decay, global-norm gradient
//! clipping, and optimiser state that checkpoints can save and restore bit for bit. On CPU the
//! update of each f32 parameter is one fused pass (`velprior_kernels::cpu::adamw_step`).

use candle_core::backprop::GradStore;
use candle_core::{DType, Tensor, Var};
use serde::{Deserialize, Serialize};
use velprior_kernels::adamw_step_fused;
use velprior_kernels::cpu::{AdamWStep, adamw_step, sum_squares};

use crate::Result;

/// AdamW hyper-parameters and the learning-rate schedule.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdamWConfig {
    /// Peak learning rate.
    pub lr: f64,
    /// β₁.
    pub beta1: f64,
    /// β₂.
    pub beta2: f64,
    /// ε added to √v̂.
    pub eps: f64,
    /// Decoupled weight decay.
    pub weight_decay: f64,
    /// Linear warm-up steps from 0 to `lr`.
    pub warmup_steps: usize,
    /// Cosine decay from `lr` to `lr · min_lr_ratio` over the remaining steps; 1 = constant.
    pub min_lr_ratio: f64,
    /// Clip the global gradient norm to this value (none when `None`).
    pub grad_clip: Option<f64>,
}

impl Default for AdamWConfig {
    fn default() -> Self {
        AdamWConfig {
            lr: 2e-4,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.01,
            warmup_steps: 0,
            min_lr_ratio: 1.0,
            grad_clip: Some(1.0),
        }
    }
}

impl AdamWConfig {
    /// Learning rate at step `step` (0-based) of `total` steps.
    pub fn lr_at(&self, step: usize, total: usize) -> f64 {
        if step < self.warmup_steps {
            return self.lr * (step + 1) as f64 / self.warmup_steps as f64;
        }
        let decay_steps = total.saturating_sub(self.warmup_steps).max(1);
        let progress = ((step - self.warmup_steps) as f64 / decay_steps as f64).min(1.0);
        let cosine = 0.5 * (1.0 + (std::f64::consts::PI * progress).cos());
        self.lr * (self.min_lr_ratio + (1.0 - self.min_lr_ratio) * cosine)
    }
}

/// AdamW over a list of variables; moments are plain tensors so they can be checkpointed.
pub struct AdamW {
    vars: Vec<Var>,
    /// First moments m, one per variable.
    pub first: Vec<Tensor>,
    /// Second moments v, one per variable.
    pub second: Vec<Tensor>,
    /// Number of updates taken so far.
    pub steps_taken: usize,
    config: AdamWConfig,
}

/// What one optimiser step did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepReport {
    /// Global gradient norm before clipping.
    pub grad_norm: f64,
    /// Learning rate used.
    pub lr: f64,
}

impl AdamW {
    /// An optimiser with zero moments for `vars`.
    pub fn new(vars: Vec<Var>, config: AdamWConfig) -> Result<Self> {
        let first = vars
            .iter()
            .map(|v| v.zeros_like())
            .collect::<candle_core::Result<Vec<_>>>()?;
        // Separate allocations for m and v (a clone of `first` would share its storage).
        let second = vars
            .iter()
            .map(|v| v.zeros_like())
            .collect::<candle_core::Result<Vec<_>>>()?;
        Ok(AdamW {
            vars,
            first,
            second,
            steps_taken: 0,
            config,
        })
    }

    /// Global L2 norm of the gradients of the optimiser's variables.
    pub fn grad_norm(&self, grads: &GradStore) -> Result<f64> {
        let mut sum = 0.0f64;
        // Off the CPU the squares are summed on the device and read back once (one sync).
        let mut on_device: Option<Tensor> = None;
        for var in &self.vars {
            if let Some(g) = grads.get(var) {
                if fused(g) {
                    sum += sum_squares(g)?;
                    continue;
                }
                let s = g.to_dtype(DType::F64)?.sqr()?.sum_all()?;
                on_device = Some(match on_device {
                    Some(acc) => (acc + s)?,
                    None => s,
                });
            }
        }
        if let Some(s) = on_device {
            sum += s.to_scalar::<f64>()?;
        }
        Ok(sum.sqrt())
    }

    /// One AdamW update with learning rate `lr`, after clipping the global gradient norm.
    pub fn step(&mut self, grads: &GradStore, lr: f64) -> Result<StepReport> {
        let c = self.config;
        let grad_norm = self.grad_norm(grads)?;
        let clip = match c.grad_clip {
            Some(max) if grad_norm > max => max / grad_norm,
            _ => 1.0,
        };
        self.steps_taken += 1;
        let t = self.steps_taken as i32;
        let (bc1, bc2) = (1.0 - c.beta1.powi(t), 1.0 - c.beta2.powi(t));
        for (k, var) in self.vars.iter().enumerate() {
            let Some(g) = grads.get(var) else { continue };
            let s = AdamWStep {
                lr,
                beta1: c.beta1,
                beta2: c.beta2,
                eps: c.eps,
                weight_decay: c.weight_decay,
                bias_correction1: bc1,
                bias_correction2: bc2,
                grad_scale: clip,
            };
            let (p, m) = (var.as_tensor(), &self.first[k]);
            let (p, m, v) = if fused(g) && fused(p) {
                adamw_step(p, g, m, &self.second[k], &s)?
            } else {
                // Off the CPU: three fused passes (velprior_kernels::ops::adamw).
                adamw_step_fused(p, g, m, &self.second[k], &s)?
            };
            var.set(&p)?;
            self.first[k] = m;
            self.second[k] = v;
        }
        Ok(StepReport { grad_norm, lr })
    }
}

/// Whether the fused CPU kernels apply to `t` (f32 on the CPU).
fn fused(t: &Tensor) -> bool {
    t.device().is_cpu() && t.dtype() == DType::F32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warmup_then_cosine() {
        let c = AdamWConfig {
            lr: 1.0,
            warmup_steps: 10,
            min_lr_ratio: 0.1,
            ..Default::default()
        };
        assert!((c.lr_at(0, 110) - 0.1).abs() < 1e-12);
        assert!((c.lr_at(9, 110) - 1.0).abs() < 1e-12);
        assert!((c.lr_at(10, 110) - 1.0).abs() < 1e-12);
        assert!((c.lr_at(60, 110) - 0.55).abs() < 1e-12);
        assert!((c.lr_at(110, 110) - 0.1).abs() < 1e-12);
    }

    #[test]
    fn one_step_matches_the_adamw_formula() {
        // f(w) = ½ w², gradient w; first step: m̂ = g, v̂ = g², update = g/(|g| + ε) ≈ sign(g).
        let w = Var::new(&[2.0f32, -3.0], &candle_core::Device::Cpu).unwrap();
        let cfg = AdamWConfig {
            lr: 0.1,
            weight_decay: 0.5,
            grad_clip: None,
            ..Default::default()
        };
        let mut opt = AdamW::new(vec![w.clone()], cfg).unwrap();
        let loss = (w.as_tensor().sqr().unwrap().sum_all().unwrap() * 0.5).unwrap();
        let grads = loss.backward().unwrap();
        opt.step(&grads, 0.1).unwrap();
        let got = w.as_tensor().to_vec1::<f32>().unwrap();
        let expect = [2.0 * (1.0 - 0.05) - 0.1, -3.0 * (1.0 - 0.05) + 0.1];
        assert!(
            (got[0] - expect[0]).abs() < 1e-6 && (got[1] - expect[1]).abs() < 1e-6,
            "{got:?}"
        );
    }
}
