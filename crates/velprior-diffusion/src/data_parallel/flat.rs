//! Tensors as one flat f32 buffer for the collectives, and the gradient all-reduce of a
//! data-parallel training step.

use candle_core::{DType, Tensor, Var};

use super::AllReduce;
use crate::error::Result;

/// Replaces `grads` of `vars` by their sum over the ranks of `comm` (each rank's loss is its
/// share of the batch mean, so the sum is the whole batch's gradient); returns the summed
/// `loss`. Variables without a gradient contribute zeros.
pub(crate) fn all_reduce_grads(
    comm: &mut dyn AllReduce,
    vars: &[Var],
    grads: &mut candle_core::backprop::GradStore,
    loss: f64,
) -> Result<f64> {
    let tensors: Vec<Tensor> = vars
        .iter()
        .map(|v| match grads.get(v) {
            Some(g) => Ok(g.clone()),
            None => v.as_tensor().zeros_like(),
        })
        .collect::<candle_core::Result<_>>()?;
    let mut flat = flatten(&tensors)?;
    flat.push(loss as f32);
    comm.all_reduce_sum(&mut flat)?;
    let total = f64::from(flat.pop().expect("loss pushed above"));
    for (v, g) in vars.iter().zip(unflatten(&flat, &tensors)?) {
        grads.insert(v.as_tensor(), g);
    }
    Ok(total)
}

/// The f32 values of `tensors`, concatenated.
pub(crate) fn flatten(tensors: &[Tensor]) -> Result<Vec<f32>> {
    let mut out = Vec::new();
    for t in tensors {
        out.extend(t.flatten_all()?.to_dtype(DType::F32)?.to_vec1::<f32>()?);
    }
    Ok(out)
}

/// Splits `flat` into tensors shaped (and placed) like `like`.
pub(crate) fn unflatten(flat: &[f32], like: &[Tensor]) -> Result<Vec<Tensor>> {
    let mut at = 0;
    like.iter()
        .map(|t| {
            let n = t.elem_count();
            let v = Tensor::from_slice(&flat[at..at + n], t.shape(), t.device())?;
            at += n;
            Ok(v.to_dtype(t.dtype())?)
        })
        .collect()
}
