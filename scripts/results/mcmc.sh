# The MCMC baselines (README "Posterior baselines"): random-walk Metropolis in an autoencoder's
# latent space and in model space under the Gaussian/PCA prior, MALA, and SGLD (2 of 5 shots per
# step) under the Gaussian-process prior, on the OpenFWI CurveFault sample, each at three step
# sizes (one chain, seed 0); MAP and variational inference (a RealNVP q) under the
# Gaussian-process prior; and MAP in the autoencoder's latent space (latent FWI). The priors
# are fitted on the quickstart's CurveFault training models (configs/gaussian-curvefault.toml,
# configs/gp-curvefault.toml, configs/ae-mlp-curvefault.toml). ~30 min on 2 cores. Sourced by
# scripts/results.sh.

table_mcmc() {
    local dir="$work/mcmc" post_edit=() ae_edit=() map_edit=() vi_edit=()
    mkdir -p "$dir"
    if [ "$quick" = 1 ]; then
        post_edit=("samples=2" "burn_in=0")
        map_edit=("iterations=2")
        vi_edit=("iterations=2" "samples=2")
        ae_edit=("epochs=1")
        [ -e "$dir/quickstart/train.h5" ] || {
            mkdir -p "$dir/quickstart"
            "$V" data synth -f curvefault -n 32 --size 70x70 -o "$dir/quickstart/train.h5"
        }
    fi
    [ -e "$dir/quickstart/train.h5" ] || "$V" quickstart --out "$dir/quickstart" >/dev/null
    local corpus="corpus=\"$dir/quickstart/train.h5\""
    [ -e "$dir/gaussian/checkpoint.safetensors" ] || {
        config_with configs/gaussian-curvefault.toml "output=\"$dir/gaussian\"" "$corpus" >"$dir/gaussian.toml"
        "$V" train --config "$dir/gaussian.toml" >/dev/null
    }
    [ -e "$dir/gp/checkpoint.safetensors" ] || {
        config_with configs/gp-curvefault.toml "output=\"$dir/gp\"" "$corpus" >"$dir/gp.toml"
        "$V" train --config "$dir/gp.toml" >/dev/null
    }
    [ -e "$dir/ae/checkpoint.safetensors" ] || {
        config_with configs/ae-mlp-curvefault.toml "output=\"$dir/ae\"" "$corpus" "${ae_edit[@]}" >"$dir/ae.toml"
        "$V" train --config "$dir/ae.toml" >/dev/null
    }
    {
        stamp
        echo
        echo "| sampler | space (prior) | step | steps | acceptance | SSIM of mean | MAE | misfit of mean | mean std (m/s) | wall |"
        echo "|---|---|---|---|---|---|---|---|---|---|"
        local row name space prior step run chain
        for row in "rwm-latent latent ae 0.02 0.1 0.5" "rwm-model model gaussian 1e-4 1e-3 1e-2" \
            "mala model gaussian 1e-7 1e-6 1e-5" "sgld model gp 1e-7 1e-6 1e-5"; do
            read -r name space prior steps <<<"$row"
            for step in $steps; do
                run="$dir/$name-$step"
                config_with "configs/posterior-curvefault-$name.toml" \
                    "prior=\"$dir/$prior/checkpoint.safetensors\"" "step=$step" "${post_edit[@]}" \
                    >"$dir/$name.toml"
                [ -e "$run/metrics.json" ] ||
                    "$V" posterior --config "$dir/$name.toml" --seed 0 --out "$run" >/dev/null
                chain="$(awk -F' = ' '/^samples =/ { s = $2 } /^burn_in =/ { b = $2 } /^thin =/ { t = $2 }
                    END { print b + s * t }' "$dir/$name.toml")"
                jq -r --arg chain "$chain" --arg name "$name" --arg space "$space ($prior)" --arg step "$step" "$FIXED"'
                    "| \($name) | \($space) | \($step) | \($chain) | \(.acceptance_rate | if . == null then "–" else fixed(3) end) | \(.truth.mean_metrics.ssim | fixed(3)) | \(.truth.mean_metrics.mae | fixed(3)) | \(.mean_data_misfit | round) | \(.truth.mean_std | fixed(1)) | \(.wall_time_s | round) s |"' \
                    "$run/metrics.json"
            done
        done
        optimiser_row map-gp posterior-curvefault-map-gp gp "map (Adam, λ = D)" "model (gp)" \
            "lr 0.01" "${map_edit[@]}"
        optimiser_row map-latent posterior-curvefault-map-latent ae "map (Adam, λ = k)" \
            "latent (ae)" "lr 0.01" "${map_edit[@]}"
        optimiser_row vi-gp posterior-curvefault-vi gp "vi (RealNVP q)" "model (gp)" "lr 1e-3" \
            "${vi_edit[@]}"
    } >"$out/mcmc.md"
    splice mcmc
}

# optimiser_row RUN CONFIG PRIOR LABEL SPACE STEP [EDIT...]: runs configs/CONFIG.toml once with
# the prior fitted in $dir/PRIOR and prints its table row (steps: iterations, × batch for VI).
optimiser_row() {
    local name="$1" config="$2" prior="$3" label="$4" space="$5" step="$6"
    shift 6
    local run="$dir/$name" chain
    config_with "configs/$config.toml" "prior=\"$dir/$prior/checkpoint.safetensors\"" "$@" \
        >"$dir/$name.toml"
    [ -e "$run/metrics.json" ] ||
        "$V" posterior --config "$dir/$name.toml" --seed 0 --out "$run" >/dev/null
    chain="$(awk -F' = ' '/^iterations =/ { i = $2 } /^batch =/ { b = " × " $2 " draws" }
        END { print i b }' "$dir/$name.toml")"
    jq -r --arg chain "$chain" --arg method "$label" --arg space "$space" --arg step "$step" "$FIXED"'
        "| \($method) | \($space) | \($step) | \($chain) | – | \(.truth.mean_metrics.ssim | fixed(3)) | \(.truth.mean_metrics.mae | fixed(3)) | \(.mean_data_misfit | round) | \(if .samples > 1 then (.truth.mean_std | fixed(1)) else "–" end) | \(.wall_time_s | round) s |"' \
        "$run/metrics.json"
}
