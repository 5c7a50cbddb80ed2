#!/usr/bin/env bash
# Runs every libFuzzer binary in a build directory, from the seed corpus in
# test/fuzz/corpus/<name>/ when present. Exits non-zero on the first crash, after printing the
# fuzzer's report and the crashing input (hex) so that it can be replayed:
#   xxd -r -p input.hex crash && TIDEGATE_FUZZ_TRACE=1 build/fuzz/test/fuzz/<name> crash
#
#   scripts/run-fuzzers.sh build/fuzz 60          # 60 s each, a random seed (exploration)
#   FUZZ_RUNS=300000 FUZZ_SEED=1 scripts/run-fuzzers.sh build/fuzz
#                                                 # a fixed number of runs from a fixed seed:
#                                                 # the same inputs every time (the test command)
set -euo pipefail
dir=${1:?build dir}
seconds=${2:-60}
found=0
for fuzzer in "$dir"/test/fuzz/*_fuzz; do
  [ -x "$fuzzer" ] || continue
  found=1
  name=$(basename "$fuzzer")
  work=$(mktemp -d)
  mkdir "$work/corpus"
  seeds="test/fuzz/corpus/$name"
  [ -d "$seeds" ] && cp -r "$seeds"/. "$work/corpus"/
  args=(-print_final_stats=1 -artifact_prefix="$work/")
  if [ -n "${FUZZ_RUNS:-}" ]; then
    args+=(-runs="$FUZZ_RUNS")
    echo "fuzz: $name for $FUZZ_RUNS runs, seed ${FUZZ_SEED:-random}"
  else
    args+=(-max_total_time="$seconds")
    echo "fuzz: $name for ${seconds}s, seed ${FUZZ_SEED:-random}"
  fi
  [ -n "${FUZZ_SEED:-}" ] && args+=(-seed="$FUZZ_SEED")
  if ! "$fuzzer" "${args[@]}" "$work/corpus" >"$work/log" 2>&1; then
    echo "fuzz: $name FAILED; its report:" >&2
    grep -v -E '^#[0-9]+\s' "$work/log" | tail -n 80 >&2
    for crash in "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-*; do
      [ -f "$crash" ] || continue
      echo "fuzz: failing input $(basename "$crash") (hex):" >&2
      od -An -v -tx1 "$crash" | tr -d ' \n' | fold -w 120 >&2
      echo >&2
    done
    exit 1
  fi
  tail -n 7 "$work/log"
  rm -rf "$work"
done
[ "$found" = 1 ] || { echo "run-fuzzers.sh: no fuzzers in $dir/test/fuzz" >&2; exit 1; }
