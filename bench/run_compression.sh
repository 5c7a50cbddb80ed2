#!/usr/bin/env bash
# Size and time of tidegated's largest answers with and without gzip: GET /v1/classes and
# /metrics with N configured classes (default 10000), each fetched RUNS times (default 5) plain and
# with `curl --compressed`; medians of the bytes on the wire and of curl's total time (loopback,
# so the time saved on the wire is near zero and the compression's CPU shows).
#   make release && bench/run_compression.sh [N] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/many_classes.sh
TIDEGATED=${BUILD_DIR:-build/release}/src/exe/tidegated
[ -x "$TIDEGATED" ] || { echo "run_compression.sh: build first: make release" >&2; exit 1; }
N=${1:-10000}
RUNS=${2:-5}
out=$(mktemp -d)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$out"; }
trap cleanup EXIT

many_classes_config "$N" >"$out/tidegate.yaml"
start_tidegated "$TIDEGATED" "$out/tidegate.yaml" "$out"

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
printf '%-12s %-6s %14s %12s\n' path mode "bytes" "time (ms)"
for path in /v1/classes /metrics; do
  for mode in plain gzip; do
    flags=()
    [ "$mode" = gzip ] && flags=(--compressed)
    for _ in $(seq 1 "$RUNS"); do
      curl -s "${flags[@]}" -o /dev/null -w '%{size_download} %{time_total}\n' \
        "http://127.0.0.1:$port$path"
    done >"$out/runs.txt"
    bytes=$(awk '{print $1}' "$out/runs.txt" | median)
    ms=$(awk '{print $2 * 1000}' "$out/runs.txt" | median)
    printf '%-12s %-6s %14d %12.1f\n' "$path" "$mode" "$bytes" "$ms"
  done
done
