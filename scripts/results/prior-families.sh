# The prior families side by side, per shipped prior's family (Marmousi-style; the four
# OpenFWI-style families mixed), 70x70: the densities with an exact log-density
# (Gaussian/PCA rank 16, a Gaussian mixture of 8 components on rank 16, the Gaussian-process
# prior, a RealNVP flow of 6 blocks on rank 16) and the networks (a conv β-VAE, 20 epochs; a
# DCGAN, 40 epochs) fitted to 2,000 models of the family and the shipped prior's corpus seed,
# each scored by `velprior evaluate` like the shipped diffusion prior (256 samples against the
# same 512 held-out models; the diffusion rows are the priors table's), with the fit's wall
# time; results/prior-families-FAMILY-KIND.png shows samples beside held-out models. ~50 min
# on 2 cores (the networks' training). Sourced by scripts/results.sh.

table_prior_families() {
    {
        stamp
        echo
        echo "| family | prior | fit | precision | recall | Fréchet PCA-32 | velocity W1 (m/s) | lateral step (m/s) | memorised |"
        echo "|---|---|---|---|---|---|---|---|---|"
        for p in marmousi70 openfwi70; do
            prior_family_rows "$p"
        done
    } >"$out/prior-families.md"
    splice prior-families
}

# prior_family_rows PRIOR [FILE]: the rows of one family (the fitted priors' runs hold FILE too,
# checkpoint.safetensors for the benchmark-priors table: a record has only the scores).
prior_family_rows() {
    local p="$1" need="${2:-fit-ms}" family seed held_seed count=2000
    read -r family seed held_seed <<<"$(corpus_of "$p")"
    [ "$quick" = 1 ] && count=200
    corpus "$p" >&2
    local dir="$work/prior-families-$p" held="$work/corpus-$p/held.h5"
    mkdir -p "$dir"
    [ -e "$dir/train.h5" ] || "$V" data synth -f "$family" -n "$count" --size 70x70 \
        --seed "$seed" -o "$dir/train.h5" >/dev/null
    row() { # row LABEL FIT REPORT
        local r="$3"
        echo "| $family | $1 | $2 | $(f3 .samples.precision "$r") ($(f3 .precision_ratio "$r")×) | $(f3 .samples.recall "$r") ($(f3 .recall_ratio "$r")×) | $(f1 .samples.frechet_pca "$r") | $(f1 .samples.velocity_w1 "$r") | $(f1 .samples.lateral_step "$r") | $(f3 .memorised_fraction "$r") |"
    }
    local spec kind config epochs run key t0
    for spec in gaussian:gaussian gmm:gmm gp:gp flow:flow vae:vae-conv:20 gan:gan:40; do
        IFS=: read -r kind config epochs <<<"$spec"
        [ "$quick" = 1 ] && [ -n "$epochs" ] && epochs=1
        run="$dir/$kind"
        config_with "configs/$config-curvefault.toml" "output=\"$run\"" \
            "corpus=\"$dir/train.h5\"" "flip_lateral=false" ${epochs:+"epochs=$epochs"} \
            >"$dir/$kind.toml"
        key="$(fingerprint "$family seed $seed, $count models; held seed $held_seed, $n samples" \
            "$dir/$kind.toml")"
        if ! reuse "$run" "$key" fit-ms eval/report.json "$need"; then
            t0=$(date +%s%N)
            "$V" train --config "$dir/$kind.toml" >/dev/null
            echo $((($(date +%s%N) - t0) / 1000000)) >"$run/fit-ms"
            "$V" evaluate --checkpoint "$run/checkpoint.safetensors" --test "$held" \
                --train "$dir/train.h5" -n "$n" --seed 1 -o "$run/eval" >/dev/null
            keep "$run" "$key" fit-ms eval/report.json
            [ "$quick" = 1 ] || cp "$run/eval/samples.png" "$out/prior-families-$family-$kind.png"
        fi
        row "\`$kind\` ($count models)" "$(awk '{ printf "%.1f s", $1 / 1000 }' "$run/fit-ms")" \
            "$run/eval/report.json"
    done
    local r
    r="$(evaluate "$p" "$n" "$work/priors-$p" --sampler dpm-solver --steps 25 \
        --train "$work/corpus-$p/train.h5")"
    row "\`$p\` diffusion, DPM-Solver++ 25" "shipped" "$r"
    echo "| $family | real models (held out) | | $(f3 .real.precision "$r") | $(f3 .real.recall "$r") | $(f1 .real.frechet_pca "$r") | $(f1 .real.velocity_w1 "$r") | $(f1 .real.lateral_step "$r") | |"
}
