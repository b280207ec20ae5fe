# Posterior sampling on one 70x70 model from its seismic data (README "Posterior sampling"):
# configs/posterior-seismic-70.toml — the OpenFWI CurveFault sample, an L2 likelihood of 5 % of
# the data RMS, RED-diff's mode then Gauss-Newton DAPS, 16 samples — over seeds 0, 1, 2 (mean ±
# std), beside its start and its first stage; the pictures of seed 0 (truth, posterior mean, std,
# z-score). About 15 minutes on 2 cores. Sourced by scripts/results.sh.

table_posterior_seismic() {
    local edit=() method_edit=()
    if [ "$quick" = 1 ]; then
        edit=("iterations=2" "steps=5")
        method_edit=(-e 's/cg_iterations = [0-9]*/cg_iterations = 1/' -e '/^\[method\]/,$s/^samples = .*/samples = 2/')
    fi
    local runs=() seed dir
    for seed in "${seeds[@]}"; do
        dir="$work/posterior-seismic-70-$seed"
        runs+=("$dir/metrics.json")
        [ -e "$dir/metrics.json" ] && continue
        config_with configs/posterior-seismic-70.toml "${edit[@]}" | sed -e '' "${method_edit[@]}" \
            >"$work/posterior-seismic-70.toml"
        "$V" posterior --config "$work/posterior-seismic-70.toml" --seed "$seed" --out "$dir" >/dev/null
    done
    {
        stamp
        echo
        echo "| | seeds | SSIM | MAE | RMSE | ±1σ coverage | ±2σ coverage | CRPS (m/s) | mean std (m/s) | wall per run |"
        echo "|---|---|---|---|---|---|---|---|---|---|"
        jq -rs "$STAT"'
            "| start (truth smoothed by σ = 10 cells) | | \(.[0].start_metrics.ssim | fixed(3)) | \(.[0].start_metrics.mae | fixed(3)) | \(.[0].start_metrics.rmse | fixed(3)) | | | | | |",
            "| RED-diff (first stage) | \(map(.seed) | join(", ")) | \(stat(.first_stage_metrics.ssim)) | \(stat(.first_stage_metrics.mae)) | \(stat(.first_stage_metrics.rmse)) | | | | | |",
            "| posterior mean, \(.[0].samples) samples | \(map(.seed) | join(", ")) | \(stat(.truth.mean_metrics.ssim)) | \(stat(.truth.mean_metrics.mae)) | \(stat(.truth.mean_metrics.rmse)) | \(stat(.truth.within_1sigma)) | \(stat(.truth.within_2sigma)) | \(map(.truth.crps) | add / length | round) | \(map(.truth.mean_std) | add / length | round) | \(map(.wall_time_s) | add / length | round) s |"
        ' "${runs[@]}"
    } >"$out/posterior-seismic.md"
    local what
    for what in truth mean std zscore; do
        cp "$work/posterior-seismic-70-${seeds[0]}/$what.png" "$out/posterior-seismic-$what.png"
    done
    splice posterior-seismic
}
