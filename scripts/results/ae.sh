# The autoencoder teaching experiment (README "Baseline priors"): configs/ae-two-layer.toml
# trains a 2-D-latent MLP autoencoder on two-layer profiles with the latent penalty and without,
# decodes 100 random latents of each, and compares their (v1, v2) law with the corpus's;
# training seeds 0, 1, 2. ~2 min on 2 cores. Sourced by scripts/results.sh.

table_ae() {
    local seed dir epochs=()
    [ "$quick" = 1 ] && epochs=("epochs=5")
    {
        stamp
        echo
        echo "| training seed | λ | sample slope v2/v1 (corpus) | off by | correlation (corpus) | samples outside the corpus box |"
        echo "|---|---|---|---|---|---|"
        for seed in "${seeds[@]}"; do
            dir="$work/ae-two-layer-$seed"
            if [ ! -e "$dir/summary.json" ]; then
                config_with configs/ae-two-layer.toml "output=\"$dir\"" "${epochs[@]}" |
                    sed "/^\[train\]/,/^\[/ s/^seed = .*/seed = $seed/" >"$work/ae-two-layer.toml"
                "$V" ae experiment --config "$work/ae-two-layer.toml" >/dev/null
            fi
            jq -r --arg seed "$seed" "$FIXED"'
                .corpus as $c | .runs[]
                | "| \($seed) | \(.lambda) | \(.samples.slope | fixed(3)) (\($c.slope | fixed(3))) | \(.slope_relative_error * 100 | fixed(1)) % | \(.samples.correlation | fixed(3)) (\($c.correlation | fixed(3))) | \(.off_range) / \(.samples.n) |"' \
                "$dir/summary.json"
        done
    } >"$out/ae.md"
    splice ae
}
