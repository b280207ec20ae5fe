# Speed against the tools users would otherwise run (README "Benchmarks"): the UNet training
# step and inference against PyTorch, the 100x300 wave-equation case against deepwave, exact
# k-NN against numpy, alternated three times on the same machine (bench/reference/ has the
# reference scripts; BENCH_PYTHON names a Python with torch, deepwave and numpy, else only
# velprior's figures are given). Run it alone on a quiet machine. ~10 min on 2 cores. Sourced
# by scripts/results.sh.

table_bench() {
    local py="${BENCH_PYTHON:-python3}" dir="$work/bench" alternations=3 profile=(--release)
    local unet_args=(--steps 20 --infer-reps 7) wave_reps=5 examples=target/release/examples
    if [ "$quick" = 1 ]; then
        alternations=1 profile=() unet_args=(--steps 2 --infer-reps 1) wave_reps=1
        examples=target/debug/examples
    fi
    cargo build --quiet "${profile[@]}" -p velprior-nn -p velprior-physics -p velprior-memorization \
        --example bench_unet_train_step --example bench_deepwave_case --example bench_knn
    rm -rf "$dir" && mkdir -p "$dir"
    local torch=0 deepwave=0 numpy=0
    if [ "$quick" = 0 ]; then
        "$py" -c 'import torch' 2>/dev/null && torch=1
        "$py" -c 'import deepwave' 2>/dev/null && deepwave=1
        "$py" -c 'import numpy' 2>/dev/null && numpy=1
    fi
    # One line per measurement: "WHAT<TAB>velprior|reference<TAB>seconds".
    local log="$dir/timings.tsv" r
    : >"$log"
    number() { grep -oE "$1" | head -n 1 | grep -oE '[0-9]+\.[0-9]+' | head -n 1; }
    for r in $(seq "$alternations"); do
        "$examples/bench_unet_train_step" "${unet_args[@]}" >"$dir/unet-$r.txt"
        printf 'train\tvelprior\t%s\n' "$(number 'TRAIN batch 16: median [0-9.]+' <"$dir/unet-$r.txt")" >>"$log"
        printf 'infer\tvelprior\t%s\n' "$(number 'INFER batch 64: median [0-9.]+' <"$dir/unet-$r.txt")" >>"$log"
        if [ "$torch" = 1 ]; then
            BENCH_OUT="$dir" "$py" bench/reference/unet_bench.py --threads 2 >"$dir/torch-$r.txt" 2>&1
            jq -r '"train\treference\t\(.train_step_batch16.median_s)", "infer\treference\t\(.infer_forward_batch64.median_s)"' \
                "$dir/unet_results_noattn_t2.json" >>"$log"
        fi
        "$examples/bench_deepwave_case" "$wave_reps" >"$dir/wave-$r.txt"
        printf 'wave-forward\tvelprior\t%s\n' "$(number 'deepwave case forward: median [0-9.]+' <"$dir/wave-$r.txt")" >>"$log"
        printf 'wave-gradient\tvelprior\t%s\n' "$(number 'forward\+gradient \(All\): median [0-9.]+' <"$dir/wave-$r.txt")" >>"$log"
        printf 'marmousi-iteration\tvelprior\t%s\n' "$(number 'FWI iteration [^:]*: median [0-9.]+' <"$dir/wave-$r.txt")" >>"$log"
        printf 'openfwi-forward\tvelprior\t%s\n' "$(number 'OpenFWI preset forward [^:]*: median [0-9.]+' <"$dir/wave-$r.txt")" >>"$log"
        if [ "$deepwave" = 1 ]; then
            BENCH_OUT="$dir" "$py" bench/reference/deepwave_bench.py 2 >"$dir/deepwave-$r.txt" 2>&1
            jq -r '.["courant_0.65"] | "wave-forward\treference\t\(.forward.timing.median_s)", "wave-gradient\treference\t\(.forward_backward.timing.median_s)"' \
                "$dir/deepwave_results_t2.json" >>"$log"
        fi
        "$examples/bench_knn" >"$dir/knn-$r.txt"
        printf 'knn\tvelprior\t%s\n' "$(number 'median [0-9.]+ s, min' <"$dir/knn-$r.txt")" >>"$log"
        if [ "$numpy" = 1 ]; then
            BENCH_OUT="$dir" "$py" bench/reference/nn_bench.py >"$dir/numpy-$r.txt" 2>&1
            jq -r '"knn\treference\t\(.knn_top2_incl_train_norms_median_s)"' "$dir/nn_results.json" >>"$log"
        fi
    done
    {
        stamp
        echo
        echo "Medians over $alternations alternations (each itself a median of several repetitions); ratio = velprior's time / the reference's, per alternation (min–max) and of the medians."
        echo
        echo "| benchmark | velprior | reference | time ratio |"
        echo "|---|---|---|---|"
        jq -rRn "$FIXED"'
            def median: sort | .[length / 2 | floor];
            [inputs | split("\t") | {what: .[0], who: .[1], s: (.[2] | tonumber)}] as $all
            | def times(w; who): [$all[] | select(.what == w and .who == who) | .s];
            def row(w; what; reference):
                times(w; "velprior") as $v | times(w; "reference") as $r
                | if ($r | length) > 0 then
                    ([range(0; [$v, $r] | map(length) | min)] | map($v[.] / $r[.])) as $q
                    | "| \(what) | \($v | median | fixed(3)) s | \(reference): \($r | median | fixed(3)) s | \($q | min | fixed(2))–\($q | max | fixed(2))×, \(($v | median) / ($r | median) | fixed(2))× |"
                  else "| \(what) | \($v | median | fixed(3)) s | \(reference): not installed | |" end;
            row("train"; "UNet training step, batch 16 (unet_bench architecture, AdamW)"; "PyTorch"),
            row("infer"; "UNet inference, batch 64"; "PyTorch"),
            row("wave-forward"; "wave equation 100×300, 10 shots, nt 1000, 4th order, PML 20: forward"; "deepwave"),
            row("wave-gradient"; "the same: forward + adjoint gradient"; "deepwave"),
            row("knn"; "exact top-2 k-NN, 1,000 × 10,000 models of 64×64"; "numpy"),
            (times("marmousi-iteration"; "velprior") | "| Marmousi 70×190 FWI iteration (5 shots, misfit + gradient) | \(median | fixed(3)) s | | |"),
            (times("openfwi-forward"; "velprior") | "| OpenFWI preset forward, one 70×70 model (5 shots) | \(median | fixed(3)) s | | |")' \
            "$log"
        echo
        echo "PyTorch, deepwave and numpy: $([ "$torch" = 1 ] && "$py" -c 'import torch, numpy; print("torch", torch.__version__, "numpy", numpy.__version__)' || echo "not measured (set BENCH_PYTHON)")$([ "$deepwave" = 1 ] && echo ", deepwave $("$py" -c 'import deepwave; print(getattr(deepwave, "__version__", "?"))')")."
    } >"$out/bench.md"
    splice bench
}
