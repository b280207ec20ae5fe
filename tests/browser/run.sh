#!/usr/bin/env bash
# Real-browser test of `velprior serve`'s latent-space playground:
#   tiny two-layer corpus -> tiny 2-D-latent autoencoder (`velprior train`) -> `velprior serve`
#   on a free loopback port -> headless Debian chromium (playwright-core) moves a slider and
#   checks the decoded picture changed. The screenshot is kept in target/browser-artifacts/.
# Needs: chromium (/usr/bin/chromium or $CHROMIUM), node + npm; `scripts/setup.sh --test`
# installs them. Uses the dev binary (cargo build) unless VELPRIOR_BIN is set.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cd "$repo"
bin=${VELPRIOR_BIN:-$repo/target/debug/velprior}
if [ -z "${VELPRIOR_BIN:-}" ]; then cargo build --quiet --bin velprior; fi
[ -d "$here/node_modules/playwright-core" ] || (cd "$here" && npm ci --no-audit --no-fund --silent)

tmp=$(mktemp -d)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT

"$bin" data synth -f two-layer -n 64 --seed 3 -o "$tmp/corpus.h5" >/dev/null
cat > "$tmp/ae.toml" <<TOML
kind = "autoencoder"
output = "$tmp/runs/ae-tiny"
[data]
corpus = "$tmp/corpus.h5"
vmin = 1000.0
vmax = 5000.0
[model]
arch = "mlp"
hidden = [32, 16]
latent_dim = 2
lambda = 0.01
[train]
epochs = 30
batch_size = 16
seed = 0
log_every = 10
checkpoint_every = 30
TOML
"$bin" train --config "$tmp/ae.toml" >/dev/null 2>&1

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$bin" serve "$tmp/runs" --port "$port" 2>"$tmp/serve.log" &
pid=$!
for _ in $(seq 1 100); do
    python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/')" 2>/dev/null && break
    sleep 0.1
done
mkdir -p "$repo/target/browser-artifacts"
node "$here/playground.mjs" "http://127.0.0.1:$port" ae-tiny "$repo/target/browser-artifacts/playground.png"
