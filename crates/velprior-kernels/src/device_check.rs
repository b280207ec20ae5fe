//! Every fused op on a device against the CPU implementation, on the same random inputs: what
//! `tests/cuda_equivalence.rs` asserts and `scripts/gpu-check.sh` reports.

use candle_core::{Device, Tensor};

use crate::cpu::AdamWStep;
use crate::respacing::uniform_timesteps;
use crate::{
    DdimStep, DdpmStep, DdpmVariance, Result, Schedule, VpSde, adamw_step_fused, col2im, ddim_step,
    ddpm_step, eps_from_v, euler_maruyama_step, guided_update, im2col, langevin_step, q_sample,
    tweedie_x0, v_target, x0_from_v,
};

/// One op's comparison: the largest absolute difference between the device's and the CPU's
/// outputs, and the largest |CPU output| (the scale the difference is judged against).
#[derive(Debug, Clone, PartialEq)]
pub struct OpComparison {
    /// The op and its variant.
    pub name: &'static str,
    /// max |device − CPU|.
    pub max_abs_diff: f32,
    /// max(1, max |CPU|).
    pub scale: f32,
    /// Whether the output stayed on the device.
    pub on_device: bool,
}

type Op<'a> = Box<dyn Fn(&Tensor, &Tensor, &Tensor) -> Result<Tensor> + 'a>;

/// Runs every fused op (and its variants: clipping, no noise, tensor timesteps; the
/// convolution's im2col and col2im; AdamW) on `device` and on the CPU over inputs `x`, `e`, `z` of shape (7, 1, 33, 65) drawn on the CPU (odd sizes, so
/// partial blocks and per-sample boundaries are exercised).
pub fn compare_fused_ops(device: &Device) -> Result<Vec<OpComparison>> {
    let cpu = Device::Cpu; // host: the reference
    let shape = (7usize, 1usize, 33usize, 65usize);
    let x = Tensor::randn(0f32, 1., shape, &cpu)?;
    let e = Tensor::randn(0f32, 1., shape, &cpu)?;
    let z = Tensor::randn(0f32, 1., shape, &cpu)?;
    let (xd, ed, zd) = (
        x.to_device(device)?,
        e.to_device(device)?,
        z.to_device(device)?,
    );
    let s = Schedule::cosine(1000)?;
    let sp = s.respace(&uniform_timesteps(1000, 50)?)?;
    let ts = [0usize, 999, 1, 500, 250, 750, 998];
    let tsp = [0usize, 49, 1, 20, 10, 30, 48];
    let t_tensor = Tensor::new(&[0u32, 999, 1, 500, 250, 750, 998], &cpu)?;
    let sde = VpSde::default();
    let tc = [1.0, 0.5, 0.01, 0.2, 0.9, 0.3, 0.7];
    let clip = Some((-1.0f32, 1.0f32));
    let adamw = AdamWStep {
        lr: 1e-3,
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
        weight_decay: 0.01,
        bias_correction1: 1.0 - 0.9f64.powi(3),
        bias_correction2: 1.0 - 0.999f64.powi(3),
        grad_scale: 0.5,
    };
    let ops: Vec<(&str, Op)> = vec![
        ("im2col 3x3", Box::new(|x, _, _| im2col(x, 3, 3, 1, 1))),
        (
            "col2im of im2col 3x3 stride 2",
            Box::new(|x, _, _| col2im(&im2col(x, 3, 3, 2, 1)?, x.dims4()?, 3, 3, 2, 1)),
        ),
        (
            "adamw (θ', m', v')",
            Box::new(|x, e, z| {
                let (p, m, v) = adamw_step_fused(x, e, z, &z.sqr()?, &adamw)?;
                Ok(Tensor::cat(&[p, m, v], 0)?)
            }),
        ),
        ("q_sample", Box::new(|x, e, _| q_sample(x, e, &ts[..], &s))),
        (
            "q_sample (tensor t)",
            Box::new(|x, e, _| q_sample(x, e, &t_tensor.to_device(x.device())?, &s)),
        ),
        (
            "tweedie_x0",
            Box::new(|x, e, _| tweedie_x0(x, e, &ts[..], &s)),
        ),
        ("v_target", Box::new(|x, e, _| v_target(x, e, &ts[..], &s))),
        (
            "eps_from_v",
            Box::new(|x, e, _| eps_from_v(x, e, &ts[..], &s)),
        ),
        (
            "x0_from_v",
            Box::new(|x, e, _| x0_from_v(x, e, &ts[..], &s)),
        ),
        (
            "ddpm_step",
            Box::new(|x, e, z| ddpm_step(x, e, Some(z), &ts[..], &s, &DdpmStep::default())),
        ),
        (
            "ddpm_step clip",
            Box::new(|x, e, z| {
                let o = DdpmStep {
                    variance: DdpmVariance::Beta,
                    clip_x0: clip,
                };
                ddpm_step(x, e, Some(z), &ts[..], &s, &o)
            }),
        ),
        (
            "ddpm_step t=0 no z",
            Box::new(|x, e, _| ddpm_step(x, e, None, &0usize, &s, &DdpmStep::default())),
        ),
        (
            "ddim_step eta=0",
            Box::new(|x, e, _| ddim_step(x, e, None, &tsp[..], &sp, &DdimStep::default())),
        ),
        (
            "ddim_step eta=1 clip",
            Box::new(|x, e, z| {
                let o = DdimStep {
                    eta: 1.0,
                    clip_x0: clip,
                };
                ddim_step(x, e, Some(z), &tsp[..], &sp, &o)
            }),
        ),
        (
            "euler_maruyama",
            Box::new(|x, e, z| euler_maruyama_step(x, e, Some(z), &tc, 1e-3, &sde)),
        ),
        (
            "euler_maruyama no z",
            Box::new(|x, e, _| euler_maruyama_step(x, e, None, &tc, 1e-3, &sde)),
        ),
        (
            "langevin",
            Box::new(|x, e, z| langevin_step(x, e, z, &[0.3], &[1e-3])),
        ),
        (
            "guided_update",
            Box::new(|x, e, _| guided_update(x, e, 0.5, &[3.0, 1.0, 2.0, 4.0, 5.0, 6.0, 7.0])),
        ),
    ];
    let mut out = Vec::with_capacity(ops.len());
    for (name, op) in ops {
        let c = op(&x, &e, &z)?.flatten_all()?.to_vec1::<f32>()?;
        let d = op(&xd, &ed, &zd)?;
        let on_device = d.device().same_device(device);
        let d = d.flatten_all()?.to_vec1::<f32>()?;
        let scale = c.iter().fold(1f32, |m, v| m.max(v.abs()));
        let max_abs_diff = c
            .iter()
            .zip(&d)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, |m, v| if v.is_nan() { f32::NAN } else { m.max(v) });
        out.push(OpComparison {
            name,
            max_abs_diff,
            scale,
            on_device,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Catches a comparison that cannot run (an op's closure failing on these inputs, e.g. a
    /// wrong im2col geometry or AdamW shape) before it reaches a GPU: on the CPU every op is
    /// compared with itself and must agree exactly.
    #[test]
    fn every_op_runs_and_agrees_with_itself_on_the_cpu() {
        let ops = compare_fused_ops(&Device::Cpu).unwrap(); // host: the CPU against itself
        assert_eq!(ops.len(), 18);
        for c in ops {
            assert!(c.on_device, "{}", c.name);
            assert_eq!(c.max_abs_diff, 0.0, "{}", c.name);
        }
    }
}
