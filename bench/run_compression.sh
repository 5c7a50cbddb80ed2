#!/usr/bin/env bash
# Size and time of tidegated's largest answers with and without gzip: GET /v1/classes and
# /metrics with N configured classes (default 10000), each fetched RUNS times (default 5) plain and
# with `curl --compressed`; medians of the bytes on the wire and of curl's total time (loopback,
# so the time saved on the wire is near zero and the compression's CPU shows).
#   make release && bench/run_compression.sh [N] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
TIDEGATED=${BUILD_DIR:-build/release}/src/exe/tidegated
[ -x "$TIDEGATED" ] || { echo "run_compression.sh: build first: make release" >&2; exit 1; }
N=${1:-10000}
RUNS=${2:-5}
out=$(mktemp -d)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$out"; }
trap cleanup EXIT

python3 - "$N" >"$out/tidegate.yaml" <<'PY'
import sys
n = int(sys.argv[1])
print("domain: bench\ndescriptors:")
for i in range(n):
    print(f"  - key: class\n    value: c{i}\n    rate_limit: {{unit: second, requests_per_unit: 1000}}")
PY
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$TIDEGATED" --config "$out/tidegate.yaml" --data-dir "$out/data" \
  --http-listen "127.0.0.1:$port" --grpc-listen 127.0.0.1:0 >"$out/tidegated.log" 2>&1 &
pid=$!
for _ in $(seq 1 1200); do
  curl -sf -o /dev/null "http://127.0.0.1:$port/readyz" && break
  kill -0 "$pid" 2>/dev/null || { cat "$out/tidegated.log" >&2; exit 1; }
  sleep 0.1
done

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
