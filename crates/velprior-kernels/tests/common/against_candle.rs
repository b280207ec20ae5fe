//! Comparing a kernel with candle's own ops: random inputs, per-tensor relative closeness, and
//! values and gradients through candle's autograd.

use candle_core::{Device, Tensor, Var};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

/// A tensor of standard normal values drawn from `rng`.
pub fn randn(rng: &mut ChaCha8Rng, dims: &[usize]) -> Tensor {
    let n: usize = dims.iter().product();
    let v: Vec<f32> = (0..n).map(|_| StandardNormal.sample(rng)).collect();
    Tensor::from_vec(v, dims, &Device::Cpu).unwrap()
}

/// max |a − b| ≤ tol · max |b| per tensor: relative to that tensor's own scale, so a zeroed
/// gradient of a parameter whose true gradient is small fails too.
pub fn assert_close(what: &str, a: &Tensor, b: &Tensor, tol: f32) {
    assert_eq!(a.dims(), b.dims(), "{what}: shapes differ");
    let a = a.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    let b = b.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    let scale = b.iter().fold(f32::MIN_POSITIVE, |m, v| m.max(v.abs()));
    let err = a
        .iter()
        .zip(&b)
        .fold(0f32, |m, (x, y)| m.max((x - y).abs()));
    assert!(
        err <= tol * scale,
        "{what}: max error {err} > {tol} × {scale}"
    );
}

/// Values and gradients of `f(x, w, b)` (the kernel) and `g(x, w, b)` (the reference) for
/// `loss = Σ r ⊙ out`.
pub fn compare(
    what: &str,
    inputs: [Tensor; 3],
    r: &Tensor,
    f: impl Fn(&[&Tensor; 3]) -> Tensor,
    g: impl Fn(&[&Tensor; 3]) -> Tensor,
    tol: f32,
) {
    let run = |h: &dyn Fn(&[&Tensor; 3]) -> Tensor| {
        let vars: Vec<Var> = inputs
            .iter()
            .map(|t| Var::from_tensor(t).unwrap())
            .collect();
        let out = h(&[
            vars[0].as_tensor(),
            vars[1].as_tensor(),
            vars[2].as_tensor(),
        ]);
        let grads = (&out * r).unwrap().sum_all().unwrap().backward().unwrap();
        let gs: Vec<Tensor> = vars.iter().map(|v| grads.get(v).unwrap().clone()).collect();
        (out, gs)
    };
    let (out, gs) = run(&f);
    let (out_ref, gs_ref) = run(&g);
    assert_close(&format!("{what} forward"), &out, &out_ref, tol);
    for (i, name) in ["d/dx", "d/dw", "d/db"].iter().enumerate() {
        assert_close(&format!("{what} {name}"), &gs[i], &gs_ref[i], tol);
    }
}
