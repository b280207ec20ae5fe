#!/usr/bin/env bash
# `make results`: reruns the README's result tables from the shipped priors and configs and
# writes them into README.md, so that no figure there is typed by hand.
#
#   bash scripts/results.sh [--quick] [--no-splice] [TABLE...]   (default: every table)
#   bash scripts/results.sh --splice-only                         results/*.md into README.md
#
# Tables, one file each in scripts/results/ (what it runs and how long it takes is said there):
#   priors prior-families benchmark-priors samplers red-diff marmousi marmousi-daps calibration calibration-seismic posterior-seismic mcmc memorization mad ae benchmark bench gpu
# Each table is written to results/NAME.md, headed by the machine (CPU model, ISA, cores) and
# the date, and spliced into README.md between `<!-- results:NAME -->` and
# `<!-- /results:NAME -->` (not with --no-splice). Finished evaluations and posterior runs in
# target/results-work are reused, so an interrupted run resumes; those of the prior tables
# (priors, prior-families, samplers, red-diff, marmousi's sampling methods, marmousi-daps,
# calibration) are also kept in results/records with the fingerprint of their inputs (see
# `reuse`), so that a fresh clone reruns only what its priors and configs changed. --quick runs
# every table at toy size (a few samples and iterations) with the test build into
# target/results-quick and leaves README.md alone: the check that the pipeline works (CI runs
# it). Std over seeds is the sample std (n − 1).
set -euo pipefail
cd "$(dirname "$0")/.."

all="priors prior-families benchmark-priors samplers red-diff marmousi marmousi-daps calibration calibration-seismic posterior-seismic mcmc memorization mad ae benchmark bench gpu"
quick=0 no_splice=0 splice_only=0
tables=()
for a in "$@"; do
    case "$a" in
        --quick) quick=1 ;;
        --no-splice) no_splice=1 ;;
        --splice-only) splice_only=1 ;;
        priors | prior-families | benchmark-priors | samplers | red-diff | marmousi | marmousi-daps | calibration | calibration-seismic | posterior-seismic | mcmc | memorization | mad | ae | benchmark | bench | gpu)
            tables+=("$a")
            ;;
        *)
            echo "error: unknown argument '$a'; use [--quick] [--no-splice | --splice-only] [TABLE...], TABLE one of: $all" >&2
            exit 2
            ;;
    esac
