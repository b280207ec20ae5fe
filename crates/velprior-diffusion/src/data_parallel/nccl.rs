//! [`AllReduce`] over NCCL (cudarc's `nccl` bindings, loaded at run time): one process per
//! GPU, gradients summed with `ncclAllReduce`, rank 0's state sent with `ncclBroadcast`.
//!
//! The collectives are candle custom ops. On a GPU tensor (a `cuda` build training on
//! `cuda:LOCAL_RANK`) they run on the GPU, on candle's own stream, so they are ordered with the
//! training kernels and the gradients never leave the GPU. On a host tensor (an `nccl` build
//! without candle's CUDA backend) they copy it to this rank's GPU, reduce there and copy it
//! back. The ranks meet through an NCCL unique id that rank 0 writes to a file every rank can
//! read (the run folder on a shared filesystem).

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use candle_core::{CpuStorage, CustomOp1, Device, Layout, Shape, Tensor};
use cudarc::driver::CudaStream;
use cudarc::nccl::safe::{Comm, Id, ReduceOp};

use super::AllReduce;
use crate::error::{DiffusionError, Result};

/// One rank of an NCCL communicator on one GPU.
pub struct NcclAllReduce {
    comm: Comm,
    /// Where this rank trains: its GPU, or the host in a build without candle's CUDA backend.
    device: Device,
}

fn nccl_err(what: &str, e: impl std::fmt::Debug) -> DiffusionError {
    DiffusionError::invalid(format!("NCCL {what}: {e:?}"))
}

impl NcclAllReduce {
    /// Joins rank `rank` of `world` on GPU `gpu`: rank 0 creates the unique id and writes it
    /// to `id_file` (atomically), the other ranks wait up to `timeout` for that file.
    pub fn init(
        rank: usize,
        world: usize,
        gpu: usize,
        id_file: &Path,
        timeout: Duration,
    ) -> Result<NcclAllReduce> {
        if world == 0 || rank >= world {
            return Err(DiffusionError::invalid(format!(
                "NCCL rank {rank} of {world}: need 0 <= rank < world size"
            )));
        }
        let (device, stream) = training_device(gpu)?;
        let id = if rank == 0 {
            let id = Id::new().map_err(|e| nccl_err("unique id", e))?;
            let bytes: Vec<u8> = id.internal().iter().map(|&c| c as u8).collect();
            velprior_data::atomic::write_bytes(id_file, &bytes)?;
            id
        } else {
            Id::uninit(wait_for_id(id_file, timeout)?)
        };
        let comm = Comm::from_rank(stream, rank, world, id).map_err(|e| nccl_err("init", e))?;
        Ok(NcclAllReduce { comm, device })
    }

    /// [`NcclAllReduce::init`] with rank, world size and GPU from the launcher's environment:
    /// `RANK` / `WORLD_SIZE` / `LOCAL_RANK` (torchrun style) or `SLURM_PROCID` /
    /// `SLURM_NTASKS` / `SLURM_LOCALID` (srun, one task per GPU).
    pub fn from_env(id_file: &Path, timeout: Duration) -> Result<NcclAllReduce> {
        let get = |names: [&str; 2]| -> Result<usize> {
            names
                .iter()
                .find_map(|n| std::env::var(n).ok())
                .and_then(|v| v.trim().parse().ok())
                .ok_or_else(|| {
                    DiffusionError::invalid(format!(
                        "set {} or {} (launch with srun or torchrun)",
                        names[0], names[1]
                    ))
                })
        };
        let rank = get(["RANK", "SLURM_PROCID"])?;
        let world = get(["WORLD_SIZE", "SLURM_NTASKS"])?;
        let gpu = get(["LOCAL_RANK", "SLURM_LOCALID"])?;
        NcclAllReduce::init(rank, world, gpu, id_file, timeout)
    }

    /// The device this rank trains on (the one its collectives expect tensors on).
    pub fn device(&self) -> &Device {
        &self.device
    }

    fn apply(&self, flat: &Tensor, op: Collective) -> Result<Tensor> {
        Ok(flat.contiguous()?.apply_op1_no_bwd(&CollectiveOp {
            comm: &self.comm,
            op,
        })?)
    }
}

/// GPU `gpu` as candle's device, and candle's stream on it for NCCL (collectives then run in
/// order with the training kernels).
#[cfg(feature = "cuda")]
fn training_device(gpu: usize) -> Result<(Device, Arc<CudaStream>)> {
    let device = Device::new_cuda(gpu)?;
    let stream = device.as_cuda_device()?.cuda_stream();
    Ok((device, stream))
}

