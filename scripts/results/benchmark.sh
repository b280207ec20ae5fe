# The inversion benchmark (README "Inversion benchmark"): configs/benchmark-openfwi-small.toml
# — four OpenFWI-style families x 10 models, clean / 5 % noise / 10 dead traces, FWI with
# Tikhonov and TV, RED-diff and the two-stage sampler with openfwi70 — as its summary table.
# About 12 CPU-hours (360 inversions of about a minute, 120 of about three), so it is
# resumable across sessions: every finished inversion's record
# (results/benchmark-records/records.jsonl) and the inversions the example grid shows (model 0
# of each family, clean data) are kept in the repository and seed the work folder; a rerun does
# only the inversions that are missing. Sourced by scripts/results.sh.

table_benchmark() {
    local config=configs/benchmark-openfwi-small.toml dir="$work/benchmark"
    local kept=results/benchmark-records
    if [ "$quick" = 1 ]; then
        config="$work/benchmark-tiny.toml"
        sed 's/iterations = 20/iterations = 2/g' configs/benchmark-tiny.toml >"$config"
    else
        benchmark_records_in "$kept" "$dir"
    fi
    "$V" benchmark --config "$config" --out "$dir" >/dev/null
    [ "$quick" = 1 ] || benchmark_records_out "$dir" "$kept"
    {
        if [ "$quick" = 1 ]; then
            stamp
        else
            echo "Measured by \`velprior benchmark\` through \`make results\`, $(date -u +%Y-%m-%d), resuming the records kept in \`$kept/\`, made across sessions on 2-core machines (AMD EPYC and Intel Xeon, AVX-512; this one: $machine): SSIM, MAE and RMSE do not depend on the machine; wall and CPU times are each machine's, with other jobs beside some of them."
        fi
        echo
        echo "\`$config\`; SSIM, MAE and RMSE as mean ± std (median) over the models:"
        echo
        cat "$dir/summary.md"
    } >"$out/benchmark.md"
    cp "$dir/examples.png" "$out/benchmark-examples.png" 2>/dev/null || true
    splice benchmark
}

# Seeds the benchmark folder $2 with the kept records and example inversions in $1 (where the
# folder does not hold them already).
benchmark_records_in() {
    local kept="$1" dir="$2"
    mkdir -p "$dir/results" "$dir/models"
    [ -d "$kept" ] || return 0
    [ -f "$kept/records.jsonl" ] && cp "$kept/records.jsonl" "$dir/results/kept.jsonl"
    cp -n "$kept"/models/*.npy "$dir/models/" 2>/dev/null || true
}

# Keeps the records of the benchmark folder $1 and its example inversions in $2.
benchmark_records_out() {
    local dir="$1" kept="$2"
    mkdir -p "$kept/models"
    cat "$dir"/results/*.jsonl | awk '/}$/ && !seen[$0]++' >"$kept/records.jsonl.tmp"
    mv "$kept/records.jsonl.tmp" "$kept/records.jsonl"
    cp "$dir"/models/*-0-truth.npy "$dir"/models/*-0-start.npy "$dir"/models/*-0-clean-*.npy \
        "$kept/models/" 2>/dev/null || true
}
