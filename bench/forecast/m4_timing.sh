#!/usr/bin/env bash
# Fit + forecast time on M4 hourly: tidegate's `arima` (and `auto`) against R forecast's
# auto.arima on the same first N series (fit on Train, forecast h = 48 with a 95 % interval),
# one process at a time, each single-threaded. Prints per-series medians and the ratio.
#
#   bench/forecast/m4_timing.sh [DATA_DIR] [N]
#     DATA_DIR  default ../shared/data/M4-hourly (relative to the repository root)
#     N         number of series (default 30)
#   env: TIDEGATE  the tidegate binary (default build/release/src/exe/tidegate)
#        MODELS    tidegate models (default "arima auto")
#        OUT       directory for per-series CSVs (default /tmp/tidegate-m4-timing)
#        REUSE_R=1 keep the R results already in OUT (from a run with the same N)
#
# Times: R's are CPU seconds (user + system) of the R process per series (proc.time); tidegate's
# per-series times are wall seconds from the backtest's CSV (wall >= CPU, so the comparison
# favours R on a loaded machine); the totals line gives both processes' CPU from /usr/bin/time.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
data="${1:-$root/../shared/data/M4-hourly}"
n="${2:-30}"
bin="${TIDEGATE:-$root/build/release/src/exe/tidegate}"
models="${MODELS:-arima auto}"
out="${OUT:-/tmp/tidegate-m4-timing}"
mkdir -p "$out"
[ -x "$bin" ] || { echo "m4_timing: build tidegate first (make release)" >&2; exit 2; }
Rscript -e 'suppressMessages(library(forecast))' > /dev/null 2>&1 ||
  { echo "m4_timing: R forecast missing (Debian r-cran-forecast)" >&2; exit 2; }

# median FILE COLUMN: the median of a CSV column (quoted fields may hold commas).
median() {
  python3 -c 'import csv, statistics, sys
print(statistics.median(float(r[sys.argv[2]]) for r in csv.DictReader(open(sys.argv[1]))))' "$1" "$2"
}

echo "M4 hourly, first $n series, h = 48; $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); $(date -u +%FT%TZ)"
if [ "${REUSE_R:-0}" != 1 ] || [ ! -s "$out/r_time.txt" ]; then
  /usr/bin/time -f "%U %S" -o "$out/r_time.txt" \
    Rscript "$root/bench/forecast/m4_r.R" "$data" auto.arima "$n" "$out/r.csv" > "$out/r.txt"
fi
r_median=$(median "$out/r.csv" cpu_seconds)
r_cpu=$(awk '{ print $1 + $2 }' "$out/r_time.txt")
printf "%-18s %12s %14s %14s\n" "model" "median s" "process CPU s" "R median / this"
printf "%-18s %12.4f %14.2f %14s\n" "R auto.arima" "$r_median" "$r_cpu" "1"
for m in $models; do
  /usr/bin/time -f "%U %S" -o "$out/tg_${m}_time.txt" \
    "$bin" backtest --dataset m4-hourly --data "$data" --model "$m" --limit "$n" --no-progress \
    --output "$out/tg_$m.csv" > "$out/tg_$m.txt"
  t_median=$(median "$out/tg_$m.csv" seconds)
  t_cpu=$(awk '{ print $1 + $2 }' "$out/tg_${m}_time.txt")
  printf "%-18s %12.4f %14.2f %14.1f\n" "tidegate $m" "$t_median" "$t_cpu" \
    "$(awk -v a="$r_median" -v b="$t_median" 'BEGIN { print a / b }')"
done
cat "$out/r.txt"
