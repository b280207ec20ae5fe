# The inversion benchmark (README "Inversion benchmark"): configs/benchmark-openfwi-small.toml
# — four OpenFWI-style families x 10 models, clean / 5 % noise / 10 dead traces, FWI with
# Tikhonov and TV, RED-diff with openfwi70 — as its summary table. A few hours on 2 cores
# (resumable: finished inversions are kept). Sourced by scripts/results.sh.

table_benchmark() {
    local config=configs/benchmark-openfwi-small.toml dir="$work/benchmark"
    if [ "$quick" = 1 ]; then
        config="$work/benchmark-tiny.toml"
        sed 's/iterations = 20/iterations = 2/g' configs/benchmark-tiny.toml >"$config"
    fi
    "$V" benchmark --config "$config" --out "$dir" >/dev/null
    {
        stamp
        echo
        echo "\`$config\`; SSIM, MAE and RMSE as mean ± std (median) over the models:"
        echo
        cat "$dir/summary.md"
    } >"$out/benchmark.md"
    cp "$dir/examples.png" "$out/benchmark-examples.png" 2>/dev/null || true
    splice benchmark
}
