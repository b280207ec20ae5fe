# Precision, recall and Fréchet distance of DDIM and DPM-Solver++ (its default dynamic
# thresholding, and clipping: dpm-solver-clipped) at several step counts (128 samples each).
# ~35 min on 2 cores. Sourced by scripts/results.sh.

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
