#!/usr/bin/env bash
# Type-check the crates with architecture-specific code (velprior-kernels' AVX-512 / AVX2
# kernels, velprior-physics' vector stencils) for aarch64, warnings as errors: on a CPU without
# x86 vector levels only the portable paths compile, and this keeps them compiling cleanly
# (CI's x86 machine runs them through VELPRIOR_SIMD=portable, but never builds without the
# x86 code). Needs rustup's aarch64 standard library; where it cannot be fetched the check says
# so and skips.
set -euo pipefail
cd "$(dirname "$0")/.."

target=aarch64-unknown-linux-gnu
if ! rustup target list --installed 2>/dev/null | grep -qx "$target" &&
    ! rustup target add "$target" >/dev/null 2>&1; then
    echo "portable-check: skipped, rustup could not install the $target standard library"
    exit 0
fi
RUSTFLAGS="-D warnings" cargo check --quiet --target "$target" -p velprior-kernels -p velprior-physics
echo "portable-check: velprior-kernels and velprior-physics type-check for $target"
