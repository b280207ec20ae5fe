//! [`AllReduce`] over NCCL (cudarc's `nccl` bindings, loaded at run time): one process per
//! GPU, gradients summed with `ncclAllReduce`, rank 0's state sent with `ncclBroadcast`.
//!
//! The trainer keeps its gradients in host memory (candle CPU tensors), so each collective
//! copies the flat buffer to this rank's GPU, reduces there and copies it back; the ranks meet
//! through an NCCL unique id that rank 0 writes to a file every rank can read (the run folder
//! on a shared filesystem).

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cudarc::driver::{CudaContext, CudaStream};
use cudarc::nccl::safe::{Comm, Id, ReduceOp};

use super::AllReduce;
use crate::error::{DiffusionError, Result};

/// One rank of an NCCL communicator on one GPU.
pub struct NcclAllReduce {
    comm: Comm,
    stream: Arc<CudaStream>,
    /// The GPU of this rank.
    device: usize,
}

fn nccl_err(what: &str, e: impl std::fmt::Debug) -> DiffusionError {
    DiffusionError::invalid(format!("NCCL {what}: {e:?}"))
}

impl NcclAllReduce {
    /// Joins rank `rank` of `world` on GPU `device`: rank 0 creates the unique id and writes it
    /// to `id_file` (atomically), the other ranks wait up to `timeout` for that file.
    pub fn init(
        rank: usize,
        world: usize,
        device: usize,
        id_file: &Path,
        timeout: Duration,
    ) -> Result<NcclAllReduce> {
        if world == 0 || rank >= world {
            return Err(DiffusionError::invalid(format!(
                "NCCL rank {rank} of {world}: need 0 <= rank < world size"
            )));
        }
        let ctx = CudaContext::new(device).map_err(|e| nccl_err("CUDA device", e))?;
        let stream = ctx.default_stream();
        let id = if rank == 0 {
            let id = Id::new().map_err(|e| nccl_err("unique id", e))?;
            let bytes: Vec<u8> = id.internal().iter().map(|&c| c as u8).collect();
            velprior_data::atomic::write_bytes(id_file, &bytes)?;
            id
        } else {
            Id::uninit(wait_for_id(id_file, timeout)?)
        };
        let comm =
            Comm::from_rank(stream.clone(), rank, world, id).map_err(|e| nccl_err("init", e))?;
        Ok(NcclAllReduce {
            comm,
            stream,
            device,
        })
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
        let device = get(["LOCAL_RANK", "SLURM_LOCALID"])?;
        NcclAllReduce::init(rank, world, device, id_file, timeout)
    }

    /// The GPU this rank trains on.
    pub fn device_spec(&self) -> velprior_kernels::DeviceSpec {
        velprior_kernels::DeviceSpec::Cuda(self.device)
    }

    /// Copies `buf` to the GPU, applies `op` to the device copy, copies it back.
    fn on_device(
        &self,
        buf: &mut [f32],
        op: impl FnOnce(&Comm, &mut cudarc::driver::CudaSlice<f32>) -> Result<()>,
    ) -> Result<()> {
        let mut d = self
            .stream
            .clone_htod(&*buf)
            .map_err(|e| nccl_err("copy to GPU", e))?;
        op(&self.comm, &mut d)?;
        self.stream
            .memcpy_dtoh(&d, buf)
            .map_err(|e| nccl_err("copy from GPU", e))?;
        self.stream
            .synchronize()
            .map_err(|e| nccl_err("synchronize", e))
    }
}

impl AllReduce for NcclAllReduce {
    fn rank(&self) -> usize {
        self.comm.rank()
    }

    fn world_size(&self) -> usize {
        self.comm.world_size()
    }

    fn all_reduce_sum(&mut self, buf: &mut [f32]) -> Result<()> {
        self.on_device(buf, |comm, d| {
            comm.all_reduce_in_place(d, &ReduceOp::Sum)
                .map(|_| ())
                .map_err(|e| nccl_err("all-reduce", e))
        })
    }

    fn broadcast(&mut self, buf: &mut [f32]) -> Result<()> {
        self.on_device(buf, |comm, d| {
            comm.broadcast_in_place(d, 0)
                .map(|_| ())
                .map_err(|e| nccl_err("broadcast", e))
        })
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