/// Without candle's CUDA backend the trainer runs on the host and NCCL on a stream of its own
/// on GPU `gpu`.
#[cfg(not(feature = "cuda"))]
fn training_device(gpu: usize) -> Result<(Device, Arc<CudaStream>)> {
    let ctx = cudarc::driver::CudaContext::new(gpu).map_err(|e| nccl_err("CUDA device", e))?;
    let host = Device::Cpu; // host: no candle CUDA backend here; NCCL copies through the GPU
    Ok((host, ctx.default_stream()))
}

impl AllReduce for NcclAllReduce {
    fn rank(&self) -> usize {
        self.comm.rank()
    }

    fn world_size(&self) -> usize {
        self.comm.world_size()
    }

    fn all_reduce_sum(&mut self, flat: &Tensor) -> Result<Tensor> {
        self.apply(flat, Collective::Sum)
    }

    fn broadcast(&mut self, flat: &Tensor) -> Result<Tensor> {
        self.apply(flat, Collective::FromRankZero)
    }
}

#[derive(Debug, Clone, Copy)]
enum Collective {
    Sum,
    FromRankZero,
}

/// One collective as a candle op on a contiguous 1-D f32 tensor.
struct CollectiveOp<'a> {
    comm: &'a Comm,
    op: Collective,
}

fn op_err(what: &str, e: impl std::fmt::Debug) -> candle_core::Error {
    candle_core::Error::msg(format!("NCCL {what}: {e:?}"))
}

impl CollectiveOp<'_> {
    /// Runs the collective from `src` into `dst`, both on this rank's GPU.
    fn run<S, D>(&self, src: &S, dst: &mut D) -> candle_core::Result<()>
    where
        S: cudarc::driver::DevicePtr<f32>,
        D: cudarc::driver::DevicePtrMut<f32>,
    {
        match self.op {
            Collective::Sum => self.comm.all_reduce(src, dst, &ReduceOp::Sum).map(|_| ()),
            Collective::FromRankZero => self.comm.broadcast(Some(src), dst, 0).map(|_| ()),
        }
        .map_err(|e| op_err("collective", e))
    }
}

impl CustomOp1 for CollectiveOp<'_> {
    fn name(&self) -> &'static str {
        "nccl_collective"
    }

    /// Host tensors: a copy to the GPU, the collective, a copy back.
    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let (CpuStorage::F32(v), Some((start, end))) = (s, l.contiguous_offsets()) else {
            candle_core::bail!("NCCL collectives take contiguous f32 tensors");
        };
        let stream = self.comm.stream();
        let src = stream
            .clone_htod(&v[start..end])
            .map_err(|e| op_err("copy to GPU", e))?;
        let mut dst = stream
            .alloc_zeros::<f32>(end - start)
            .map_err(|e| op_err("GPU buffer", e))?;
        self.run(&src, &mut dst)?;
        let out = stream
            .clone_dtoh(&dst)
            .map_err(|e| op_err("copy from GPU", e))?;
        Ok((CpuStorage::F32(out), l.shape().clone()))
    }

    /// GPU tensors: the collective on candle's stream, into a new buffer.
    #[cfg(feature = "cuda")]
    fn cuda_fwd(
        &self,
        s: &candle_core::CudaStorage,
        l: &Layout,
    ) -> candle_core::Result<(candle_core::CudaStorage, Shape)> {
        let Some((start, end)) = l.contiguous_offsets() else {
            candle_core::bail!("NCCL collectives take contiguous tensors");
        };
        let src = s.as_cuda_slice::<f32>()?.slice(start..end);
        let mut dst = s.device.alloc_zeros::<f32>(end - start)?;
        self.run(&src, &mut dst)?;
        Ok((
            candle_core::CudaStorage::wrap_cuda_slice(dst, s.device.clone()),
            l.shape().clone(),
        ))
    }
}

/// Reads the 128-byte NCCL unique id from `path`, waiting up to `timeout` for rank 0 to write it.
fn wait_for_id(path: &Path, timeout: Duration) -> Result<[core::ffi::c_char; 128]> {
    let t0 = Instant::now();
    loop {
        if let Ok(bytes) = std::fs::read(path)
            && bytes.len() == 128
        {
            let mut id = [0 as core::ffi::c_char; 128];
            id.iter_mut()
                .zip(&bytes)
                .for_each(|(c, &b)| *c = b as core::ffi::c_char);
            return Ok(id);
        }
        if t0.elapsed() > timeout {
            return Err(DiffusionError::invalid(format!(
                "{}: no NCCL id from rank 0 after {} s; is rank 0 running and the path shared?",
                path.display(),
                timeout.as_secs()
            )));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}
