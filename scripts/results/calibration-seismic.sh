# Seismic calibration (README "Posterior sampling"): configs/posterior-calibration-seismic.toml —
# 20 held-out OpenFWI-style 70x70 models, 5 shots, 5 % noise, 16 samples each of the two-stage
# sampler (RED-diff's mode with its prior weight faded where the data are blind, then
# Gauss-Newton DAPS from t0 = 0.3 with 20 preconditioned CG iterations, Tweedie variance, each
# chain from the mode plus the start's stated error where the data are blind) with the shipped
# openfwi70 prior — as coverage, calibration curve, CRPS and SSIM beside RED-diff's (the first
# stage); the same without the start error; and with RED-diff's uniform weight from t0 = 0.55
# with 5 CG iterations per Gauss-Newton draw, plain and preconditioned.
# About 100-150 minutes per row on 2 quiet cores, so resumable across sessions: the run folder's
# per-model lines and posterior summaries are kept in results/calibration-seismic-*run
# (committed) and seed the work folder; a rerun samples only the models still missing. Sourced by
# scripts/results.sh.

table_calibration_seismic() {
    local dir="$work/calibration-seismic"
    mkdir -p "$dir"
    [ -e "$dir/models.h5" ] ||
        "$V" data synth -f openfwi -n 20 --size 70x70 --seed 810000 -o "$dir/models.h5" >/dev/null
    # The runs first (hours), then the table: an interrupted run leaves the old table alone.
    local rows="$dir/rows.md"
    calibration_seismic_row "$dir" two-stage results/calibration-seismic-run \
        "RED-diff, prior weight faded where the data are blind → Gauss–Newton DAPS (t0 = 0.3, Tweedie variance, 20 CG iterations preconditioned by diag(JᵀJ)/s), chains from the mode plus a 250 m/s start error where the data are blind" '' >"$rows"
    local no_error='/^start_error = /d' uniform='/^prior_weight = /d' t055='s/^t0 = 0.3$/t0 = 0.55/'
    calibration_seismic_row "$dir" faded results/calibration-seismic-faded-run \
        "the same without the start error" "$no_error" >>"$rows"
    calibration_seismic_row "$dir" cg5 results/calibration-seismic-cg5-run \
        "the same without it and with RED-diff's uniform weight, from t0 = 0.55 with 5 plain CG iterations" \
        "$no_error; $uniform; $t055; s/^x0_step = .*/x0_step = { kind = \"gauss-newton\", cg_iterations = 5 }/" >>"$rows"
    calibration_seismic_row "$dir" preconditioned results/calibration-seismic-preconditioned-run \
        "the same from t0 = 0.55 with 5 preconditioned CG iterations (\`preconditioner = { probes = 8, smooth = 2 }\`)" \
        "$no_error; $uniform; $t055; s/cg_iterations = 20,/cg_iterations = 5,/" >>"$rows"
    {
        stamp
        echo
        echo "| sampler | models | samples | ±1σ coverage | ±2σ coverage | 50 % / 90 % band holds | mean std (m/s) | RMSE of the mean (m/s) | CRPS (m/s) | SSIM of the mean | RED-diff's SSIM (first stage) | wall |"
        echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
        cat "$rows"
        echo
        echo "Targets: ±2σ in [0.90, 0.98], ±1σ in [0.60, 0.76], SSIM of the mean at least RED-diff's."
        echo
        echo "By depth (the rows above in order; the 10 m grid's rows in five bands, all models pooled): ±1σ / ±2σ coverage (mean std / RMS error of the mean, m/s)."
        echo
        echo "| depth | first row | second row | third row | fourth row |"
        echo "|---|---|---|---|---|"
        jq -rs "$FIXED"'
            map(.by_depth) | transpose | .[]
            | "| \(.[0].first_row * 10)–\(.[0].end_row * 10) m | "
              + (map("\(.within_1sigma | fixed(2)) / \(.within_2sigma | fixed(2)) (\(.mean_std | round) / \(.rms_error | round))") | join(" | ")) + " |"' \
            "$dir"/{two-stage,faded,cg5,preconditioned}/metrics.json
    } >"$out/calibration-seismic.md"
    local run="$dir/two-stage"
    cp "$run/calibration_curve.png" "$out/calibration-seismic-curve.png"
    cp "$run/error_vs_std.png" "$out/calibration-seismic-error-vs-std.png"
    cp "$run/calibration.png" "$out/calibration-seismic-means.png"
    cp "$run/calibration_std.png" "$out/calibration-seismic-std.png"
    splice calibration-seismic
}

# One row: the calibration config edited by the sed script $5, run in $1/$2 (seeded from and
# kept in the committed folder $3), labelled $4.
calibration_seismic_row() {
    local dir="$1" name="$2" kept="$3" label="$4" variant="$5" count=20 edit=() quick_edit=()
    if [ "$quick" = 1 ]; then
        # One model, 2 RED-diff iterations, a shorter record, one level of 2 samples.
        count=1 edit=("iterations=2" "nt=300" "steps=5")
        quick_edit=(-e 's/cg_iterations = [0-9]*/cg_iterations = 1/' -e 's/^samples = 16/samples = 2/')
    fi
    local run="$dir/$name"
    if [ "$quick" = 0 ] && [ -d "$kept" ] && [ ! -e "$run/metrics.json" ]; then
        mkdir -p "$run"
        cp -rn "$kept"/. "$run"/
    fi
    if [ ! -e "$run/metrics.json" ]; then
        config_with configs/posterior-calibration-seismic.toml "models=\"$dir/models.h5\"" \
            "count=$count" "${edit[@]}" | sed -e "$variant" "${quick_edit[@]}" >"$dir/$name.toml"
        "$V" posterior --config "$dir/$name.toml" --seed 0 --out "$run" >/dev/null
    fi
    [ "$quick" = 1 ] || calibration_seismic_keep "$run" "$kept"
    jq -r --arg samples "$(sed -n '/^\[calibration.method\]/,$s/^samples = //p' "$dir/$name.toml")" --arg row "$label" "$FIXED"'
        (.calibration_curve | map({(.nominal | tostring): .observed}) | add) as $c |
        "| \($row) | \(.models | length) | \($samples) | \(.within_1sigma | fixed(3)) | \(.within_2sigma | fixed(3)) | \($c["0.5"] | fixed(2)) / \($c["0.9"] | fixed(2)) | \(.mean_std | round) | \(.rmse_mps | round) | \(.crps | round) | \(.mean_ssim | fixed(3)) | \(.first_stage_mean_ssim | fixed(3)) | \(.wall_time_s | round) s |"' \
        "$run/metrics.json"
}

# Keeps the run folder $1's record of finished models (state, lines, summaries) in $2.
calibration_seismic_keep() {
    local run="$1" kept="$2"
    mkdir -p "$kept/summaries"
    cp "$run/state.json" "$run/metrics.jsonl" "$kept/"
    cp "$run"/summaries/*.npy "$kept/summaries/"
}
