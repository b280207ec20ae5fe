#!/usr/bin/env bash
# The GPU check: one run (about 8 minutes) on a machine with an NVIDIA GPU (driver for CUDA 13),
# over binaries built beforehand on any x86-64 Linux machine:
#
#   bash scripts/cuda-build.sh --pack target/gpu-pack     # here, no GPU needed (~10 min once)
#   bash scripts/gpu-check.sh target/gpu-pack [OUT]       # there
#
# Steps, each logged; OUT/summary.txt grows as they finish (so a run cut short keeps what it
# measured) and is printed at the end. VELPRIOR_GPU_STEPS="1 2 4" runs a subset.
#   1. every fused op and a UNet forward+backward (the im2col conv and candle's) on the GPU
#      against the CPU (TF32 off), and the fused DDIM step's bandwidth against a device copy
#   2. 200 training steps of a small config on CPU and GPU from one seed: losses of the first
#      20 steps agree to 1e-3 (relative)
#   3. the shipped prior sampled on GPU and CPU (same seed): same models to 1e-3 of the range
#   4. throughput: the unet_bench UNet (bench_unet_train_step --device cuda, batch 16 and 64;
#      --candle-ops for candle's own conv), alternated with PyTorch's unet_bench.py --device
#      cuda (eager; --compile last, at most 60 s)
#   5. the 70x70 Marmousi-style prior (priors/marmousi70/config.toml): 20,000 models generated,
#      up to 2,000 training steps on the GPU (150 s), 64 DDPM and 128 DDIM-50 samples scored by
#      `velprior evaluate` against 512 fresh models; its EMA weights, metadata, metrics and
#      samples are left in OUT
#   6. RED-diff on Marmousi 70x190 (50 iterations) with the prior on the GPU and on the CPU
# OUT defaults to $OUT (the device tool's folder) or /tmp/gpu-check. PyTorch's figures need
# python3 with torch; unet_bench.py and benchutil.py are read from PACK/bench/ (its timestep
# table is moved to the GPU here: the script as shipped builds it on the CPU).
set -uo pipefail
cd "$(dirname "$0")/.."

pack="$(realpath "${1:-target/gpu-pack}")"
out="$(realpath -m "${2:-${OUT:-/tmp/gpu-check}}")"
steps=" ${VELPRIOR_GPU_STEPS:-1 2 3 4 5 6} "
work="$(mktemp -d)"
logs="$work/logs"
mkdir -p "$out" "$logs"
: >"$out/summary.txt"
want() { [[ "$steps" == *" $1 "* ]]; }

# CUDA 13 libraries: the machine's toolkit or the NVIDIA Python wheels (PyTorch's), after the
# pack's own libraries (libhdf5 and the like); only velprior's binaries see them (wrappers), so
# PyTorch keeps its own.
nv="$(python3 -c 'import nvidia, os; print(list(nvidia.__path__)[0])' 2>/dev/null || true)"
cudalibs="$(find $nv /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib -maxdepth 3 \
    \( -name 'libcublas.so.13' -o -name 'libcublasLt.so.13' -o -name 'libcurand.so.10' \
    -o -name 'libnvrtc.so.13' -o -name 'libcudart.so.13' -o -name 'libnccl.so.2' \) \
    -printf '%h\n' 2>/dev/null | sort -u | paste -sd:)"
libpath="$pack/lib:$cudalibs:/usr/local/nvidia/lib64:/usr/local/nvidia/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
mkdir -p "$work/bin"
for b in velprior gpu_check bench_unet_train_step; do
    printf '#!/bin/sh\nLD_LIBRARY_PATH="%s" exec "%s" "$@"\n' "$libpath" "$pack/$b" >"$work/bin/$b"
    chmod +x "$work/bin/$b"
done
V="$work/bin/velprior"
export RUST_LOG=warn

failed=0
say() { printf '%s\n' "$*" | tee -a "$out/summary.txt"; }
# run NAME CMD...: runs CMD with its output in logs/NAME.log; records ok/FAIL and seconds.
run() {
    local name="$1"
    shift
    local t0=$SECONDS
    if "$@" >"$logs/$name.log" 2>&1; then
        say "$name: ok ($((SECONDS - t0)) s)"
    else
        say "$name: FAIL ($((SECONDS - t0)) s): $(tail -n 3 "$logs/$name.log" | tr '\n' ' ' | cut -c1-300)"
        failed=$((failed + 1))
    fi
}
indent() { sed 's/^/   /' "$@" | tee -a "$out/summary.txt"; }

