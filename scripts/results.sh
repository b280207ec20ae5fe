#!/usr/bin/env bash
# `make results`: reruns the README's result tables from the shipped priors and configs and
# writes them into README.md, so that no figure there is typed by hand.
#
#   bash scripts/results.sh [--quick] [--no-splice] [TABLE...]   (default: every table)
#   bash scripts/results.sh --splice-only                         results/*.md into README.md
#
# Tables (each about its own README section):
#   priors    the shipped priors scored by `velprior evaluate` with `velprior sample`'s default
#             sampler against 512 fresh held-out models (256 samples; memorised fraction against
#             the training corpus, regenerated from its seed)              ~15 min on 2 cores
#   samplers  precision, recall and Fréchet distance of DDIM and DPM-Solver++ at several step
#             counts (128 samples each)                                    ~30 min on 2 cores
#   red-diff  RED-diff on Marmousi 70x190 with each Marmousi prior, seeds 0, 1, 2 (mean ± std)
#                                                                           ~10 min on 2 cores
#   gpu       the GPU figures, formatted from results/gpu-check.txt: the summary that
#             `scripts/gpu-check.sh` wrote on a GPU machine (copied there by hand; no GPU here)
# Each table is written to results/NAME.md, headed by the machine (CPU model, ISA, cores) and
# the date, and spliced into README.md between `<!-- results:NAME -->` and
# `<!-- /results:NAME -->` (not with --no-splice). Finished evaluations and posterior runs in
# target/results-work are reused, so an interrupted run resumes. --quick runs every table at toy
# size (a few samples and iterations) with the test build into target/results-quick and leaves
# README.md alone: the check that the pipeline works (CI runs it). Std over seeds is the sample
# std (n − 1).
set -euo pipefail
cd "$(dirname "$0")/.."

quick=0 no_splice=0 splice_only=0
tables=()
for a in "$@"; do
    case "$a" in
        --quick) quick=1 ;;
        --no-splice) no_splice=1 ;;
        --splice-only) splice_only=1 ;;
        priors | samplers | red-diff | gpu) tables+=("$a") ;;
        *)
            echo "error: unknown argument '$a'; use [--quick] [--no-splice | --splice-only] [priors] [samplers] [red-diff] [gpu]" >&2
            exit 2
            ;;
    esac
done
[ ${#tables[@]} -gt 0 ] || tables=(priors samplers red-diff gpu)

# --quick checks the pipeline with the test build (`make test` has built it); tables use release.
if [ "$quick" = 1 ]; then
    cargo build --quiet
    V="$PWD/target/debug/velprior"
else
    cargo build --release --quiet
    V="$PWD/target/release/velprior"
fi
export RUST_LOG=warn
if [ "$quick" = 1 ]; then
    out=target/results-quick n=8 n_held=32 red_diff_iterations=2 seeds=(0)
    sampler_steps=("ddim 5" "dpm-solver 5")
else
    out=results n=256 n_held=512 red_diff_iterations=300 seeds=(0 1 2)
    sampler_steps=("ddim 25" "ddim 50" "dpm-solver 10" "dpm-solver 25")
fi
work=target/results-work
[ "$quick" = 0 ] || work=target/results-work-quick
mkdir -p "$out" "$work"

isa=AVX2
grep -qw avx512f /proc/cpuinfo && isa=AVX-512
machine="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs) ($isa), $(nproc) cores"
stamp() { echo "Measured by \`make results\` on $machine, $(date -u +%Y-%m-%d)."; }

# prior NAME -> "family seed held_seed": the corpus each shipped prior was trained on.
corpus_of() {
    case "$1" in
        marmousi70) echo "marmousi 11 99" ;;
        openfwi70) echo "openfwi 12 98" ;;
    esac
}

# Regenerates a prior's training corpus (bit-identical to the one it saw) and held-out set.
corpus() {
    local p="$1" family seed held
    read -r family seed held <<<"$(corpus_of "$p")"
    local dir="$work/corpus-$p" count=20000
    [ "$quick" = 1 ] && count=200
    if [ ! -e "$dir/train.h5" ]; then
        mkdir -p "$dir"
        "$V" data synth -f "$family" -n "$count" --size 70x70 --seed "$seed" -o "$dir/corpus.h5"
        "$V" data split "$dir/corpus.h5" --train "$dir/train.h5" --test "$dir/test.h5" \
            --test-fraction 0.05 --seed 0
    fi
    [ -e "$dir/held.h5" ] || "$V" data synth -f "$family" -n "$n_held" --size 70x70 \
        --seed "$held" -o "$dir/held.h5"
}

