//! Tensors as one flat f32 tensor for the collectives (on the tensors' device), and the
//! gradient all-reduce of a data-parallel training step.

use candle_core::{DType, Tensor, Var};

use super::AllReduce;
use crate::error::{DiffusionError, Result};

/// Replaces `grads` of `vars` by their sum over the ranks of `comm` (each rank's loss is its
/// share of the batch mean, so the sum is the whole batch's gradient); returns the summed
/// `loss`. Variables without a gradient contribute zeros.
pub(crate) fn all_reduce_grads(
    comm: &mut dyn AllReduce,
    vars: &[Var],
    grads: &mut candle_core::backprop::GradStore,
    loss: f64,
) -> Result<f64> {
    let mut tensors: Vec<Tensor> = vars
        .iter()
        .map(|v| match grads.get(v) {
            Some(g) => Ok(g.clone()),
            None => v.as_tensor().zeros_like(),
        })
        .collect::<candle_core::Result<_>>()?;
    let device = tensors
        .first()
        .ok_or_else(|| DiffusionError::invalid("all-reduce of a model without parameters"))?
        .device()
        .clone();
    tensors.push(Tensor::new(&[loss as f32], &device)?);
    let summed = unflatten(&comm.all_reduce_sum(&flatten(&tensors)?)?, &tensors)?;
    let total = f64::from(summed[vars.len()].to_vec1::<f32>()?[0]);
    for (v, g) in vars.iter().zip(summed) {
        grads.insert(v.as_tensor(), g);
    }
    Ok(total)
}

/// The f32 values of `tensors` (all on one device), concatenated into one 1-D tensor there.
pub(crate) fn flatten(tensors: &[Tensor]) -> Result<Tensor> {
    let parts = tensors
        .iter()
        .map(|t| t.flatten_all()?.to_dtype(DType::F32))
        .collect::<candle_core::Result<Vec<_>>>()?;
    Ok(Tensor::cat(&parts, 0)?)
}

/// Splits the 1-D `flat` into tensors shaped (and typed) like `like`.
pub(crate) fn unflatten(flat: &Tensor, like: &[Tensor]) -> Result<Vec<Tensor>> {
    let mut at = 0;
    like.iter()
        .map(|t| {
            let n = t.elem_count();
            let v = flat
                .narrow(0, at, n)?
                .reshape(t.shape())?
                .to_dtype(t.dtype())?;
            at += n;
            Ok(v)
        })
        .collect()
}