say "machine: $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader); CPU $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores"
if LD_LIBRARY_PATH="$libpath" ldd "$pack/velprior" | grep -q 'not found'; then
    say "FAIL: missing libraries: $(LD_LIBRARY_PATH="$libpath" ldd "$pack/velprior" | grep 'not found' | tr '\n' ' ')"
    failed=$((failed + 1))
fi

# Step 5's corpus is generated on the CPU cores while steps 1-3 check correctness.
corpus="runs/prior-marmousi70-corpus"
if want 5; then
    mkdir -p "$corpus"
    (
        "$V" data synth -f marmousi -n 20000 --size 70x70 --seed 11 -o "$corpus/corpus.h5" &&
            "$V" data split "$corpus/corpus.h5" --train "$corpus/train.h5" --test "$corpus/test.h5" \
                --test-fraction 0.05 --seed 0
    ) >"$logs/5-corpus.log" 2>&1 &
    corpus_pid=$!
fi

if want 1; then
    run 1-gpu-check "$work/bin/gpu_check" --device cuda:0
    grep -E '^(PASS|FAIL)' "$logs/1-gpu-check.log" | indent
fi

if want 2; then
    "$V" data synth -f curvefault -n 256 --seed 3 -o "$work/cf.h5" >"$logs/2-corpus.log" 2>&1
    for dev in cpu cuda; do
        sed -e "s|^output = .*|output = \"$work/train-$dev\"|" \
            -e "s|^corpus = .*|corpus = \"$work/cf.h5\"|" \
            -e 's|^steps = .*|steps = 200|' -e 's|^log_every = .*|log_every = 1|' \
            -e 's|^sample_every = .*|sample_every = 0|' -e 's|^sample_count = .*|sample_count = 0|' \
            configs/diffusion-cpu-quick.toml >"$work/train-$dev.toml"
        run "2-train-$dev" "$V" train --config "$work/train-$dev.toml" --device "$dev"
    done
    run 2-train-compare python3 - "$work/train-cpu/metrics.jsonl" "$work/train-cuda/metrics.jsonl" <<'PY'
