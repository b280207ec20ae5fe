# Calibration (README "Calibration"): configs/posterior-calibration.toml — DPS on 10 held-out
# 70x70 Marmousi-style models observed as 7 well logs with 50 m/s noise, 8 samples each — with
# each shipped Marmousi prior, and the exact linear-Gaussian sampler with a Gaussian prior on
# truths drawn from that prior as the reference whose coverage is known. ~10 min on 2 cores.
# Sourced by scripts/results.sh.

table_calibration() {
    local dir="$work/calibration" count=10 edit=()
    [ "$quick" = 1 ] && count=2 edit=("steps=2" "samples=2")
    mkdir -p "$dir"
    [ -e "$dir/models.h5" ] || "$V" data synth -f marmousi -n 20 --size 70x70 --seed 99 -o "$dir/models.h5"
    local p run key
    for p in marmousi70-small marmousi70; do
        run="$dir/dps-$p"
        config_with configs/posterior-calibration.toml "prior=\"priors/$p/prior.safetensors\"" \
            "models=\"$dir/models.h5\"" "count=$count" "${edit[@]}" >"$run.toml"
        recorded_posterior "$run" 0 "priors/$p/prior.safetensors"
    done
    # The reference: truths drawn from a Gaussian prior fitted to the prior's family, the exact
    # posterior sampler; expected coverage P(|T| ≤ k/√(1 + 1/S)), T Student's t with S − 1 dof.
    run="$dir/exact"
    printf 'kind = "gaussian"\noutput = "%s"\n\n[data]\ncorpus = "%s"\nvmin = 1500.0\nvmax = 4500.0\n\n[model]\nrank = 16\n\n[fit]\nsample_count = 0\nseed = 0\n' \
        "$dir/gaussian" "$dir/gaussian-corpus.h5" >"$dir/gaussian.toml"
    printf '[calibration]\nprior = "%s"\nmodels = "%s"\ncount = %s\nnoise_std = 50.0\noperator = { kind = "wells", every = 10 }\n\n[calibration.method]\nkind = "linear-gaussian"\nsamples = 8\n' \
        "$dir/gaussian/checkpoint.safetensors" "$dir/gaussian-truths.h5" "$count" >"$dir/exact.toml"
    key="$(fingerprint "corpus seed 7, truths seed 5, seed 0" "$dir/gaussian.toml" "$dir/exact.toml")"
    if ! reuse "$run" "$key" metrics.json; then
        "$V" data synth -f marmousi -n 500 --size 70x70 --seed 7 -o "$dir/gaussian-corpus.h5"
        "$V" train --config "$dir/gaussian.toml" >/dev/null
        "$V" sample --checkpoint "$dir/gaussian/checkpoint.safetensors" -n "$count" --seed 5 \
            --output "$dir/gaussian-truths.h5" >/dev/null
        "$V" posterior --config "$dir/exact.toml" --seed 0 --out "$run" >/dev/null
        keep "$run" "$key" metrics.json
    fi
    {
        stamp
        echo
        echo "| method | prior | models | ±1σ coverage | ±2σ coverage | mean posterior std (m/s) | RMSE of the mean (m/s) | SSIM of the means | wall |"
        echo "|---|---|---|---|---|---|---|---|---|"
        local row="$FIXED"'
            "| \($method) | \($prior) | \(.models | length) | \(.within_1sigma | fixed(3)) | \(.within_2sigma | fixed(3)) | \(.mean_std | round) | \(.rmse_mps | round) | \(.models | map(.scores.mean_metrics.ssim) | "\(min | fixed(2))–\(max | fixed(2))") | \(.wall_time_s | round) s |"'
        for p in marmousi70-small marmousi70; do
            jq -r --arg method "DPS (\`posterior-calibration\`: 50 steps, 8 samples)" --arg prior "\`$p\`" "$row" "$dir/dps-$p/metrics.json"
        done
        jq -r --arg method "exact (linear-gaussian), 8 samples; truths drawn from its prior" \
            --arg prior "Gaussian/PCA, rank 16" "$row" "$run/metrics.json"
        echo
        echo "For the exact sampler the expected coverage is known: with S = 8 samples, (truth − mean)/(std·√(1 + 1/S)) is Student's t with 7 degrees of freedom, so ±1σ holds $(python3 -c 'import math
def t(c, nu=7.0):
    f = lambda x: (1 + x * x / nu) ** (-(nu + 1) / 2)
    n = 20000
    s = lambda a, b: sum((1 if i in (0, n) else 4 if i % 2 else 2) * f(a + i * (b - a) / n) for i in range(n + 1)) * (b - a) / n / 3
    return s(0, c) / s(0, 400)
w = math.sqrt(1 + 1 / 8)
print(f"{t(1 / w):.3f} and ±2σ {t(2 / w):.3f}")') in expectation."
    } >"$out/calibration.md"
    splice calibration
}
