#!/usr/bin/env bash
# Runs every libFuzzer binary in a build directory for N seconds each, from the seed corpus in
# test/fuzz/corpus/<name>/ when present. Exits non-zero on the first crash.
#   scripts/run-fuzzers.sh build/fuzz 60
set -euo pipefail
dir=${1:?build dir}
seconds=${2:-60}
found=0
for fuzzer in "$dir"/test/fuzz/*_fuzz; do
  [ -x "$fuzzer" ] || continue
  found=1
  name=$(basename "$fuzzer")
  corpus=$(mktemp -d)
  seeds="test/fuzz/corpus/$name"
  [ -d "$seeds" ] && cp -r "$seeds"/. "$corpus"/
  echo "fuzz: $name for ${seconds}s"
  "$fuzzer" -max_total_time="$seconds" -print_final_stats=1 "$corpus" 2>&1 | tail -n 12
  rm -rf "$corpus"
done
[ "$found" = 1 ] || { echo "run-fuzzers.sh: no fuzzers in $dir/test/fuzz" >&2; exit 1; }
