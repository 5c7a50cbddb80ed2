#!/usr/bin/env bash
# HTTP check throughput: tidegated's POST /v1/check (limits never reached, so every request takes
# the full admission path) against nginx answering `return 204` to the same request, both on
# loopback with keep-alive, measured by wrk in the same run, alternating.
#
#   bench/run_http.sh          (BUILD_DIR=build/release, REPS=3, DURATION=10, CONNECTIONS=64,
#                               WORKERS=2: tidegated --http-threads and nginx worker_processes)
#   BASELINE=/path/to/an/older/tidegated bench/run_http.sh
#                              also runs that binary (label "baseline") in the same alternation,
#                              for before/after comparisons under the same machine load
#
# Prints each run, the median requests/s of each server and the ratio tidegate / nginx (issue 7's
# target: >= 0.7). Needs wrk and nginx (scripts/deps.sh bench).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build/release}
REPS=${REPS:-3}
DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-64}
WORKERS=${WORKERS:-2}
WRK_THREADS=${WRK_THREADS:-2}
BASELINE=${BASELINE:-}
TIDEGATED=$BUILD_DIR/src/exe/tidegated
[ -x "$TIDEGATED" ] || { echo "run_http.sh: $TIDEGATED not built (target tidegated)" >&2; exit 1; }
[ -z "$BASELINE" ] || [ -x "$BASELINE" ] || { echo "run_http.sh: $BASELINE is not executable" >&2; exit 1; }
for c in wrk nginx curl; do
  command -v "$c" >/dev/null || { echo "run_http.sh: $c not found (scripts/deps.sh bench)" >&2; exit 1; }
done

out=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  rm -rf "$out"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
wait_http() {  # $1 = url; waits until it answers
  for _ in $(seq 1 200); do
    curl -s -o /dev/null "$1" && return 0
    sleep 0.05
  done
  echo "run_http.sh: $1 did not answer" >&2
  exit 1
}

# tidegated: one class whose limit is never reached.
cat >"$out/tidegate.yaml" <<'EOF'
domain: bench
descriptors:
  - key: class
    value: api
    rate_limit: {unit: second, requests_per_unit: 1000000000}
EOF
tg_port=$(free_port)
"$TIDEGATED" --config "$out/tidegate.yaml" --data-dir "$out/data" --http-threads "$WORKERS" \
  --http-listen "127.0.0.1:$tg_port" --grpc-listen 127.0.0.1:0 >"$out/tidegated.log" 2>&1 &
pids+=($!)
tg_pid=$!
if [ -n "$BASELINE" ]; then
  bl_port=$(free_port)
  "$BASELINE" --config "$out/tidegate.yaml" --data-dir "$out/data-baseline" \
    --http-threads "$WORKERS" --http-listen "127.0.0.1:$bl_port" --grpc-listen 127.0.0.1:0 \
    >"$out/baseline.log" 2>&1 &
  pids+=($!)
  bl_pid=$!
fi

# nginx: `return 204` for any request, access log off, keep-alive without a request cap.
ng_port=$(free_port)
mkdir -p "$out/nginx"
cat >"$out/nginx/nginx.conf" <<EOF
worker_processes $WORKERS;
pid $out/nginx/nginx.pid;
error_log $out/nginx/error.log;
daemon off;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000000;
  client_body_temp_path $out/nginx/body;
  server {
    listen 127.0.0.1:$ng_port;
    location / { return 204; }
  }
}
EOF
nginx -p "$out/nginx" -c "$out/nginx/nginx.conf" &
pids+=($!)
ng_pid=$!

wait_http "http://127.0.0.1:$tg_port/healthz"
[ -z "$BASELINE" ] || wait_http "http://127.0.0.1:$bl_port/healthz"
wait_http "http://127.0.0.1:$ng_port/"

# The same request to both: an Envoy-style check of one descriptor.
cat >"$out/check.lua" <<'EOF'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"domain":"bench","descriptors":[{"entries":[{"key":"class","value":"api"}]}]}'
EOF
answer=$(curl -s -X POST -H 'Content-Type: application/json' \
  -d '{"domain":"bench","descriptors":[{"entries":[{"key":"class","value":"api"}]}]}' \
  "http://127.0.0.1:$tg_port/v1/check")
case "$answer" in
  *'"overall_code":"OK"'*) ;;
  *) echo "run_http.sh: unexpected check answer: $answer" >&2; exit 1 ;;
esac

cpu_ticks() {  # user + system clock ticks of $1 and its children (nginx's workers)
  local total=0 p
  for p in $1 $(pgrep -P "$1" || true); do
    total=$((total + $(awk '{print $14 + $15}' "/proc/$p/stat")))
  done
  echo "$total"
}

run() {  # $1 = label, $2 = url, $3 = server pid
  local result rps non2xx before after requests
  before=$(cpu_ticks "$3")
  result=$(wrk -t"$WRK_THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency -s "$out/check.lua" "$2")
  after=$(cpu_ticks "$3")
  rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$result")
  requests=$(awk '/requests in/ {print $1}' <<<"$result")
  # Server CPU per request: independent of how much of the machine the server got.
  local cpu_us
  cpu_us=$(awk -v t=$((after - before)) -v hz="$(getconf CLK_TCK)" -v n="$requests" \
    'BEGIN {printf "%.1f", t / hz * 1e6 / n}')
  non2xx=$(awk '/Non-2xx/ {print $NF}' <<<"$result")
  local p50 p99
  p50=$(awk '$1 == "50%" {print $2}' <<<"$result")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$result")
  echo "label=$1 rps=$rps cpu_us_per_request=$cpu_us p50=$p50 p99=$p99 non2xx=${non2xx:-0}" | tee -a "$out/results.txt"
}

echo "# wrk -t$WRK_THREADS -c$CONNECTIONS -d${DURATION}s, $REPS runs per server (alternating), $WORKERS server workers"
for _ in $(seq 1 "$REPS"); do
  run nginx "http://127.0.0.1:$ng_port/v1/check" "$ng_pid"
  run tidegate "http://127.0.0.1:$tg_port/v1/check" "$tg_pid"
  [ -z "$BASELINE" ] || run baseline "http://127.0.0.1:$bl_port/v1/check" "$bl_pid"
done

median() {  # $1 = label, $2 = field
  grep "label=$1 " "$out/results.txt" | sed "s/.* $2=\([0-9.]*\).*/\1/" | sort -g \
    | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'
}
ng=$(median nginx rps)
tg=$(median tidegate rps)
ng_cpu=$(median nginx cpu_us_per_request)
tg_cpu=$(median tidegate cpu_us_per_request)
awk -v n="$ng" -v t="$tg" -v nc="$ng_cpu" -v tc="$tg_cpu" 'BEGIN {
  printf "\nmedian requests/s: nginx %.0f  tidegate %.0f  ratio tidegate/nginx %.3f (target >= 0.7)\n",
    n, t, t / n
  printf "median server CPU per request: nginx %.1f us  tidegate %.1f us  ratio nginx/tidegate %.3f\n",
    nc, tc, nc / tc }'
if [ -n "$BASELINE" ]; then
  bl=$(median baseline rps)
  bl_cpu=$(median baseline cpu_us_per_request)
  awk -v n="$ng" -v b="$bl" -v bc="$bl_cpu" 'BEGIN {
    printf "baseline (%s): median requests/s %.0f, ratio baseline/nginx %.3f, CPU per request %.1f us\n",
      ENVIRON["BASELINE"], b, b / n, bc }'
fi
