#!/usr/bin/env bash
# Resident memory of tidegated with N configured classes: after start (config loaded, buckets
# built) and after every class has been checked once over HTTP (demand series, usage rows and
# per-class state created), with the embedded store.
#
#   bench/run_memory.sh                 (BUILD_DIR=build/release, CLASSES="10000 100000")
#
# Prints one line per N: RSS at start, RSS after one check per class, and per-class bytes.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/many_classes.sh
BUILD_DIR=${BUILD_DIR:-build/release}
CLASSES=${CLASSES:-"10000 100000"}
TIDEGATED=$BUILD_DIR/src/exe/tidegated
[ -x "$TIDEGATED" ] || { echo "run_memory.sh: $TIDEGATED not built (target tidegated)" >&2; exit 1; }
for c in wrk curl python3; do
  command -v "$c" >/dev/null || { echo "run_memory.sh: $c not found (scripts/deps.sh bench)" >&2; exit 1; }
done

out=$(mktemp -d)
pid=""
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$out"
}
trap cleanup EXIT

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

printf '%-9s %14s %20s %16s %18s\n' classes "RSS at start" "RSS after checks" "bytes per class" \
  "idle CPU (ms/s)"
for n in $CLASSES; do
  rm -rf "$out/data"
  many_classes_config "$n" >"$out/tidegate.yaml"
  start_tidegated "$TIDEGATED" "$out/tidegate.yaml" "$out"
  sleep 2
  start_kib=$(rss_kib "$pid")
  # CPU the idle daemon spends (planning tick, collection, model work) over 10 s without traffic.
  t0=$(awk '{print $14 + $15}' "/proc/$pid/stat")
  sleep 10
  idle_ms=$(( ($(awk '{print $14 + $15}' "/proc/$pid/stat") - t0) * 1000 / $(getconf CLK_TCK) / 10 ))
  # One check per class: each wrk connection walks its own stride of the class list.
  cat >"$out/walk.lua" <<EOF
local n, i = $n, 0
local threads = {}
function setup(thread) thread:set("id", #threads); table.insert(threads, thread) end
function init() i = id end
function request()
  local body = string.format('{"domain":"bench","descriptors":[{"entries":[{"key":"class","value":"c%d"}]}]}', i % n)
  i = i + 2
  return wrk.format("POST", "/v1/check", {["Content-Type"] = "application/json"}, body)
end
EOF
  # Enough requests to visit every class at least once at a few thousand checks per second.
  secs=$(( n / 2000 + 5 ))
  wrk -t2 -c2 -d"${secs}s" -s "$out/walk.lua" "http://127.0.0.1:$port" >"$out/wrk.txt"
  sleep 3
  after_kib=$(rss_kib "$pid")
  awk -v n="$n" -v a="$start_kib" -v b="$after_kib" -v r="$(awk '/requests in/ {print $1}' "$out/wrk.txt")" \
    -v idle="$idle_ms" 'BEGIN {
      printf "%-9s %11.1f MB %17.1f MB %16.0f %18d   (%s checks sent)\n",
        n, a / 1024, b / 1024, b * 1024 / n, idle, r }'
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""
done
