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
#   5. the shipped 70x70 priors (priors/marmousi70 and priors/openfwi70, and marmousi70 with
#      v-prediction for the model card's comparison): 20,000 models of each corpus generated,
#      those of VELPRIOR_GPU_PRIORS (default all three) trained side by side for what is left
#      of VELPRIOR_GPU_BUDGET_S (default 480 s, the whole run's target length), exported, and 128 samples of each (DDPM 1000
#      steps, DDIM 50, DPM-Solver++ 25) scored by `velprior evaluate` against 512 fresh models;
#      the EMA weights come back in OUT, metrics, metadata, DDPM samples and evaluations in
#      OUT/results.tar; skipped when step 2 found GPU training wrong. VELPRIOR_GPU_WARM=1
#      starts each shipped prior from its own weights (more training, `velprior train --init`)
#   6. RED-diff on Marmousi 70x190 (50 iterations) with the prior on the GPU and on the CPU
#      (run before step 5, which takes what time is left)
# OUT defaults to $OUT (the device tool's folder) or /tmp/gpu-check. PyTorch's figures need
# python3 with torch; unet_bench.py and benchutil.py are read from PACK/bench/ (its timestep
# table is moved to the GPU here: the script as shipped builds it on the CPU).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

pack="$(realpath "${1:-target/gpu-pack}")"
out="$(realpath -m "${2:-${OUT:-/tmp/gpu-check}}")"
steps=" ${VELPRIOR_GPU_STEPS:-1 2 3 4 5 6} "
work="$(mktemp -d)"
logs="$work/logs"
mkdir -p "$out" "$logs" "$work/results"
# Step 5 sizes its training to end the whole run near this many seconds.
budget="${VELPRIOR_GPU_BUDGET_S:-480}"
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
        return 1
    fi
}
indent() { sed 's/^/   /' "$@" | tee -a "$out/summary.txt"; }

say "machine: $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader); CPU $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores"
if LD_LIBRARY_PATH="$libpath" ldd "$pack/velprior" 2>/dev/null | grep -q 'not found'; then
    say "FAIL: missing libraries: $(LD_LIBRARY_PATH="$libpath" ldd "$pack/velprior" | grep 'not found' | tr '\n' ' ')"
    failed=$((failed + 1))
fi

# Step 5's corpora are generated on the CPU cores while steps 1-3 check correctness.
read -r -a priors <<<"${VELPRIOR_GPU_PRIORS:-marmousi70 marmousi70-v openfwi70}"
if want 5; then
    for spec in "marmousi70 marmousi 11" "openfwi70 openfwi 12"; do
        read -r name family seed <<<"$spec"
        [[ " ${priors[*]} " == *" $name"[\ -]* ]] || continue
        corpus="runs/prior-$name-corpus"
        mkdir -p "$corpus"
        (
            "$V" data synth -f "$family" -n 20000 --size 70x70 --seed "$seed" -o "$corpus/corpus.h5" &&
                "$V" data split "$corpus/corpus.h5" --train "$corpus/train.h5" \
                    --test "$corpus/test.h5" --test-fraction 0.05 --seed 0
        ) >"$logs/5-corpus-$name.log" 2>&1
    done &
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
    run 2-train-compare python3 - "$work/train-cpu/metrics.jsonl" "$work/train-cuda/metrics.jsonl" <<'PY' || gpu_training_ok=0
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

[ -n "${corpus_pid:-}" ] && { wait "$corpus_pid" && say "5-corpus: ready after $SECONDS s" || say "5-corpus: FAIL: $(cat "$logs"/5-corpus-*.log | tail -n 3 | tr '\n' ' ')"; }

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
    # PyTorch's strongest figure last (compilation takes a while).
    run 4-torch-compile-b64 timeout 60 bash -c "cd '$work/torch' && BENCH_OUT='$logs' python3 unet_bench.py --device cuda --batch 64 --infer-batch 256 --compile"
    indent <(figures "$logs/4-torch-compile-b64.log")
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

