#!/usr/bin/env bash
# gRPC ShouldRateLimit throughput and latency: tidegate's RlsService (the real core; limits never
# reached, so every call takes the full admission path) against the null service built from the
# same proto, behind the same server wrapper, measured in the same run by the same load generator.
#
#   bench/run_server.sh                 (BUILD_DIR=build/release, REPS=3, DURATION=5, CONCURRENCY=64)
#
# 1. Closed loop, CONCURRENCY calls in flight: maximum throughput of each service, median of REPS
#    alternating runs, and the ratio tidegate / null (issue 7's target: >= 0.8).
# 2. Open loop at 50 % and 90 % of each service's own maximum: p50 / p99 latency.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build/release}
REPS=${REPS:-3}
DURATION=${DURATION:-5}
CONCURRENCY=${CONCURRENCY:-64}
CHANNELS=${CHANNELS:-4}
SERVER=$BUILD_DIR/bench/server/rls_bench_server
LOAD=$BUILD_DIR/bench/server/rls_load
for b in "$SERVER" "$LOAD"; do
  [ -x "$b" ] || { echo "run_server.sh: $b not built (targets rls_bench_server, rls_load)" >&2; exit 1; }
done
out=$(mktemp -d)
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$out"
}
trap cleanup EXIT

start_server() {  # $1 = tidegate|null; sets server_pid and address
  "$SERVER" --service="$1" --listen=127.0.0.1:0 >"$out/server.addr" 2>"$out/server.err" &
  server_pid=$!
  for _ in $(seq 1 200); do
    [ -s "$out/server.addr" ] && break
    kill -0 "$server_pid" 2>/dev/null || { cat "$out/server.err" >&2; exit 1; }
    sleep 0.05
  done
  address=$(head -n1 "$out/server.addr")
}
stop_server() {
  kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=""
}

run() {  # $1 = service, rest = rls_load flags
  local svc=$1; shift
  start_server "$svc"
  "$LOAD" --target="$address" --label="$svc" --duration="$DURATION" --channels="$CHANNELS" "$@" \
    | tee -a "$out/results.txt"
  stop_server
}

echo "# closed loop, concurrency $CONCURRENCY, $REPS x ${DURATION}s per service (alternating)"
for rep in $(seq 1 "$REPS"); do
  for svc in null tidegate; do run "$svc" --concurrency="$CONCURRENCY"; done
done

max_rps() {  # median closed-loop throughput of $1
  grep "label=$1 mode=closed" "$out/results.txt" | sed 's/.*throughput_rps=\([0-9.]*\).*/\1/' \
    | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'
}
null_max=$(max_rps null)
tg_max=$(max_rps tidegate)

echo "# open loop at 50 % and 90 % of each service's maximum"
for pct in 50 90; do
  for svc in null tidegate; do
    max=$null_max; [ "$svc" = tidegate ] && max=$tg_max
    rate=$(awk -v m="$max" -v p="$pct" 'BEGIN {printf "%.0f", m * p / 100}')
    run "$svc" --rate="$rate" --concurrency=$((CONCURRENCY * 4)) | sed "s/^/load=$pct% /"
  done
done

python3 - "$out/results.txt" "$null_max" "$tg_max" <<'PY'
import re, sys
path, null_max, tg_max = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
rows = [dict(kv.split("=", 1) for kv in line.split()) for line in open(path) if "label=" in line]
print()
print(f"max throughput (median, closed loop): null {null_max:,.0f}/s  tidegate {tg_max:,.0f}/s  "
      f"ratio tidegate/null {tg_max / null_max:.3f} (target >= 0.8)")
print(f"{'service':10} {'load':>6} {'rate/s':>9} {'p50 us':>8} {'p99 us':>8} {'skipped':>8} {'errors':>7}")
for r in rows:
    if r["mode"] != "open":
        continue
    m = null_max if r["label"] == "null" else tg_max
    pct = round(100 * float(r["rate"]) / m)
    print(f"{r['label']:10} {pct:>5}% {float(r['rate']):>9,.0f} {float(r['p50_us']):>8.0f} "
          f"{float(r['p99_us']):>8.0f} {r['skipped']:>8} {r['errors']:>7}")
PY
