# Posterior sampling on Marmousi 70x190 (README "Posterior sampling on Marmousi 70×190"):
# RED-diff under RED-DiffEq's L1 misfit with marmousi70 (on clean data the red-diff table's
# runs), then Gauss–Newton DAPS from its model (configs/posterior-marmousi-daps.toml), seeds 0, 1,
# 2; on the clean data and on data with Gaussian noise of 5 % of their RMS (`velprior forward
# --noise`, seed 0). Pictures of seed 0 on clean data into results/. ~30 min on 2 cores. Sourced
# by scripts/results.sh.

table_marmousi_daps() {
    local daps_edit=() truth=data/reference/marmousi-70x190/velocity.npy
    [ "$quick" = 1 ] && daps_edit=('x0_step={ kind = "gauss-newton", cg_iterations = 1 }' "samples=2")
    # The noisy data: the config's survey (its [solver] and [acquisition] tables) on the truth.
    local noisy="$work/marmousi-noisy-5pc.npy"
    [ -e "$noisy" ] || "$V" forward --velocity "$truth" --config configs/posterior-marmousi-daps.toml \
        --noise gaussian:0.05 --seed 0 -o "$noisy"
    {
        stamp
        echo
        echo "| data | seeds | RED-diff's SSIM (start) | SSIM of the mean | MAE | RMSE | ±1σ coverage | ±2σ coverage | mean std (m/s) | CRPS (m/s) | DAPS wall per run |"
        echo "|---|---|---|---|---|---|---|---|---|---|---|"
        local data observed start dir seed runs key edit
        for data in clean noisy; do
            runs=()
            for seed in "${seeds[@]}"; do
                observed=data/reference/marmousi-70x190/seismic.npy start="$work/red-diff-marmousi70-$seed"
                edit=()
                [ "$data" = clean ] || observed="$noisy" start="$work/red-diff-marmousi70-noisy-$seed" \
                    edit=("observed=\"$noisy\"")
                dir="$work/marmousi-daps-$data-$seed"
                runs+=("$dir/metrics.json")
                config_with configs/posterior-marmousi-daps.toml "observed=\"$observed\"" \
                    "initial_model=\"$start/samples.h5\"" "${daps_edit[@]}" >"$dir.toml"
                # Its inputs: the data, RED-diff's (prior, config, seed) and its own config.
                key="$(fingerprint "seed $seed iterations $red_diff_iterations ${edit[*]}" "$observed" \
                    priors/marmousi70/prior.safetensors configs/posterior-marmousi-red-diff.toml "$dir.toml")"
                reuse "$dir" "$key" metrics.json && continue
                red_diff_run marmousi70 "$seed" "$start" samples.h5 "${edit[@]}"
                "$V" posterior --config "$dir.toml" --seed "$seed" --out "$dir" >/dev/null
                keep "$dir" "$key" metrics.json
            done
            local label="clean"
            [ "$data" = noisy ] && label="5 % Gaussian noise"
            jq -rs --arg what "$label" "$STAT"'
                "| \($what) | \(map(.seed) | join(", ")) | \(stat(.start_metrics.ssim)) | \(stat(.truth.mean_metrics.ssim)) | \(stat(.truth.mean_metrics.mae)) | \(stat(.truth.mean_metrics.rmse)) | \(stat(.truth.within_1sigma)) | \(stat(.truth.within_2sigma)) | \(map(.truth.mean_std) | add / length | round) | \(map(.truth.crps) | add / length | round) | \(map(.wall_time_s) | add / length | round) s |"' \
                "${runs[@]}"
        done
    } >"$out/marmousi-daps.md"
    if [ "$quick" = 0 ]; then
        local f png
        for f in mean std abs_error zscore; do
            png="$work/marmousi-daps-clean-0/$f.png" # (a run restored from its record has none)
            [ ! -e "$png" ] || cp "$png" "$out/marmousi-daps-$f.png"
        done
    fi
    splice marmousi-daps
}
