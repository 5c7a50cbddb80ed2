#!/usr/bin/env bash
# Runs every benchmark script under bench/ whose name starts with run_ (after `make release`).
set -euo pipefail
cd "$(dirname "$0")/.."
for script in bench/run_*.sh; do
  echo "== $script"
  "$script"
done
