#!/usr/bin/env bash
# Two-fold cross-validation of the conformal detector's parameters on NAB (dev subset).
# The files are split by position in the label file (half a: even, half b: odd). For each half,
# every point of the grid below is scored on that half alone (standard profile, the threshold chosen
# on that half as in run_nab.sh); the best point is then scored on the other half at the threshold
# chosen on the tuning half, and on all files with the threshold chosen on all (NAB's rule 7).
#   make release && bench/anomaly/tune_nab.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${BUILD_DIR:-build/release}/bench/anomaly/nab_run
DATA=${NAB_DATA:-../shared/data/NAB-dev}
[ -x "$BIN" ] || { echo "tune_nab.sh: build first: make release" >&2; exit 1; }

# One grid point per line: --set arguments for nab_run. The seasonal term's weight (a weight
# w < 1 raises that term's own flag threshold: w·(1 − p) ≥ T needs 1 − p ≥ T / w), the
# likelihood's long window, the season's autocorrelation gate, the daily-profile gate of the
# likelihood (likelihood_daily_gate, 0 = off, and its half-width daily_halfwidth_seconds) and the
# recurrence of extremes (recurrence_tolerance, 0 = off); the rest stay at their defaults.
# Earlier grids fixed the others: point_weight = 0 and context_weight > 0 (both folds, against
# point_weight = 1 and context_weight = 0), flag_threshold = 0.999 (both folds, against 0.9995),
# refractory_seconds = 60000 (both folds, against 30000), no separate weight for the likelihood
# (0.9998 against 1: the folds disagreed, twice each way), context_weight = 0.9995,
# likelihood_gate = 0.9 and context_gate = 0.5 (both folds of the grid that had them), and
# recurrence_count = 1 (both folds, against 3).
GRID=()
for season in 1 0.9995; do
  for long in 600 2400; do
    for acf in 0.6 0.7; do
      for daily in "0 3600" "0.92 1800" "0.92 3600" "0.95 1800" "0.95 3600"; do
        read -r daily_gate halfwidth <<<"$daily"
        for tolerance in 0 0.05 0.1; do
          GRID+=("season_weight=$season long_window=$long season_min_acf=$acf likelihood_daily_gate=$daily_gate daily_halfwidth_seconds=$halfwidth recurrence_tolerance=$tolerance")
        done
      done
    done
  done
done

standard() {  # standard() HALF THRESHOLD SETTINGS... -> "score threshold" (standard profile)
  local half=$1 threshold=$2
  shift 2
  local args=(--data "$DATA" --detectors conformal)
  [ "$half" != all ] && args+=(--half "$half")
  [ "$threshold" != best ] && args+=(--threshold "$threshold")
  for s in "$@"; do args+=(--set "$s"); done
  "$BIN" "${args[@]}" | awk '$2 == "standard" { print $3, $4 }'
}

for tune in a b; do
  other=$([ "$tune" = a ] && echo b || echo a)
  best=-1e9
  best_threshold=""
  best_point=""
  for point in "${GRID[@]}"; do
    # shellcheck disable=SC2086  # A grid point is a list of settings.
    read -r score threshold < <(standard "$tune" best $point)
    if awk -v s="$score" -v b="$best" 'BEGIN { exit !(s > b) }'; then
      best=$score
      best_threshold=$threshold
      best_point=$point
    fi
  done
  # shellcheck disable=SC2086
  read -r held_out _ < <(standard "$other" "$best_threshold" $best_point)
  # shellcheck disable=SC2086
  read -r all all_threshold < <(standard all best $best_point)
  echo "tuned on half $tune (${#GRID[@]} points): $best_point, threshold $best_threshold"
  echo "  standard: half $tune $best (tuning), half $other $held_out (held out)," \
    "all $all (threshold $all_threshold)"
done
