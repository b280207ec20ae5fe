# The two commands of the README go through here so that a fresh machine needs no set-up:
# each target installs the system packages it needs first (scripts/setup.sh, idempotent).

.PHONY: quickstart test setup results results-quick

# The main job on built-in defaults (no downloads): writes runs/quickstart/.
quickstart:
	bash scripts/setup.sh
	cargo run --release -- quickstart --out runs/quickstart

# The whole test suite (the command CI runs): the Rust tests, then the dashboard's
# real-browser test (headless chromium; screenshot in target/browser-artifacts/).
test:
	bash scripts/setup.sh --test
	VELPRIOR_REQUIRE_PYTHON=1 cargo test --workspace
	bash tests/browser/run.sh

setup:
	bash scripts/setup.sh --test

# Reruns the README's result tables (results/*.md, spliced into README.md; about an hour on
# 2 cores); results-quick runs them at toy size without touching the README.
results:
	bash scripts/setup.sh
	bash scripts/results.sh

results-quick:
	bash scripts/setup.sh
	bash scripts/results.sh --quick
