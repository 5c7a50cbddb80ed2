#!/usr/bin/env bash
# NAB (the dev subset in ../shared/data/NAB-dev): tidegate's conformal detector beside the classic
# windowed-Gaussian baseline, all three profiles, thresholds chosen per detector and profile; then
# the same corpus through the command line — `tidegate detect` on every file, its output files
# scored by the same scorer — which must give the in-process detector's numbers.
#   make release && bench/run_nab.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD_DIR:-build/release}
BIN=$BUILD/bench/anomaly/nab_run
CLI=$BUILD/src/exe/tidegate
DATA=${NAB_DATA:-../shared/data/NAB-dev}
[ -x "$BIN" ] && [ -x "$CLI" ] || { echo "run_nab.sh: build first: make release" >&2; exit 1; }
"$BIN" --data "$DATA" --detectors conformal,windowed_gaussian

SCORES=$(mktemp -d)
trap 'rm -rf "$SCORES"' EXIT
(cd "$DATA/data" && find . -name '*.csv' | sort) | while read -r file; do
  mkdir -p "$SCORES/$(dirname "$file")"
  if ! "$CLI" detect --input "$DATA/data/$file" --output "$SCORES/$file" 2>>"$SCORES/detect.log"; then
    cat "$SCORES/detect.log" >&2
    exit 1
  fi
done
echo
echo "tidegate detect, scored from its output files ($(wc -l <"$SCORES/detect.log") files with rows out of order, scored in file order):"
"$BIN" --data "$DATA" --scores-dir "$SCORES" --name tidegate_detect | tail -n +2
