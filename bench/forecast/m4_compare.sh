#!/usr/bin/env bash
# Side-by-side M4 hourly comparison: tidegate backtest vs R forecast (auto.arima, ets) [and
# prophet when r-cran-prophet is installed], same split (fit on Train, score on Test, h = 48),
# same metrics, same machine, one table.
#
#   bench/forecast/m4_compare.sh [DATA_DIR] [LIMIT]
#     DATA_DIR  default ../shared/data/M4-hourly (relative to the repository root)
#     LIMIT     score only the first N series (default 0 = all 414)
#   env: TIDEGATE  path to the tidegate binary (default build/forecast-rel/src/exe/tidegate)
#        MODELS    tidegate models (default "snaive naive2 ets arima auto")
#        R_MODELS  R models (default "auto.arima,ets"; add ",prophet" if installed)
#        CALIBRATE conformal warm-up for tidegate (default 0)
#        OUT       directory for per-series CSVs (default /tmp/tidegate-m4-compare)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
data="${1:-$root/../shared/data/M4-hourly}"
limit="${2:-0}"
bin="${TIDEGATE:-$root/build/forecast-rel/src/exe/tidegate}"
models="${MODELS:-snaive naive2 ets arima auto}"
r_models="${R_MODELS:-auto.arima,ets}"
calibrate="${CALIBRATE:-0}"
out="${OUT:-/tmp/tidegate-m4-compare}"
mkdir -p "$out"

if [ ! -x "$bin" ]; then
  echo "m4_compare: build tidegate first:" >&2
  echo "  cmake -S $root -B $root/build/forecast-rel -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS='-O2 -g'" >&2
  echo "  cmake --build $root/build/forecast-rel -j1 --target tidegate" >&2
  exit 2
fi

echo "M4 hourly, h = 48, 95 % intervals; limit=${limit}; $(nproc) cores; $(date -u +%FT%TZ)"
printf "%-14s %6s %8s %8s %8s %8s %8s %10s\n" model series sMAPE MASE OWA MSIS cover seconds
for m in $models; do
  if ! "$bin" backtest --dataset m4-hourly --data "$data" --model "$m" --limit "$limit" \
      --calibrate "$calibrate" --no-progress --output "$out/tidegate_$m.csv" > "$out/tidegate_$m.txt" 2>&1; then
    echo "tidegate:$m failed: $(tail -1 "$out/tidegate_$m.txt")"
    continue
  fi
  # Row 3 of the backtest output is the model's line; OWA is against the official Naive2.
  awk -v m="tidegate:$m" '
    /^M4 hourly:/ { n = $3 }
    NR == 3 { s = $2; ma = $3; msis = $5; cov = $6; sec = $7 }
    /^OWA vs official/ { split($0, a, ": "); split(a[2], b, ";"); owa = b[1] }
    END { printf "%-14s %6d %8.3f %8.3f %8.3f %8.3f %8.3f %10.2f\n", m, n, s, ma, owa, msis, cov, sec }
  ' "$out/tidegate_$m.txt"
done
if command -v Rscript > /dev/null && Rscript -e 'suppressMessages(library(forecast))' > /dev/null 2>&1; then
  Rscript "$root/bench/forecast/m4_r.R" "$data" "$r_models" "$limit" "$out/r_per_series.csv" | tail -n +2
else
  echo "R forecast not installed (Debian r-cran-forecast): R rows skipped"
fi
