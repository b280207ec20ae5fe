//! AdamW as three fused passes (the path off the CPU) against the one-pass CPU kernel, which is
//! tested against the AdamW formula in velprior-diffusion. Catches a pass that drops the
//! gradient clipping factor, a bias correction or the weight decay, or squares the wrong term.

use candle_core::{Device, Tensor};
use velprior_kernels::adamw_step_fused;
use velprior_kernels::cpu::{AdamWStep, adamw_step};

#[test]
fn three_passes_equal_the_one_pass_kernel() {
    let dev = Device::Cpu;
    let shape = (7, 3, 3, 5);
    let p = Tensor::randn(0f32, 1., shape, &dev).unwrap();
    let g = Tensor::randn(0f32, 1., shape, &dev).unwrap();
    let m = Tensor::randn(0f32, 0.1, shape, &dev).unwrap();
    let v = Tensor::randn(0f32, 0.1, shape, &dev)
        .unwrap()
        .sqr()
        .unwrap();
    let s = AdamWStep {
        lr: 3e-3,
        beta1: 0.9,
        beta2: 0.99,
        eps: 1e-8,
        weight_decay: 0.1,
        bias_correction1: 1.0 - 0.9f64.powi(3),
        bias_correction2: 1.0 - 0.99f64.powi(3),
        grad_scale: 0.37,
    };
    let want = adamw_step(&p, &g, &m, &v, &s).unwrap();
    let got = adamw_step_fused(&p, &g, &m, &v, &s).unwrap();
    for (name, a, b) in [
        ("p", &got.0, &want.0),
        ("m", &got.1, &want.1),
        ("v", &got.2, &want.2),
    ] {
        assert_eq!(a.dims(), b.dims(), "{name}");
        let worst = (a - b)
            .unwrap()
            .abs()
            .unwrap()
            .flatten_all()
            .unwrap()
            .max(0)
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert!(worst <= 1e-6, "{name}: differs by {worst}");
    }
}
