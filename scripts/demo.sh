#!/usr/bin/env bash
# The demo (README: `make demo`). On a fresh Debian machine it installs what is missing, builds the
# release preset, generates two weeks of multi-class usage history, imports it into the embedded
# store, scores one class's history for anomalies, starts tidegated on that store, and sends live
# check traffic — a steady mix, then a flash crowd on `browse` — printing admitted and refused
# requests per class every few seconds. Once the daemon has trained on the imported history it
# prints a class's forecast and plan. Ctrl-C stops everything.
#
#   make demo                          DEMO_DIR=tidegate-demo  DAYS=14  SECONDS_LIVE=0 (forever)
set -euo pipefail
cd "$(dirname "$0")/.."

DEMO_DIR=${DEMO_DIR:-tidegate-demo}
DAYS=${DAYS:-14}
SECONDS_LIVE=${SECONDS_LIVE:-0}
BUILD_DIR=${BUILD_DIR:-build/release}
BIN="$BUILD_DIR/src/exe"

if [ "$BUILD_DIR" = build/release ]; then
  scripts/deps.sh build
  cmake --preset release >/dev/null
  cmake --build --preset release -j "${JOBS:-2}" --target tidegate tidegated
fi

rm -rf "$DEMO_DIR"
mkdir -p "$DEMO_DIR"
echo "demo: generating $DAYS days of usage for 8 classes in 3 tenants ($DEMO_DIR/history.jsonl)"
"$BIN/tidegate" generate --days "$DAYS" --step-s 60 --output "$DEMO_DIR/history.jsonl" \
  --truth "$DEMO_DIR/injected-anomalies.csv"
echo "demo: importing it into the embedded store ($DEMO_DIR/data)"
"$BIN/tidegate" import "$DEMO_DIR/history.jsonl" --data-dir "$DEMO_DIR/data" --step-s 60

# Anomalies in one class's request rate, scored causally, next to what the generator injected.
grep '"class","browse"' "$DEMO_DIR/history.jsonl" |
  sed -E 's/.*"timestamp":"([^"]+)".*"count":([0-9]+).*/\1,\2/' |
  { echo "timestamp,value"; cat; } >"$DEMO_DIR/browse-requests.csv"
"$BIN/tidegate" detect --input "$DEMO_DIR/browse-requests.csv" --kinds \
  --output "$DEMO_DIR/browse-anomalies.csv"
echo "demo: anomalies flagged in shop/browse (injected ones: $DEMO_DIR/injected-anomalies.csv):"
awk -F, 'NR > 1 && $4 == 1 { print "  " $1 "  requests/min " $2 "  " $5 }' \
  "$DEMO_DIR/browse-anomalies.csv" | head -n 12

# The daemon on the embedded store, on a free loopback port (it logs the port it chose).
"$BIN/tidegated" --config examples/tidegate.yaml --data-dir "$DEMO_DIR/data" \
  --http-listen 127.0.0.1:0 --grpc-listen 127.0.0.1:0 >"$DEMO_DIR/tidegated.log" 2>&1 &