# evaluate PRIOR SAMPLER STEPS N DIR [--train]: runs `velprior evaluate`; prints the report path.
evaluate() {
    local p="$1" sampler="$2" steps="$3" count="$4" dir="$5" train=()
    [ "${6:-}" = --train ] && train=(--train "$work/corpus-$p/train.h5")
    # A finished evaluation is kept (a rerun resumes where an interrupted one stopped).
    [ -e "$dir/report.json" ] || "$V" evaluate --checkpoint "priors/$p/prior.safetensors" --test "$work/corpus-$p/held.h5" \
        "${train[@]}" --sampler "$sampler" --steps "$steps" -n "$count" --batch 64 --seed 1 \
        -o "$dir" >/dev/null
    echo "$dir/report.json"
}

# fixed(d): a non-negative number with d decimals, as text (jq drops trailing zeros).
FIXED='def fixed(d): pow(10; d) as $p | (. * $p | round) as $i
    | if d == 0 then ($i | tostring)
      else ($i / $p | floor | tostring) + "."
        + (($i % $p | tostring) as $f | ("0" * (d - ($f | length))) + $f) end;'
f3() { jq -r "$FIXED $1 | if . == null then \"–\" else fixed(3) end" "$2"; }
f1() { jq -r "$FIXED $1 | fixed(1)" "$2"; }

# splice NAME: README.md's block between the NAME markers becomes results/NAME.md.
splice() {
    local name="$1" file="$out/$1.md"
    [ "$quick" = 1 ] || [ "$no_splice" = 1 ] && return
    grep -q "<!-- results:$name -->" README.md || {
        echo "results: README.md has no <!-- results:$name --> block; $file is written" >&2
        return
    }
    awk -v name="$name" -v file="$file" '
        $0 == "<!-- results:" name " -->" { print; while ((getline line < file) > 0) print line; skip = 1; next }
        $0 == "<!-- /results:" name " -->" { skip = 0 }
        !skip' README.md >README.md.tmp && mv README.md.tmp README.md
}

table_priors() {
    {
        stamp
        echo
        echo "| prior | sampler | n | precision | recall | Fréchet PCA-32 | velocity W1 (m/s) | memorised |"
        echo "|---|---|---|---|---|---|---|---|"
        for p in marmousi70 openfwi70; do
            corpus "$p" >&2
            r="$(evaluate "$p" dpm-solver 25 "$n" "$work/priors-$p" --train)"
            echo "| \`$p\` | DPM-Solver++ 25 | $(jq .samples.models "$r") | $(f3 .samples.precision "$r") ($(f3 .precision_ratio "$r")×) | $(f3 .samples.recall "$r") ($(f3 .recall_ratio "$r")×) | $(f1 .samples.frechet_pca "$r") | $(f1 .samples.velocity_w1 "$r") | $(f3 .memorised_fraction "$r") |"
            echo "| real models ($p's corpus, held out) | | $(jq .real.models "$r") | $(f3 .real.precision "$r") | $(f3 .real.recall "$r") | $(f1 .real.frechet_pca "$r") | $(f1 .real.velocity_w1 "$r") | |"
        done
    } >"$out/priors.md"
    splice priors
}

table_samplers() {
    local count=128
    [ "$quick" = 1 ] && count="$n"
    {
        stamp
        echo
        echo "| prior | sampler | steps | precision | recall | Fréchet PCA-32 |"
        echo "|---|---|---|---|---|---|"
        for p in marmousi70 openfwi70; do
            corpus "$p" >&2
            for s in "${sampler_steps[@]}"; do
                read -r sampler steps <<<"$s"
                r="$(evaluate "$p" "$sampler" "$steps" "$count" "$work/samplers-$p-$sampler-$steps")"
                echo "| \`$p\` | $sampler | $steps | $(f3 .samples.precision "$r") | $(f3 .samples.recall "$r") | $(f1 .samples.frechet_pca "$r") |"
            done
        done
    } >"$out/samplers.md"
    splice samplers
}

