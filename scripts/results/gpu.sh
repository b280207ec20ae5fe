# The GPU figures, formatted from results/gpu-check.txt: the summary that
# `scripts/gpu-check.sh` wrote on a GPU machine (copied there by hand). Sourced by
# scripts/results.sh.

table_gpu() {
    local log=results/gpu-check.txt
    # first NAME FIELD: the FIELD-th number after "median" on the line after step NAME's line.
    after() { grep -A1 "^$1: ok" "$log" | tail -n 1; }
    ours() { after "$1" | grep -oE "$2: median [0-9.]+" | grep -oE '[0-9.]+$'; }
    theirs() { after "$1" | grep -oE '"median_s":[0-9.]+' | sed -n "$2p" | cut -d: -f2; }
    row() {
        local what="$1" a="$2" b="$3"
        echo "| $what | $a s | $(printf '%.4f' "$b") s | $(jq -rn "$FIXED $a / $b | fixed(2)")× |"
    }
    {
        echo "From \`scripts/gpu-check.sh\` on $(head -n 1 "$log" | sed 's/^machine: //') (\`results/gpu-check.txt\`):"
        echo
        echo "| unet_bench UNet, f32 | velprior | PyTorch eager | velprior / PyTorch |"
        echo "|---|---|---|---|"
        for rep in 1 2; do
            row "training step, batch 64 (run $rep)" "$(ours "4-velprior-b64-$rep" 'TRAIN batch 64')" "$(theirs "4-torch-eager-b64-$rep" 1)"
            row "inference, batch 256 (run $rep)" "$(ours "4-velprior-b64-$rep" 'INFER batch 256')" "$(theirs "4-torch-eager-b64-$rep" 2)"
        done
        row "training step, batch 16" "$(ours 4-velprior-b16 'TRAIN batch 16')" "$(theirs 4-torch-eager-b16 1)"
        row "inference, batch 64" "$(ours 4-velprior-b16 'INFER batch 64')" "$(theirs 4-torch-eager-b16 2)"
        echo
        echo "Training step breakdown at batch 64 (medians, s): $(after 4-velprior-b64-1 | grep -oE 'data [0-9.]+ +forward\+loss [0-9.]+ +backward [0-9.]+ +AdamW [0-9.]+' | tr -s ' ')."
        echo "With candle's own CUDA convolution: $(ours 4-velprior-candle-conv-b64 'TRAIN batch 64') s per training step, $(ours 4-velprior-candle-conv-b64 'INFER batch 256') s inference."
        echo
        echo "Correctness (GPU against CPU, TF32 off):"
        echo
        grep -E '^   (PASS|FAIL)' "$log" | sed -E 's/^   (PASS|FAIL) /- \1: /'
        grep -A3 '^2-train-compare' "$log" | grep '^   ' | sed 's/^   /- training, 200 steps of a small config, CPU and GPU from one seed: /'
        grep -A1 '^3-sample-compare' "$log" | grep '^   ' | sed 's/^   /- /'
    } >"$out/gpu.md"
    splice gpu
}