DAEMON=$!
TRAFFIC=""
cleanup() {
  if [ -n "$TRAFFIC" ]; then  # The traffic loop and its in-flight curl, before the daemon.
    pkill -P "$TRAFFIC" 2>/dev/null || true
    kill "$TRAFFIC" 2>/dev/null || true
    wait "$TRAFFIC" 2>/dev/null || true
  fi
  kill -TERM "$DAEMON" 2>/dev/null || true
  wait "$DAEMON" 2>/dev/null || true
  echo "demo: stopped (daemon log: $DEMO_DIR/tidegated.log)"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

URL=""
for _ in $(seq 1 100); do
  URL=$(sed -nE 's/.*HTTP listening on (http:[^ ]+).*/\1/p' "$DEMO_DIR/tidegated.log" | head -n 1)
  [ -n "$URL" ] && curl -fsS "${URL}readyz" >/dev/null 2>&1 && break
  kill -0 "$DAEMON" 2>/dev/null || { cat "$DEMO_DIR/tidegated.log"; exit 1; }
  sleep 0.1
done
[ -n "$URL" ] || { echo "demo: tidegated did not start"; cat "$DEMO_DIR/tidegated.log"; exit 1; }
echo "demo: tidegated is serving at $URL"
echo "demo: the dashboard: ${URL}   (open it in a browser; it updates live)"
echo "      try: curl ${URL}v1/classes    curl ${URL}metrics    (API: api/openapi.yaml)"

# Planning: the daemon fits a model per class on the imported history, then plans every bucket
# from the forecast each second.
KEY='shop/class=checkout,op=write'
echo "demo: waiting for the daemon to train on the imported history of $KEY"
MODEL=""
for _ in $(seq 1 300); do
  FORECAST=$(curl -fsS "${URL}v1/classes/${KEY}/forecast?horizon=1h" 2>/dev/null || true)
  MODEL=$(printf '%s' "$FORECAST" | sed -nE 's/.*"model":"([^"]+)".*/\1/p')
  [ -n "$MODEL" ] && break
  sleep 1
done
if [ -n "$MODEL" ]; then
  echo "demo: $KEY forecast by $MODEL; next minute (requests/s, 95 % interval):"
  printf '%s' "$FORECAST" |
    sed -nE 's/.*"forecast":\[\{"lower":([0-9.e+-]+),"mean":([0-9.e+-]+),"t":"([^"]+)","upper":([0-9.e+-]+)\}.*/  \3  mean \2  [\1, \4]/p'
  sleep 2  # A planning tick.
  echo "demo: its plan: $(curl -fsS "${URL}v1/classes/${KEY}/plans" |
    grep -o '"rate_per_s":[0-9.e+-]*,"reason":"[^"]*"' | tail -n 1)"
  echo "      try: curl ${URL}v1/plan    curl '${URL}v1/classes/${KEY}/forecast?horizon=1d'"
  echo "           curl ${URL}v1/anomalies"
else
  echo "demo: no model yet (see $DEMO_DIR/tidegated.log); classes run on their configured limits"
fi

check() {  # check CLASS [OP] -> prints OK or OVER_LIMIT
  local entries="{\"key\":\"class\",\"value\":\"$1\"}"
  [ -n "${2:-}" ] && entries+=",{\"key\":\"op\",\"value\":\"$2\"}"
  curl -fsS -X POST "${URL}v1/check" -H 'Content-Type: application/json' \
    -d "{\"domain\":\"shop\",\"descriptors\":[{\"entries\":[$entries]}]}" |
    sed -nE 's/.*"overall_code":"([A-Z_]+)".*/\1/p'
}

# Live traffic: 20 s of a steady mix, then a flash crowd on browse, repeating.
(
  round=0
  while :; do
    round=$((round + 1))
    declare -A ok=() over=()
    crowd=$(( (round / 4) % 2 ))
    for _ in $(seq 1 40); do
      for class in checkout browse export; do
        n=1
        [ "$class" = browse ] && [ "$crowd" = 1 ] && n=25
        op=""
        [ "$class" = checkout ] && op=write
        [ "$class" = browse ] && op=read
        for _ in $(seq 1 "$n"); do
          r=$(check "$class" "$op")
          if [ "$r" = OK ]; then ok[$class]=$((${ok[$class]:-0} + 1)); else over[$class]=$((${over[$class]:-0} + 1)); fi
        done
      done
    done
    line="demo: $([ "$crowd" = 1 ] && echo 'flash crowd on browse' || echo 'steady traffic       ')"
    for class in checkout browse export; do
      line+="  $class ${ok[$class]:-0} ok / ${over[$class]:-0} refused"
    done
    echo "$line"
  done
) &
TRAFFIC=$!

if [ "$SECONDS_LIVE" -gt 0 ]; then
  sleep "$SECONDS_LIVE"
else
  echo "demo: Ctrl-C to stop"
  wait "$TRAFFIC"
fi
