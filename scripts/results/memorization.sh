# The memorization sweep (README "Memorization"): configs/memorization-sweep.toml trains the same
# tiny prior on nested subsets of N models and scores its samples, the empirical optimal
# denoiser's, the subset Gaussian's and held-out real models by the ratio test d1/d2 < 1/3, with
# the disjoint-set similarity of Kadkhodaie et al. ~10 min on 2 cores. Sourced by
# scripts/results.sh.

table_memorization() {
    local config=configs/memorization-sweep.toml dir="$work/memorization-sweep"
    [ "$quick" = 1 ] && config=configs/memorization-sweep-tiny.toml
    [ -e "$dir/sweep.json" ] || {
        config_with "$config" "output=\"$dir\"" >"$work/memorization-sweep.toml"
        "$V" memorization sweep --config "$work/memorization-sweep.toml" >/dev/null
    }
    {
        stamp
        echo
        jq -r "$FIXED"'
            def row(what; f): "| \(what) | \(map(f | fixed(3)) | join(" | ")) |";
            "| N | \(map(.n) | join(" | ")) |",
            "|---|\(map("---|") | join(""))",
            row("trained prior"; .trained.fraction_gu),
            row("empirical optimal denoiser"; .empirical.fraction_gu),
            row("subset'"'"'s Gaussian"; .gaussian.fraction_gu),
            row("held-out real models"; .held_out.fraction_gu),
            row("disjoint-set same-noise NCC"; .disjoint_ncc_median)' "$dir/sweep.json"
    } >"$out/memorization.md"
    splice memorization
}
