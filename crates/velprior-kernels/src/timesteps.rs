//! Per-sample timesteps: what the fused ops accept as `t`.

use candle_core::{DType, Tensor};

use crate::{Error, Result};

/// Something that yields one timestep index per sample of a batch of `n`: a single `usize`
/// (broadcast), a slice / array / `Vec` of length `n` (or 1, broadcast), or a 1-D integer tensor
/// (u8, u32 or i64) of length `n` (or 1), as the trainer samples them.
pub trait AsTimesteps {
    /// The `n` timesteps.
    fn timesteps(&self, n: usize) -> Result<Vec<usize>>;
}

fn broadcast(v: &[usize], n: usize) -> Result<Vec<usize>> {
    match v.len() {
        1 => Ok(vec![v[0]; n]),
        l if l == n => Ok(v.to_vec()),
        l => Err(Error::arg(
            "timesteps",
            format!("got {l} timesteps for a batch of {n}"),
        )),
    }
}

impl AsTimesteps for usize {
    fn timesteps(&self, n: usize) -> Result<Vec<usize>> {
        Ok(vec![*self; n])
    }
}

impl AsTimesteps for [usize] {
    fn timesteps(&self, n: usize) -> Result<Vec<usize>> {
        broadcast(self, n)
    }
}

impl<const K: usize> AsTimesteps for [usize; K] {
    fn timesteps(&self, n: usize) -> Result<Vec<usize>> {
        broadcast(self, n)
    }
}

impl AsTimesteps for Vec<usize> {
    fn timesteps(&self, n: usize) -> Result<Vec<usize>> {
        broadcast(self, n)
    }
}

impl AsTimesteps for Tensor {
    fn timesteps(&self, n: usize) -> Result<Vec<usize>> {
        let t = self.flatten_all()?;
        let v: Vec<usize> = match t.dtype() {
            DType::U8 => t.to_vec1::<u8>()?.into_iter().map(usize::from).collect(),
            DType::U32 => t
                .to_vec1::<u32>()?
                .into_iter()
                .map(|x| x as usize)
                .collect(),
            DType::I64 => {
                let v = t.to_vec1::<i64>()?;
                if let Some(bad) = v.iter().find(|x| **x < 0) {
                    return Err(Error::arg("timesteps", format!("negative timestep {bad}")));
                }
                v.into_iter().map(|x| x as usize).collect()
            }
            dt => {
                return Err(Error::arg(
                    "timesteps",
                    format!("timestep tensor must be u8, u32 or i64, got {dt:?}"),
                ));
            }
        };
        broadcast(&v, n)
    }
}

/// One f64 per sample from a slice of length `n` or 1.
pub(crate) fn per_sample(op: &'static str, what: &str, v: &[f64], n: usize) -> Result<Vec<f64>> {
    match v.len() {
        1 => Ok(vec![v[0]; n]),
        l if l == n => Ok(v.to_vec()),
        l => Err(Error::arg(
            op,
            format!("got {l} values of {what} for a batch of {n}"),
        )),
    }
}
