#!/usr/bin/env bash
# Builds velprior's CUDA binaries (`--features cuda`) on a machine without a GPU, for a GPU machine
# with an NVIDIA driver for CUDA 13.0 or newer (e.g. driver 580).
#
#   bash scripts/cuda-build.sh            velprior, the GPU check and the UNet bench, release,
#                                         in target/cuda (first run ~10 min on 2 cores: candle's
#                                         kernels are compiled with nvcc)
#   bash scripts/cuda-build.sh --pack DIR strips them and copies them, with the shared libraries
#                                         they need that a CUDA machine may lack (libhdf5 and
#                                         its dependencies) and PyTorch's UNet benchmark (from
#                                         bench/reference), into DIR (what scripts/gpu-check.sh
#                                         runs)
#
# The toolkit comes from PyPI (nvcc, cuBLAS, cuRAND, NVRTC, the runtime and NCCL, CUDA 13.0),
# installed into a venv reused between runs. candle links the CUDA libraries at build time, so the
# driver library is replaced by a stub made here from cudarc's list of driver functions (the
# real libcuda.so.1 is found at run time, as with NVIDIA's own stubs).
# Env: VELPRIOR_CUDA13_VENV (default $HOME/.cache/velprior/cuda13-venv), CUDA_COMPUTE_CAP (90).
set -euo pipefail
cd "$(dirname "$0")/.."

venv="${VELPRIOR_CUDA13_VENV:-$HOME/.cache/velprior/cuda13-venv}"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
pins=(nvidia-cuda-nvcc==13.0.88 nvidia-cuda-cccl==13.0.85 nvidia-cuda-crt==13.0.88
    nvidia-cuda-runtime==13.0.96 nvidia-cuda-nvrtc==13.0.88 nvidia-nvvm==13.0.88 nvidia-curand==10.4.0.35
    nvidia-cublas==13.0.2.14 nvidia-nccl-cu13==2.27.7)
"$venv/bin/pip" install --quiet --disable-pip-version-check "${pins[@]}"
site="$("$venv/bin/python" -c 'import nvidia, os; print(list(nvidia.__path__)[0])')"
cuda_root="$site/cu13"

# Unversioned names for the linker, and the driver stub.
link="$HOME/.cache/velprior/cuda-link"
mkdir -p "$link"
for lib in cublas cublasLt cudart nvrtc; do ln -sf "$cuda_root/lib/lib$lib.so.13" "$link/lib$lib.so"; done
ln -sf "$cuda_root/lib/libcurand.so.10" "$link/libcurand.so"
ln -sf "$site/nccl/lib/libnccl.so.2" "$link/libnccl.so"
if [ ! -e "$link/libcuda.so" ]; then
    cudarc="$(cargo metadata --format-version 1 | "$venv/bin/python" -c '
import json, sys, os
m = json.load(sys.stdin)
print(next(os.path.dirname(p["manifest_path"]) for p in m["packages"] if p["name"] == "cudarc"))')"
    grep -o 'pub unsafe fn cu[A-Za-z0-9_]*' "$cudarc/src/driver/sys/mod.rs" | sort -u |
        awk '{print "void " $4 "(void) {}"}' >"$link/cuda_stub.c"
    cc -shared -fPIC -Wl,-soname,libcuda.so.1 -o "$link/libcuda.so" "$link/cuda_stub.c"
fi

export CUDA_ROOT="$cuda_root" CUDA_HOME="$cuda_root" NVCC="$cuda_root/bin/nvcc"
export PATH="$cuda_root/bin:$PATH" CUDA_COMPUTE_CAP="${CUDA_COMPUTE_CAP:-90}"
export RUSTFLAGS="-L native=$link" CARGO_TARGET_DIR=target/cuda
cargo build --release -p velprior -p velprior-nn --features velprior/cuda,velprior-nn/cuda \
    --bin velprior --example gpu_check --example bench_unet_train_step

if [ "${1:-}" = "--pack" ]; then
    out="${2:?--pack needs a directory}"
    mkdir -p "$out/lib"
    for b in target/cuda/release/velprior target/cuda/release/examples/gpu_check \
        target/cuda/release/examples/bench_unet_train_step; do
        strip -o "$out/$(basename "$b")" "$b"
    done
    # Shared libraries outside glibc and the CUDA toolkit (the GPU machine brings those).
    ldd "$out/velprior" | awk '/=> \// {print $3}' |
        grep -vE '/lib(c|m|dl|pthread|rt|resolv|gcc_s|stdc\+\+)\.so|ld-linux|libcuda|libcublas|libcurand|libcudart|libnvrtc|libnccl' |
        xargs -r -I{} cp -L {} "$out/lib/"
    # PyTorch's benchmark.
    mkdir -p "$out/bench" && cp bench/reference/unet_bench.py bench/reference/benchutil.py "$out/bench/"
    du -sh "$out"
fi