table_red_diff() {
    {
        stamp
        echo
        echo "| prior | seeds | SSIM | MAE | RMSE | wall per run |"
        echo "|---|---|---|---|---|---|"
        for p in marmousi70-small marmousi70; do
            local runs=()
            for seed in "${seeds[@]}"; do
                local dir="$work/red-diff-$p-$seed"
                runs+=("$dir/metrics.json")
                [ -e "$dir/metrics.json" ] && continue
                sed -e "s|^iterations = .*|iterations = $red_diff_iterations|" \
                    -e "s|^prior = .*|prior = \"priors/$p/prior.safetensors\"|" \
                    configs/posterior-marmousi-red-diff.toml >"$work/red-diff.toml"
                "$V" posterior --config "$work/red-diff.toml" --seed "$seed" --out "$dir" >/dev/null
            done
            jq -rs --arg p "$p" "$FIXED"'
                def stat(f): (map(f) | add / length) as $m
                    | (map((f - $m) * (f - $m)) | add / ([length - 1, 1] | max) | sqrt) as $s
                    | "\($m | fixed(3)) ± \($s | fixed(3))";
                "| `\($p)` | \(map(.seed) | join(", ")) | \(stat(.truth.mean_metrics.ssim)) | \(stat(.truth.mean_metrics.mae)) | \(stat(.truth.mean_metrics.rmse)) | \(map(.wall_time_s) | add / length | round) s |"
            ' "${runs[@]}"
        done
    } >"$out/red-diff.md"
    splice red-diff
}

if [ "$splice_only" = 1 ]; then
    for t in "${tables[@]}"; do
        [ -e "$out/$t.md" ] && splice "$t"
    done
    exit 0
fi
table_gpu() {
    local log=results/gpu-check.txt
    # first NAME FIELD: the FIELD-th number after "median" on the line after step NAME's line.
    after() { grep -A1 "^$1: ok" "$log" | tail -n 1; }
    ours() { after "$1" | grep -oE "$2: median [0-9.]+" | grep -oE '[0-9.]+$'; }
    theirs() { after "$1" | grep -oE '"median_s":[0-9.]+' | sed -n "$2p" | cut -d: -f2; }
    row() {
        local what="$1" a="$2" b="$3"
        echo "| $what | $a s | $(printf '%.4f' "$b") s | $(jq -rn "$FIXED $a / $b | fixed(2)")× |"
    }
    {
        echo "From \`scripts/gpu-check.sh\` on $(head -n 1 "$log" | sed 's/^machine: //') (\`results/gpu-check.txt\`):"
        echo
        echo "| unet_bench UNet, f32 | velprior | PyTorch eager | velprior / PyTorch |"
        echo "|---|---|---|---|"
        for rep in 1 2; do
            row "training step, batch 64 (run $rep)" "$(ours "4-velprior-b64-$rep" 'TRAIN batch 64')" "$(theirs "4-torch-eager-b64-$rep" 1)"
            row "inference, batch 256 (run $rep)" "$(ours "4-velprior-b64-$rep" 'INFER batch 256')" "$(theirs "4-torch-eager-b64-$rep" 2)"
        done
        row "training step, batch 16" "$(ours 4-velprior-b16 'TRAIN batch 16')" "$(theirs 4-torch-eager-b16 1)"
        row "inference, batch 64" "$(ours 4-velprior-b16 'INFER batch 64')" "$(theirs 4-torch-eager-b16 2)"
        echo
        echo "Training step breakdown at batch 64 (medians, s): $(after 4-velprior-b64-1 | grep -oE 'data [0-9.]+ +forward\+loss [0-9.]+ +backward [0-9.]+ +AdamW [0-9.]+' | tr -s ' ')."
        echo "With candle's own CUDA convolution: $(ours 4-velprior-candle-conv-b64 'TRAIN batch 64') s per training step, $(ours 4-velprior-candle-conv-b64 'INFER batch 256') s inference."
        echo
        echo "Correctness (GPU against CPU, TF32 off):"
        echo
        grep -E '^   (PASS|FAIL)' "$log" | sed -E 's/^   (PASS|FAIL) /- \1: /'
        grep -A3 '^2-train-compare' "$log" | grep '^   ' | sed 's/^   /- training, 200 steps of a small config, CPU and GPU from one seed: /'
        grep -A1 '^3-sample-compare' "$log" | grep '^   ' | sed 's/^   /- /'
    } >"$out/gpu.md"
    splice gpu
}

for t in "${tables[@]}"; do
    echo "results: $t" >&2
    "table_${t//-/_}"
    cat "$out/$t.md"
done
