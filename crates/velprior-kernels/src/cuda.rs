//! CUDA plumbing: is the driver / NVRTC present, and the kernels' PTX compiled once
//! per process with NVRTC (cudarc). Loading the PTX into a device happens once per device, in
//! candle's per-device module cache (`CudaDevice::get_or_load_custom_func`).
//!
//! Everything here is compiled without the `cuda` feature too: the NVRTC compile check of
//! `kernels/*.cu` needs only `libnvrtc` (e.g. PyPI's `nvidia-cuda-nvrtc-cu12`), no GPU, no driver.
//! cudarc panics when it calls into a library it cannot load, so every entry point here checks
//! first and returns [`Error::CudaUnavailable`] instead.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use crate::{Error, Result};

/// The `.cu` source of an op and the name of its kernel function.
#[derive(Clone, Copy, Debug)]
pub struct KernelSource {
    /// File stem in `kernels/` (also the module name in candle's per-device cache).
    pub name: &'static str,
    /// The `extern "C" __global__` function.
    pub func: &'static str,
    /// The source, embedded with `include_str!`.
    pub src: &'static str,
}

/// File names cudarc tries for a CUDA library on Linux without the `cuda` feature (a subset of
/// its own candidate list for its CUDA 12.8 bindings, so that whenever this finds the library,
/// cudarc does too).
fn candidates(lib: &str) -> Vec<String> {
    ["", ".12", ".11", ".1"]
        .iter()
        .map(|v| format!("lib{lib}.so{v}"))
        .collect()
}

fn loadable(lib: &str) -> bool {
    candidates(lib).iter().any(|name| {
        // SAFETY: loading a CUDA library runs its initialisers, which have no preconditions.
        unsafe { libloading::Library::new(name) }.is_ok()
    })
}

/// True when NVRTC (`libnvrtc.so`, `.so.12`, …) can be loaded; always with the `cuda` feature,
/// whose build links it (through candle).
pub fn nvrtc_available() -> bool {
    static P: OnceLock<bool> = OnceLock::new();
    cfg!(feature = "cuda") || *P.get_or_init(|| loadable("nvrtc"))
}

/// The prologue every kernel is compiled with (`kernels/fused.cuh`: the fused ops' loop).
pub const PROLOGUE: &str = include_str!("../../../kernels/fused.cuh");

/// Compiles CUDA C++ `src` (named `name` in messages), after [`PROLOGUE`], to PTX with NVRTC.
pub fn compile_ptx(name: &str, src: &str) -> Result<String> {
    if !nvrtc_available() {
        return Err(Error::CudaUnavailable(format!(
            "libnvrtc not found (tried {})",
            candidates("nvrtc").join(", ")
        )));
    }
    let opts = cudarc::nvrtc::CompileOptions {
        name: Some(format!("{name}.cu")),
        ..Default::default()
    };
    match cudarc::nvrtc::compile_ptx_with_opts(format!("{PROLOGUE}\n{src}"), opts) {
        Ok(ptx) => Ok(ptx.to_src()),
        Err(cudarc::nvrtc::CompileError::CompileError { log, .. }) => Err(Error::KernelCompile {
            kernel: name.to_string(),
            log: log.to_string_lossy().into_owned(),
        }),
        Err(e) => Err(Error::KernelCompile {
            kernel: name.to_string(),
            log: e.to_string(),
        }),
    }
}

/// PTX of `kernel`, compiled on first use and cached for the process.
#[cfg_attr(not(feature = "cuda"), allow(dead_code))]
pub(crate) fn ptx(kernel: &KernelSource) -> Result<Arc<String>> {
    static CACHE: OnceLock<Mutex<HashMap<&'static str, Arc<String>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(p) = cache.lock().map_err(|_| poisoned())?.get(kernel.name) {
        return Ok(p.clone());
    }
    let p = Arc::new(compile_ptx(kernel.name, kernel.src)?);
    cache
        .lock()
        .map_err(|_| poisoned())?
        .insert(kernel.name, p.clone());
    Ok(p)
}

fn poisoned() -> Error {
    Error::CudaUnavailable("PTX cache lock poisoned by an earlier panic".into())
}
