# The prior families in one inversion benchmark (README "Baseline priors"):
# configs/benchmark-priors.toml — four CurveFault models, clean data, 300 iterations of FWI
# with Tikhonov and TV, MAP with each density prior, latent MAP through the β-VAE and the GAN,
# RED-diff with openfwi70 — over the priors of the prior-families table (trained first if
# missing), as its summary table and a grid of examples. ~40 min on 2 cores. Sourced by
# scripts/results.sh.

# shellcheck source=scripts/results/prior-families.sh
source scripts/results/prior-families.sh

table_benchmark_priors() {
    local dir="$work/benchmark-priors" families="$work/prior-families-openfwi70" kind
    for kind in gaussian gmm gp flow vae gan; do
        [ -e "$families/$kind/checkpoint.safetensors" ] || {
            prior_family_rows openfwi70 checkpoint.safetensors >/dev/null
            break
        }
    done
    mkdir -p "$dir"
    local edits=(-e "s|runs/prior-families/|$families/|")
    [ "$quick" = 1 ] && edits+=(-e 's/iterations = 300/iterations = 2/' -e 's/^models = 4/models = 1/')
    sed "${edits[@]}" configs/benchmark-priors.toml >"$dir.toml"
    "$V" benchmark --config "$dir.toml" --out "$dir" >/dev/null
    {
        stamp
        echo
        echo "\`configs/benchmark-priors.toml\`; SSIM, MAE and RMSE as mean ± std (median) over the models:"
        echo
        cat "$dir/summary.md"
    } >"$out/benchmark-priors.md"
    [ "$quick" = 1 ] || cp "$dir/examples.png" "$out/benchmark-priors-examples.png"
    splice benchmark-priors
}