if want 5 && [ "${gpu_training_ok:-1}" = 1 ]; then
    # The priors of VELPRIOR_GPU_PRIORS train side by side, their step count filling what is
    # left of the budget. Processes time-slice the GPU (three runs took 3.8x one run's time per
    # step on an H200), so a step is costed at one run's time (step 4's train step, else 0.19 s
    # measured with the trainer's data and EMA) times the runs, plus 15 %; `timeout` and the
    # 250-step checkpoints guard a wrong guess.
    t_step="$(grep -m1 -oE 'TRAIN batch 64: median [0-9.]+' "$logs/4-velprior-b64-1.log" 2>/dev/null | grep -oE '[0-9.]+$')"
    t_step="${t_step:-0.19}"
    # Export, DDIM-50 and DPM-Solver-25 sampling and evaluation after training take ~40 s;
    # DDPM (1000 steps) runs only in what is left.
    train_s=$((budget - SECONDS - 40))
    [ "$train_s" -ge 60 ] || train_s=60
    n_steps="$(python3 -c "print(max(250, int(($train_s - 20) / (1.15 * ${#priors[@]} * $t_step)) // 50 * 50))")"
    say "5-train: ${priors[*]}: $n_steps steps each (train step ${t_step} s solo, ${train_s} s left for training)"
    sed -e 's|^objective = .*|objective = "v"|' -e 's|prior-marmousi70"|prior-marmousi70-v"|' \
        priors/marmousi70/config.toml >"$work/marmousi70-v.toml"
    declare -A config=([marmousi70]=priors/marmousi70/config.toml
        [marmousi70-v]="$work/marmousi70-v.toml" [openfwi70]=priors/openfwi70/config.toml)
    declare -A held=([marmousi70]="-f marmousi --seed 99" [marmousi70-v]="-f marmousi --seed 99"
        [openfwi70]="-f openfwi --seed 98")
    for p in "${priors[@]}"; do
        sed -e "s|^steps = .*|steps = $n_steps|" "${config[$p]}" >"$work/train-$p.toml"
        # VELPRIOR_GPU_WARM=1 continues a shipped prior from its weights (train --init).
        init=()
        [ "${VELPRIOR_GPU_WARM:-0}" = 1 ] && [ -e "priors/$p/prior.safetensors" ] &&
            init=(--init "priors/$p/prior.safetensors")
        timeout $((train_s + 30)) "$V" train --config "$work/train-$p.toml" "${init[@]}" \
            >"$logs/5-train-$p.log" 2>&1 &
    done
    wait
    for p in "${priors[@]}"; do
        say "5-train-$p: $(tail -n 1 "runs/prior-$p/metrics.jsonl" 2>/dev/null | cut -c1-160)"
        cp "runs/prior-$p/metrics.jsonl" "$work/results/$p-metrics.jsonl" 2>/dev/null
        run "5-export-$p" "$V" export --checkpoint "runs/prior-$p/checkpoint.safetensors" \
            -o "$out/$p.safetensors"
        mv "$out/$p.safetensors.json" "$work/results/" 2>/dev/null
    done
    # 128 samples of each with each sampler, scored against 512 fresh models.
    for p in "${priors[@]}"; do
        (
            "$V" data synth ${held[$p]} -n 512 --size 70x70 -o "$work/held-$p.h5"
            "$V" sample --checkpoint "$out/$p.safetensors" --device cuda -n 128 --batch 128 \
                --steps 50 --seed 1 -o "$work/$p-ddim50.h5"
            "$V" sample --checkpoint "$out/$p.safetensors" --device cuda -n 128 --batch 128 \
                --sampler dpm-solver --steps 25 --seed 1 -o "$work/$p-dpm25.h5"
            left=$((budget + 30 - SECONDS))
            [ "$left" -gt 10 ] && timeout "$left" "$V" sample --checkpoint "$out/$p.safetensors" \
                --device cuda -n 128 --batch 128 --sampler ddpm --seed 1 -o "$work/$p-ddpm.h5"
        ) >"$logs/5-sample-$p.log" 2>&1 &
    done
    wait
    for p in "${priors[@]}"; do
        for s in ddpm ddim50 dpm25; do
            [ -e "$work/$p-$s.h5" ] || { say "5-evaluate-$p-$s: no samples (out of time)"; continue; }
            run "5-evaluate-$p-$s" "$V" evaluate --samples "$work/$p-$s.h5" \
                --test "$work/held-$p.h5" -o "$work/results/eval-$p-$s"
            indent <(grep -E '^(set|samples|real|precision)' "$logs/5-evaluate-$p-$s.log")
        done
        cp "$work/$p-ddpm.h5" "$work/results/" 2>/dev/null
    done
fi

tar -czf "$out/logs.tar.gz" -C "$work" logs
[ -n "$(ls "$work/results")" ] && tar -cf "$out/results.tar" -C "$work" results
say "gpu-check: $failed step(s) failed"
[ "$failed" -eq 0 ]
