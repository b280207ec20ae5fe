#!/usr/bin/env bash
# Installs what velprior needs on a fresh Debian/Ubuntu machine, only where it is missing.
#
#   bash scripts/setup.sh          system packages for building (libhdf5-dev, pkg-config) and for
#                                  `make results` (jq)
#   bash scripts/setup.sh --test   also what the tests use beyond Rust: the Python packages of
#                                  the interoperability tests (h5py, numpy, safetensors from
#                                  PyPI), and chromium + node + playwright-core (npm) for the
#                                  dashboard's real-browser test, and (as root) slurmctld,
#                                  slurmd, slurm-client and munge for the Slurm job-array test
# Idempotent: a machine that already has everything is left untouched.
set -euo pipefail

need=()
command -v pkg-config >/dev/null 2>&1 || need+=(pkg-config)
if ! pkg-config --exists hdf5 2>/dev/null && [ ! -e /usr/include/hdf5/serial/hdf5.h ] && [ ! -e /usr/include/hdf5.h ]; then
    need+=(libhdf5-dev)
fi
command -v cc >/dev/null 2>&1 || need+=(build-essential)
command -v jq >/dev/null 2>&1 || need+=(jq) # make results formats the JSON reports with jq
if [ ${#need[@]} -gt 0 ]; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "setup: installing ${need[*]}" >&2
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi

if [ "${1:-}" = "--test" ]; then
    if ! python3 -c "import h5py, numpy, safetensors" >/dev/null 2>&1; then
        echo "setup: installing h5py numpy safetensors from PyPI" >&2
        python3 -m pip install --quiet --disable-pip-version-check h5py numpy safetensors \
            || python3 -m pip install --quiet --disable-pip-version-check --user h5py numpy safetensors
    fi
fi

if [ "${1:-}" = "--test" ]; then
    # A real single-node Slurm for the job-array test (tests/cli_slurm.rs, as root).
    slurm=()
    [ -x /usr/sbin/slurmctld ] || slurm+=(slurmctld)
    [ -x /usr/sbin/slurmd ] || slurm+=(slurmd)
    command -v sbatch >/dev/null 2>&1 || slurm+=(slurm-client)
    [ -x /usr/sbin/munged ] || slurm+=(munge)
    if [ ${#slurm[@]} -gt 0 ] && [ "$(id -u)" -eq 0 ]; then
        echo "setup: installing ${slurm[*]} (Slurm job-array test)" >&2
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${slurm[@]}" >/dev/null
    fi
fi

if [ "${1:-}" = "--test" ]; then
    browser=()
    command -v chromium >/dev/null 2>&1 || browser+=(chromium)
    command -v node >/dev/null 2>&1 || browser+=(nodejs)
    command -v npm >/dev/null 2>&1 || browser+=(npm)
    if [ ${#browser[@]} -gt 0 ]; then
        sudo=""
        [ "$(id -u)" -eq 0 ] || sudo="sudo"
        echo "setup: installing ${browser[*]} (dashboard browser test)" >&2
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${browser[@]}" >/dev/null
    fi
    here=$(cd "$(dirname "$0")/.." && pwd)/tests/browser
    if [ ! -d "$here/node_modules/playwright-core" ]; then
        echo "setup: installing playwright-core from npm (tests/browser)" >&2
        (cd "$here" && npm ci --no-audit --no-fund --silent)
    fi
fi
