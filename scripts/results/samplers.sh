# Precision, recall and Fréchet distance of DDIM and DPM-Solver++ (its default dynamic
# thresholding, and clipping: dpm-solver-clipped) at several step counts (128 samples each; the
# rows are scripts/results.sh's sampler_rows). ~70 min on 2 cores. Sourced by scripts/results.sh.

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
            for row in "${sampler_rows[@]}"; do
                read -r label steps extra <<<"$row"
                read -ra flags <<<"${extra:---sampler $label}"
                r="$(evaluate "$p" "$count" "$work/samplers-$p-$label-$steps" "${flags[@]}" --steps "$steps")"
                echo "| \`$p\` | $label | $steps | $(f3 .samples.precision "$r") | $(f3 .samples.recall "$r") | $(f1 .samples.frechet_pca "$r") |"
            done
        done
    } >"$out/samplers.md"
    splice samplers
}
