# Self-consuming loops (README "Memorization", MAD): configs/mad.toml, k-NN precision and recall
# against held-out models per generation, for the fully synthetic loop and the two loops with
# real models mixed in. ~30–45 min on 2 cores. Sourced by scripts/results.sh.

table_mad() {
    local config=configs/mad.toml dir="$work/mad"
    [ "$quick" = 1 ] && config=configs/mad-tiny.toml
    [ -e "$dir/mad.json" ] || {
        config_with "$config" "output=\"$dir\"" >"$work/mad.toml"
        "$V" mad --config "$work/mad.toml" >/dev/null
    }
    {
        stamp
        echo
        jq -r "$FIXED"'
            (.points | map(.generation) | unique) as $g
            | def row(what; kind; f):
                "| \(what) | \([.points[] | select(.loop_kind == kind) | .scores | f | fixed(3)] | join(" | ")) |";
            "| generation | \($g | join(" | ")) |",
            "|---|\($g | map("---|") | join(""))",
            row("precision, fully synthetic"; "fully_synthetic"; .precision),
            row("precision, fixed real"; "fixed_real"; .precision),
            row("precision, fresh real"; "fresh_real"; .precision),
            row("recall, fully synthetic"; "fully_synthetic"; .recall),
            row("recall, fixed real"; "fixed_real"; .recall),
            row("recall, fresh real"; "fresh_real"; .recall),
            "",
            "The training models themselves (generation 0'"'"'s real set) score precision \(.real_reference.precision | fixed(3)) and recall \(.real_reference.recall | fixed(3)) against the held-out models (k = \(.real_reference.k))."' \
            "$dir/mad.json"
    } >"$out/mad.md"
    splice mad
}
