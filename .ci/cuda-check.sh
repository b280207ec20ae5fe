#!/usr/bin/env bash
# Compile-check every kernels/*.cu to PTX with NVRTC — no GPU, no CUDA toolkit, no `cuda` feature —
# and type-check the NCCL data-parallel path (velprior-diffusion --features nccl).
#
# Installs PyPI's nvidia-cuda-nvrtc-cu12 (libnvrtc.so.12, ~240 MB) into a venv that is reused
# between runs, puts its lib directory on LD_LIBRARY_PATH and runs velprior-kernels' NVRTC tests
# with VELPRIOR_REQUIRE_NVRTC=1, so a kernel that does not compile (or a missing libnvrtc) fails.
#
# Usage: bash .ci/cuda-check.sh            (from the repository root; needs python3 with venv + pip)
#        bash .ci/cuda-check.sh --feature  also builds `--features cuda` (scripts/cuda-build.sh:
#                                          CUDA 13.0 from PyPI, ~10 min on 2 cores the first
#                                          time), a manual step, not CI's.
# Env:   VELPRIOR_CUDA_VENV   venv for NVRTC (default: $HOME/.cache/velprior/nvrtc-venv)
#        CUDA_COMPUTE_CAP     for --feature (default 90)
set -euo pipefail
cd "$(dirname "$0")/.."

venv="${VELPRIOR_CUDA_VENV:-$HOME/.cache/velprior/nvrtc-venv}"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
if ! "$venv/bin/python" -c "import nvidia.cuda_nvrtc" 2>/dev/null; then
    "$venv/bin/pip" install --quiet --disable-pip-version-check "nvidia-cuda-nvrtc-cu12>=12.8,<13"
fi
libdir="$("$venv/bin/python" - <<'PY'
import os, nvidia.cuda_nvrtc as m
roots = list(getattr(m, "__path__", [])) or [os.path.dirname(m.__file__)]
print(os.path.join(roots[0], "lib"))
PY
)"
if ! ls "$libdir"/libnvrtc.so* >/dev/null 2>&1; then
    echo "cuda-check: no libnvrtc in $libdir" >&2
    exit 1
fi
echo "cuda-check: NVRTC from $libdir"
LD_LIBRARY_PATH="$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" VELPRIOR_REQUIRE_NVRTC=1 \
    cargo test -p velprior-kernels --test cu_compile -- --nocapture

# The NCCL all-reduce of data-parallel training (velprior-diffusion's `nccl` feature, part of
# `cuda`): cudarc loads libnccl at run time, so this type-checks without a GPU, NCCL or nvcc.
cargo clippy -p velprior-diffusion -p velprior --features nccl --all-targets -- -D warnings
echo "cuda-check: the NCCL data-parallel path (--features nccl: library and velprior train --nccl-id-file) compiles (clippy clean)"

if [ "${1:-}" = "--feature" ]; then
    # The whole `--features cuda` build (CUDA 13.0 from PyPI, driver stub): scripts/cuda-build.sh.
    bash scripts/cuda-build.sh
    echo "cuda-check: velprior, gpu_check and bench_unet_train_step build with --features cuda"
fi