done
[ ${#tables[@]} -gt 0 ] || read -ra tables <<<"$all"

# --quick checks the pipeline with the test build (`make test` has built it); tables use release.
if [ "$splice_only" = 1 ]; then
    V=false
elif [ "$quick" = 1 ]; then
    cargo build --quiet
    V="$PWD/target/debug/velprior"
else
    cargo build --release --quiet
    V="$PWD/target/release/velprior"
fi
export RUST_LOG=warn
# The samplers table's rows, "LABEL STEPS [FLAG...]": the flags default to --sampler LABEL.
clipped="--sampler dpm-solver --dynamic-threshold off"
if [ "$quick" = 1 ]; then
    out=target/results-quick n=8 n_held=32 red_diff_iterations=2 seeds=(0)
    sampler_rows=("ddim 5" "dpm-solver 5" "dpm-solver-clipped 5 $clipped")
else
    out=results n=256 n_held=512 red_diff_iterations=300 seeds=(0 1 2)
    sampler_rows=("ddim 25" "ddim 50" "dpm-solver 10" "dpm-solver 25" "dpm-solver 50" "dpm-solver 100"
        "dpm-solver-clipped 25 $clipped")
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

# A run's results (its report or metrics, a few kB) are reused when they come from the same
# inputs: its directory in $work, or its record in $out/records (results/records: committed, so
# a long `make results` can be spread over several clones), carries their fingerprint.
records="$out/records"

# fingerprint TEXT FILE...: 16 hex digits of the SHA-256 of TEXT and the files' bytes.
fingerprint() {
    local text="$1"
    shift
    { printf '%s\n' "$text"; cat "$@"; } | sha256sum | cut -c1-16
}

# reuse DIR KEY FILE...: true when DIR (in $work) holds the FILEs of a finished run with the
# fingerprint KEY, restored from its record if needed. Otherwise DIR (other inputs', an
# interrupted run's, or a record without a FILE) is removed.
reuse() {
    local dir="$1" key="$2" rec="$records/${1#"$work"/}" f
    shift 2
    if [ "$(cat "$dir/fingerprint" 2>/dev/null)" != "$key" ]; then
        rm -rf "$dir"
        [ "$(cat "$rec/fingerprint" 2>/dev/null)" = "$key" ] || return 1
        mkdir -p "$dir"
        cp -r "$rec/." "$dir/"
    fi
    for f; do [ -e "$dir/$f" ] || {
        rm -rf "$dir"
        return 1
    }; done
}

# keep DIR KEY FILE...: marks DIR a finished run with the fingerprint KEY and records its FILEs.
keep() {
    local dir="$1" key="$2" rec="$records/${1#"$work"/}" f
    shift 2
    rm -rf "$rec"
    for f; do
        mkdir -p "$(dirname "$rec/$f")"
        cp "$dir/$f" "$rec/$f"
    done
    echo "$key" >"$rec/fingerprint"
    echo "$key" >"$dir/fingerprint"
}

# evaluate PRIOR N DIR [FLAG...]: runs `velprior evaluate` on N samples of a shipped prior against
# its held-out models, with the given flags (sampler, steps, --train); prints the report path.
evaluate() {
    local p="$1" count="$2" dir="$3" key
    shift 3
    key="$(fingerprint "$count $*" "priors/$p/prior.safetensors")"
    if ! reuse "$dir" "$key" report.json; then
        "$V" evaluate --checkpoint "priors/$p/prior.safetensors" --test "$work/corpus-$p/held.h5" \
            "$@" -n "$count" --batch 64 --seed 1 -o "$dir" >/dev/null
        keep "$dir" "$key" report.json
    fi
    echo "$dir/report.json"
}

# fixed(d): a number with d decimals, as text (jq drops trailing zeros).
FIXED='def fixed(d): if . < 0 then "-" + (-. | fixed(d)) else pow(10; d) as $p | (. * $p | round) as $i
    | if d == 0 then ($i | tostring)
      else ($i / $p | floor | tostring) + "."
        + (($i % $p | tostring) as $f | ("0" * (d - ($f | length))) + $f) end end;'
f3() { jq -r "$FIXED $1 | if . == null then \"–\" else fixed(3) end" "$2"; }
f1() { jq -r "$FIXED $1 | fixed(1)" "$2"; }
# jq: stat(f) over an array of runs = "mean ± std" of f (sample std, n − 1), 3 decimals.
STAT="$FIXED"'
    def stat(f): (map(f) | add / length) as $m
        | (map((f - $m) * (f - $m)) | add / ([length - 1, 1] | max) | sqrt) as $s
        | "\($m | fixed(3)) ± \($s | fixed(3))";'

# config_with FILE KEY=VALUE...: FILE with each top-level or table key's line replaced (the
# first line starting with KEY =), printed.
config_with() {
    local file="$1"
    shift
    local args=(-e '')
    for kv in "$@"; do
        args+=(-e "0,/^${kv%%=*} = /s|^${kv%%=*} = .*|${kv%%=*} = ${kv#*=}|")
    done
    sed "${args[@]}" "$file"
}

# recorded_posterior DIR SEED PRIOR [NEED]: `velprior posterior` with the config DIR.toml (whose
# prior is the file PRIOR) and SEED into DIR, unless DIR holds a finished run of the same inputs
# with the file NEED (default metrics.json, the only file recorded).
recorded_posterior() {
    local dir="$1" seed="$2" prior="$3" need="${4:-metrics.json}" key
    key="$(fingerprint "seed $seed" "$prior" "$dir.toml")"
    reuse "$dir" "$key" metrics.json "$need" && return
    "$V" posterior --config "$dir.toml" --seed "$seed" --out "$dir" >/dev/null
    keep "$dir" "$key" metrics.json
}

# red_diff_run PRIOR SEED DIR NEED [KEY=VALUE...]: RED-diff on Marmousi 70x190
# (configs/posterior-marmousi-red-diff.toml with PRIOR and the config edits) into DIR, unless
# DIR holds a finished run with the file NEED (metrics.json; samples.h5, the model, is not
# recorded).
red_diff_run() {
    local p="$1" seed="$2" dir="$3" need="$4"
    shift 4
    config_with configs/posterior-marmousi-red-diff.toml "iterations=$red_diff_iterations" \
        "prior=\"priors/$p/prior.safetensors\"" "$@" >"$dir.toml"
    recorded_posterior "$dir" "$seed" "priors/$p/prior.safetensors" "$need"
}

# splice NAME: README.md's block between the NAME markers becomes results/NAME.md.
splice() {
    local name="$1" file="$out/$1.md"
    [ "$quick" = 1 ] || [ "$no_splice" = 1 ] && return
    [ -s "$file" ] || {
        echo "results: $file is missing or empty; the README's $name block is kept" >&2
        return
    }
    grep -q "<!-- results:$name -->" README.md || {
        echo "results: README.md has no <!-- results:$name --> block; $file is written" >&2
        return
    }
    awk -v name="$name" -v file="$file" '
        $0 == "<!-- results:" name " -->" { print; while ((getline line < file) > 0) print line; skip = 1; next }
        $0 == "<!-- /results:" name " -->" { skip = 0 }
        !skip' README.md >README.md.tmp && mv README.md.tmp README.md
}

if [ "$splice_only" = 1 ]; then
    for t in "${tables[@]}"; do
        [ -e "$out/$t.md" ] && splice "$t"
    done
    exit 0
fi
for t in "${tables[@]}"; do
    # shellcheck source=/dev/null
    source "scripts/results/$t.sh"
done
for t in "${tables[@]}"; do
    echo "results: $t" >&2
    "table_${t//-/_}"
    cat "$out/$t.md"
done
