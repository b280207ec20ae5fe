//! Seeded, reproducible weight initialisation and the PyTorch-default layer constructors.
//!
//! candle 0.11 cannot seed its CPU RNG (`Device::Cpu.set_seed` returns an error), so
//! `VarBuilder::from_varmap` gives different weights on every run. [`seeded_var_builder`]
//! returns a `VarBuilder` backed by a [`VarMap`] whose new variables are drawn from a ChaCha8
//! stream keyed by `(seed, tensor name)`: the same seed gives the same bits, independent of the
//! order in which layers are built, and adding a layer does not change the others.
//!
//! The layer constructors use PyTorch's defaults: `Conv2d` / `Linear` weights and biases
//! ~ U(−1/√fan_in, 1/√fan_in) (kaiming-uniform with a = √5), GroupNorm weight 1, bias 0.

use candle_core::{DType, Device, Shape, Tensor, Var};
use candle_nn::{Conv2d, Conv2dConfig, GroupNorm, Init, Linear, VarBuilder, VarMap};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

/// FNV-1a hash of a tensor name: stable across platforms and Rust versions.
fn name_hash(name: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Draw `n` values for tensor `name` from the `Init` hint with a per-tensor seeded stream.
fn sample_init(init: Init, n: usize, seed: u64, name: &str) -> candle_core::Result<Vec<f32>> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(name_hash(name));
    let v = match init {
        Init::Const(c) => vec![c as f32; n],
        Init::Uniform { lo, up } => (0..n)
            .map(|_| (lo + (up - lo) * rng.random::<f64>()) as f32)
            .collect(),
        Init::Randn { mean, stdev } => (0..n)
            .map(|_| {
                let z: f64 = StandardNormal.sample(&mut rng);
                (mean + stdev * z) as f32
            })
            .collect(),
        Init::Kaiming { .. } => candle_core::bail!(
            "velprior-nn seeded init: Kaiming hint for `{name}` is not supported; \
             use explicit Uniform bounds"
        ),
    };
    Ok(v)
}

/// A `VarMap` backend that initialises new variables from a seeded stream.
struct SeededVarMap {
    varmap: VarMap,
    seed: u64,
}

impl candle_nn::var_builder::SimpleBackend for SeededVarMap {
    fn get(
        &self,
        s: Shape,
        name: &str,
        h: Init,
        dtype: DType,
        dev: &Device,
    ) -> candle_core::Result<Tensor> {
        let mut data = self
            .varmap
            .data()
            .lock()
            .map_err(|_| candle_core::Error::Msg("VarMap lock poisoned".into()))?;
        if let Some(var) = data.get(name) {
            let t = var.as_tensor();
            if t.shape() != &s {
                candle_core::bail!(
                    "shape mismatch for `{name}`: stored {:?}, requested {:?}",
                    t.shape(),
                    s
                );
            }
            return Ok(t.clone());
        }
        let values = sample_init(h, s.elem_count(), self.seed, name)?;
        let t = Tensor::from_vec(values, s, dev)?.to_dtype(dtype)?;
        let var = Var::from_tensor(&t)?;
        let out = var.as_tensor().clone();
        data.insert(name.to_string(), var);
        Ok(out)
    }

    fn get_unchecked(&self, name: &str, dtype: DType, dev: &Device) -> candle_core::Result<Tensor> {
        let data = self
            .varmap
            .data()
            .lock()
            .map_err(|_| candle_core::Error::Msg("VarMap lock poisoned".into()))?;
        match data.get(name) {
            Some(v) => v.as_tensor().to_device(dev)?.to_dtype(dtype),
            None => candle_core::bail!("no variable named `{name}`"),
        }
    }

    fn contains_tensor(&self, name: &str) -> bool {
        self.varmap
            .data()
            .lock()
            .map(|d| d.contains_key(name))
            .unwrap_or(false)
    }
}

/// A `VarBuilder` that creates trainable variables in `varmap`, initialised reproducibly from
/// `seed` (per-tensor ChaCha8 streams keyed by the tensor name). Variables already in `varmap`
/// are reused as they are (so loading a checkpoint into the map first also works).
pub fn seeded_var_builder(
    varmap: &VarMap,
    seed: u64,
    dtype: DType,
    device: &Device,
) -> VarBuilder<'static> {
    VarBuilder::from_backend(
        Box::new(SeededVarMap {
            varmap: varmap.clone(),
            seed,
        }),
        dtype,
        device.clone(),
    )
}

fn torch_uniform(fan_in: usize) -> Init {
    let b = 1.0 / (fan_in.max(1) as f64).sqrt();
    Init::Uniform { lo: -b, up: b }
}

/// `Conv2d(cin, cout, k, stride, padding = k/2)` with bias, PyTorch-default init.
/// Tensors: `weight` (cout, cin, k, k), `bias` (cout,).
pub(crate) fn conv2d(
    cin: usize,
    cout: usize,
    k: usize,
    stride: usize,
    vb: VarBuilder,
) -> candle_core::Result<Conv2d> {
    let init = torch_uniform(cin * k * k);
    let w = vb.get_with_hints((cout, cin, k, k), "weight", init)?;
    let b = vb.get_with_hints(cout, "bias", init)?;
    let cfg = Conv2dConfig {
        padding: k / 2,
        stride,
        dilation: 1,
        groups: 1,
        cudnn_fwd_algo: None,
    };
    Ok(Conv2d::new(w, Some(b), cfg))
}

/// `Linear(din, dout)` with bias, PyTorch-default init. Tensors: `weight` (dout, din), `bias`.
pub(crate) fn linear(din: usize, dout: usize, vb: VarBuilder) -> candle_core::Result<Linear> {
    let init = torch_uniform(din);
    let w = vb.get_with_hints((dout, din), "weight", init)?;
    let b = vb.get_with_hints(dout, "bias", init)?;
    Ok(Linear::new(w, Some(b)))
}

/// `GroupNorm(groups, c, eps = 1e-5)` with affine weight 1 and bias 0 (PyTorch defaults).
pub(crate) fn group_norm(
    groups: usize,
    c: usize,
    vb: VarBuilder,
) -> candle_core::Result<GroupNorm> {
    let w = vb.get_with_hints(c, "weight", Init::Const(1.0))?;
    let b = vb.get_with_hints(c, "bias", Init::Const(0.0))?;
    GroupNorm::new(w, b, c, groups, 1e-5)
}
