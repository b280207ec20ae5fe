# The shipped priors scored by `velprior evaluate` with `velprior sample`'s default sampler
# against 512 fresh held-out models (256 samples; memorised fraction against the training
# corpus, regenerated from its seed). ~15 min on 2 cores. Sourced by scripts/results.sh.

table_priors() {
    {
        stamp
        echo
        echo "| prior | sampler | n | precision | recall | Fréchet PCA-32 | velocity W1 (m/s) | memorised |"
        echo "|---|---|---|---|---|---|---|---|"
        for p in marmousi70 openfwi70; do
            corpus "$p" >&2
            r="$(evaluate "$p" "$n" "$work/priors-$p" --sampler dpm-solver --steps 25 \
                --train "$work/corpus-$p/train.h5")"
            echo "| \`$p\` | DPM-Solver++ 25 | $(jq .samples.models "$r") | $(f3 .samples.precision "$r") ($(f3 .precision_ratio "$r")×) | $(f3 .samples.recall "$r") ($(f3 .recall_ratio "$r")×) | $(f1 .samples.frechet_pca "$r") | $(f1 .samples.velocity_w1 "$r") | $(f3 .memorised_fraction "$r") |"
            echo "| real models ($p's corpus, held out) | | $(jq .real.models "$r") | $(f3 .real.precision "$r") | $(f3 .real.recall "$r") | $(f1 .real.frechet_pca "$r") | $(f1 .real.velocity_w1 "$r") | |"
        done
    } >"$out/priors.md"
    splice priors
}
