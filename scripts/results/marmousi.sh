# Marmousi 70x190 (README "Posterior sampling on Marmousi 70×190"): plain FWI with Tikhonov and
# TV (configs/fwi-marmousi-*.toml, 300 Adam iterations, deterministic) and the two sampling-style
# methods (configs/posterior-marmousi-{alternating,dps}.toml with each shipped Marmousi prior,
# seeds 0, 1, 2, mean ± std), scored as RED-DiffEq scores (SSIM, MAE, RMSE on [-1, 1]
# velocities). ~40 min on 2 cores. Sourced by scripts/results.sh.

table_marmousi() {
    local fwi_edit=() post_edit=()
    if [ "$quick" = 1 ]; then
        fwi_edit=(--iterations 2)
        post_edit=("steps=4" "samples=1")
    fi
    {
        stamp
        echo
        echo "| method | config | prior | seeds | SSIM | MAE | RMSE | wall per run |"
        echo "|---|---|---|---|---|---|---|---|"
        local m dir
        for m in tikhonov tv; do
            dir="$work/fwi-marmousi-$m"
            [ -e "$dir/summary.json" ] || "$V" fwi --config "configs/fwi-marmousi-$m.toml" \
                --out "$dir" "${fwi_edit[@]}" >/dev/null
            if [ "$m" = tikhonov ]; then
                jq -r "$FIXED"'"| start (σ = 20 smoothed truth) | | | | \(.start_metrics.ssim | fixed(3)) | \(.start_metrics.mae | fixed(3)) | \(.start_metrics.rmse | fixed(3)) | |"' \
                    "$dir/summary.json"
            fi
            jq -r --arg m "$m" --arg what "FWI + $( [ "$m" = tv ] && echo TV || echo Tikhonov)" "$FIXED"'
                "| \($what) | `fwi-marmousi-\($m)` | | | \(.final_metrics.ssim | fixed(3)) | \(.final_metrics.mae | fixed(3)) | \(.final_metrics.rmse | fixed(3)) | \(.wall_time_s | round) s |"' \
                "$dir/summary.json"
        done
        local p runs seed
        for m in alternating dps; do
            for p in marmousi70-small marmousi70; do
                runs=()
                for seed in "${seeds[@]}"; do
                    dir="$work/posterior-marmousi-$m-$p-$seed"
                    runs+=("$dir/metrics.json")
                    config_with "configs/posterior-marmousi-$m.toml" \
                        "prior=\"priors/$p/prior.safetensors\"" "${post_edit[@]}" >"$dir.toml"
                    recorded_posterior "$dir" "$seed" "priors/$p/prior.safetensors"
                done
                jq -rs --arg m "$m" --arg p "$p" "$STAT"'
                    "| \($m) | `posterior-marmousi-\($m)` | `\($p)` | \(map(.seed) | join(", ")) | \(stat(.truth.mean_metrics.ssim)) | \(stat(.truth.mean_metrics.mae)) | \(stat(.truth.mean_metrics.rmse)) | \(map(.wall_time_s) | add / length | round) s |"' \
                    "${runs[@]}"
            done
        done
    } >"$out/marmousi.md"
    splice marmousi
}
