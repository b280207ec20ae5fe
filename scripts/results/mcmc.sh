# The MCMC baselines (README "Posterior baselines"): random-walk Metropolis in an autoencoder's
# latent space and in model space under the Gaussian/PCA prior, and MALA, on the OpenFWI
# CurveFault sample, each at three step sizes (one chain, seed 0). The priors are fitted on the
# quickstart's CurveFault training models (configs/gaussian-curvefault.toml,
# configs/ae-mlp-curvefault.toml). ~25 min on 2 cores. Sourced by scripts/results.sh.

table_mcmc() {
    local dir="$work/mcmc" post_edit=() ae_edit=()
    mkdir -p "$dir"
    if [ "$quick" = 1 ]; then
        post_edit=("samples=2" "burn_in=0")
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
    [ -e "$dir/ae/checkpoint.safetensors" ] || {
        config_with configs/ae-mlp-curvefault.toml "output=\"$dir/ae\"" "$corpus" "${ae_edit[@]}" >"$dir/ae.toml"
        "$V" train --config "$dir/ae.toml" >/dev/null
    }
    {
        stamp
        echo
        echo "| sampler | space | step | steps | acceptance | SSIM of mean | MAE | misfit of mean | mean std (m/s) | wall |"
        echo "|---|---|---|---|---|---|---|---|---|---|"
        local row name space prior step run chain
        for row in "rwm-latent latent ae 0.02 0.1 0.5" "rwm-model model gaussian 1e-4 1e-3 1e-2" \
            "mala model gaussian 1e-7 1e-6 1e-5"; do
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
                jq -r --arg chain "$chain" --arg name "$name" --arg space "$space" --arg step "$step" "$FIXED"'
                    "| \($name) | \($space) | \($step) | \($chain) | \(.acceptance_rate | fixed(3)) | \(.truth.mean_metrics.ssim | fixed(3)) | \(.truth.mean_metrics.mae | fixed(3)) | \(.mean_data_misfit | round) | \(.truth.mean_std | fixed(1)) | \(.wall_time_s | round) s |"' \
                    "$run/metrics.json"
            done
        done
    } >"$out/mcmc.md"
    splice mcmc
}
