#!/usr/bin/env bash
# Compile-check every kernels/*.cu to PTX with NVRTC — no GPU, no CUDA toolkit, no `cuda` feature —
# and type-check the NCCL data-parallel path (velprior-diffusion --features nccl).
#
# Installs PyPI's nvidia-cuda-nvrtc-cu12 (libnvrtc.so.12, ~240 MB) into a venv that is reused
# between runs, puts its lib directory on LD_LIBRARY_PATH and runs velprior-kernels' NVRTC tests
# with VELPRIOR_REQUIRE_NVRTC=1, so a kernel that does not compile (or a missing libnvrtc) fails.
#
# Usage: bash .ci/cuda-check.sh            (from the repository root; needs python3 with venv + pip)
#        bash .ci/cuda-check.sh --feature  also type-checks `--features cuda` (candle's CUDA backend,
#                                          velprior-kernels and velprior-diffusion with NCCL):
#                                          installs nvcc 13.x from PyPI (~370 MB) and builds
#                                          candle-kernels with it — about 30 min on 2 cores the
#                                          first time, so it is a manual step, not CI's.
# Env:   VELPRIOR_CUDA_VENV   venv for NVRTC (default: $HOME/.cache/velprior/nvrtc-venv)
#        VELPRIOR_NVCC_VENV   venv for nvcc  (default: $HOME/.cache/velprior/nvcc-venv)
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
    nvcc_venv="${VELPRIOR_NVCC_VENV:-$HOME/.cache/velprior/nvcc-venv}"
    [ -x "$nvcc_venv/bin/python" ] || python3 -m venv "$nvcc_venv"
    "$nvcc_venv/bin/python" -c "import nvidia.cu13" 2>/dev/null && [ -x "$("$nvcc_venv/bin/python" -c 'import nvidia.cu13, os; print(os.path.join(list(nvidia.cu13.__path__)[0], "bin", "nvcc"))')" ] ||
        "$nvcc_venv/bin/pip" install --quiet --disable-pip-version-check \
            nvidia-cuda-nvcc nvidia-cuda-cccl nvidia-cuda-crt nvidia-cuda-runtime
    cuda_root="$("$nvcc_venv/bin/python" -c 'import nvidia.cu13; print(list(nvidia.cu13.__path__)[0])')"
    echo "cuda-check: nvcc from $cuda_root"
    # A separate target dir: candle-kernels' nvcc build is long and must not hold the shared lock.
    CUDA_ROOT="$cuda_root" CUDA_HOME="$cuda_root" NVCC="$cuda_root/bin/nvcc" PATH="$cuda_root/bin:$PATH" \
        CUDA_COMPUTE_CAP="${CUDA_COMPUTE_CAP:-90}" \
        CARGO_TARGET_DIR="${VELPRIOR_CUDA_TARGET_DIR:-$HOME/.cache/velprior/target-cuda}" \
        cargo clippy -p velprior-kernels -p velprior-diffusion --features cuda --all-targets -- -D warnings
    echo "cuda-check: velprior-kernels and velprior-diffusion --features cuda compile (clippy clean)"
fi