import json, sys
a, b = ([json.loads(l) for l in open(p)] for p in sys.argv[1:3])
rel = [abs(x["loss"] - y["loss"]) / abs(x["loss"]) for x, y in zip(a[:20], b[:20])]
print(f"first 20 losses: worst relative difference {max(rel):.2e} (limit 1e-3)")
print(f"step 200 loss: cpu {a[-1]['loss']:.5f}, cuda {b[-1]['loss']:.5f}")
sps = lambda r: sorted(x["steps_per_s"] for x in r[5:])[len(r[5:]) // 2]
print(f"steps/s (median): cpu {sps(a):.1f}, cuda {sps(b):.1f}")
sys.exit(0 if len(a) == len(b) == 200 and max(rel) <= 1e-3 else 1)
PY
    indent "$logs/2-train-compare.log"
fi

if want 3; then
    for dev in cpu cuda; do
        run "3-sample-$dev" "$V" sample --checkpoint priors/marmousi70-small/prior.safetensors \
            -n 8 --steps 50 --seed 5 --device "$dev" -o "$work/sample-$dev.h5"
    done
    run 3-sample-compare python3 - "$work/sample-cpu.h5" "$work/sample-cuda.h5" <<'PY'
import sys, h5py, numpy as np
a, b = (h5py.File(p, "r")["velocity"][...].astype(np.float64) for p in sys.argv[1:3])
err = np.abs(a - b).max() / 3000.0
print(f"shipped prior, 8 DDIM-50 models: max |GPU - CPU| / (vmax - vmin) = {err:.2e} (limit 1e-3)")
sys.exit(0 if a.shape == b.shape and err <= 1e-3 else 1)
PY
    indent "$logs/3-sample-compare.log"
fi

[ -n "${corpus_pid:-}" ] && { wait "$corpus_pid" || say "5-corpus: FAIL: $(tail -n 3 "$logs/5-corpus.log" | tr '\n' ' ')"; }

if want 4; then
    mkdir -p "$work/torch"
    cp "$pack/bench/benchutil.py" "$work/torch/"
    sed 's/torch.arange(half, dtype=torch.float32)/torch.arange(half, dtype=torch.float32, device=t.device)/' \
        "$pack/bench/unet_bench.py" >"$work/torch/unet_bench.py"
    bench() { "$work/bin/bench_unet_train_step" --device cuda --steps 20 --infer-reps 7 "$@"; }
    torch_bench() { (cd "$work/torch" && BENCH_OUT="$logs" PYTHONUNBUFFERED=1 python3 unet_bench.py --device cuda "$@"); }
    figures() {
        if grep -q '^TRAIN' "$1"; then
            grep -E '^TRAIN|^INFER|breakdown' "$1" | cut -c1-100 | paste -sd'|'
        else
            echo "train, infer median s: $(grep -E '"median_s"' "$1" | tr -d ' \n')"
        fi
    }
    for rep in 1 2; do
        run "4-torch-eager-b64-$rep" torch_bench --batch 64 --infer-batch 256
        indent <(figures "$logs/4-torch-eager-b64-$rep.log")
        run "4-velprior-b64-$rep" bench --batch 64 --infer-batch 256
        indent <(figures "$logs/4-velprior-b64-$rep.log")
    done
    run 4-velprior-candle-conv-b64 bench --batch 64 --infer-batch 256 --candle-ops
    indent <(figures "$logs/4-velprior-candle-conv-b64.log")
    run 4-velprior-b16 bench --batch 16 --infer-batch 64
    indent <(figures "$logs/4-velprior-b16.log")
    run 4-torch-eager-b16 torch_bench --batch 16 --infer-batch 64
    indent <(figures "$logs/4-torch-eager-b16.log")
fi

if want 5; then
    # At most 150 s of training (checkpoints every 250 steps).
    timeout 150 "$V" train --config priors/marmousi70/config.toml >"$logs/5-train.log" 2>&1
    say "5-train: exit $? after $(tail -n 1 runs/prior-marmousi70/metrics.jsonl 2>/dev/null)"
    ck=runs/prior-marmousi70/checkpoint.safetensors
    run 5-sample-ddpm "$V" sample --checkpoint "$ck" --device cuda -n 64 --batch 64 --sampler ddpm \
        --seed 1 -o "$out/samples-ddpm.h5" --png "$out/samples-ddpm.png"
    run 5-sample-ddim50 "$V" sample --checkpoint "$ck" --device cuda -n 128 --batch 128 --steps 50 \
        --seed 1 -o "$out/samples-ddim50.h5"
    "$V" data synth -f marmousi -n 512 --size 70x70 --seed 99 -o "$work/held.h5" >"$logs/5-held.log" 2>&1
    for s in ddpm ddim50; do
        run "5-evaluate-$s" "$V" evaluate --samples "$out/samples-$s.h5" --test "$work/held.h5" \
            -o "$work/eval-$s"
        indent <(grep -E '^(set|samples|real|precision)' "$logs/5-evaluate-$s.log")
    done
    run 5-export "$V" export --checkpoint "$ck" -o "$out/prior.safetensors"
    cp runs/prior-marmousi70/metrics.jsonl "$out/prior-metrics.jsonl" 2>/dev/null
fi

if want 6; then
    for dev in cpu cuda; do
        sed -e 's|^iterations = .*|iterations = 50|' configs/posterior-marmousi-red-diff.toml \
            >"$work/red-diff.toml"
        run "6-red-diff-$dev" "$V" posterior --config "$work/red-diff.toml" --device "$dev" \
            --out "$work/red-diff-$dev"
        indent <(tr -d ' \n' <"$work/red-diff-$dev/metrics.json" | cut -c1-400; echo)
    done
fi

if want 4; then
    # PyTorch's strongest figure last (compilation takes a while).
    run 4-torch-compile-b64 timeout 60 bash -c "cd '$work/torch' && BENCH_OUT='$logs' python3 unet_bench.py --device cuda --batch 64 --infer-batch 256 --compile"
    indent <(figures "$logs/4-torch-compile-b64.log")
fi

tar -czf "$out/logs.tar.gz" -C "$work" logs
say "gpu-check: $failed step(s) failed"
[ "$failed" -eq 0 ]
