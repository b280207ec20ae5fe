# RED-diff on Marmousi 70x190 with each Marmousi prior, seeds 0, 1, 2 (mean ± std).
# ~10 min on 2 cores. Sourced by scripts/results.sh.

table_red_diff() {
    {
        stamp
        echo
        echo "| prior | seeds | SSIM | MAE | RMSE | wall per run |"
        echo "|---|---|---|---|---|---|"
        for p in marmousi70-small marmousi70; do
            local runs=()
            for seed in "${seeds[@]}"; do
                red_diff_run "$p" "$seed" "$work/red-diff-$p-$seed" metrics.json
                runs+=("$work/red-diff-$p-$seed/metrics.json")
            done
            jq -rs --arg p "$p" "$STAT"'
                "| `\($p)` | \(map(.seed) | join(", ")) | \(stat(.truth.mean_metrics.ssim)) | \(stat(.truth.mean_metrics.mae)) | \(stat(.truth.mean_metrics.rmse)) | \(map(.wall_time_s) | add / length | round) s |"
            ' "${runs[@]}"
        done
    } >"$out/red-diff.md"
    splice red-diff
}
