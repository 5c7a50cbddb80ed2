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
preload=$SECONDS
echo "demo: generating $DAYS days of usage for 8 classes in 3 tenants ($DEMO_DIR/history.jsonl)"
"$BIN/tidegate" generate --days "$DAYS" --step-s 60 --output "$DEMO_DIR/history.jsonl" \
  --truth "$DEMO_DIR/injected-anomalies.csv"
echo "demo: importing it into the embedded store ($DEMO_DIR/data)"
"$BIN/tidegate" import "$DEMO_DIR/history.jsonl" --data-dir "$DEMO_DIR/data" --step-s 60
echo "demo: $DAYS days of history generated and imported in $((SECONDS - preload)) s"

# Anomalies in one class's request rate, scored causally, next to what the generator injected.
grep '"class","browse"' "$DEMO_DIR/history.jsonl" |
  sed -E 's/.*"timestamp":"([^"]+)".*"count":([0-9]+).*/\1,\2/' |
  { echo "timestamp,value"; cat; } >"$DEMO_DIR/browse-requests.csv"
"$BIN/tidegate" detect --input "$DEMO_DIR/browse-requests.csv" --kinds \
  --output "$DEMO_DIR/browse-anomalies.csv"
echo "demo: anomalies flagged in shop/browse (injected ones: $DEMO_DIR/injected-anomalies.csv):"
awk -F, 'NR > 1 && $4 == 1 { sub(/\.0+Z$/, "Z", $1); print "  " $1 "  requests/min " $2 "  " $5 }' \
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
trap 'exit 0' INT TERM  # Ctrl-C is how the demo ends: cleanup runs, and it is not an error.

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
  printf '%s\n' "$FORECAST" |
    sed -nE 's/.*"forecast":\[\{"lower":([0-9.e+-]+),"mean":([0-9.e+-]+),"t":"([^"]+)","upper":([0-9.e+-]+)\}.*/\3 \2 \1 \4/p' |
    awk '{ printf "  %s  mean %.1f  [%.1f, %.1f]\n", $1, $2, $3, $4 }'
  sleep 2  # A planning tick.
  curl -fsS "${URL}v1/classes/${KEY}/plans" |
    grep -o '"rate_per_s":[0-9.e+-]*,"reason":"[^"]*"' | tail -n 1 |
    sed -E 's/"rate_per_s":([0-9.e+-]+),"reason":"([^"]*)"/\1 \2/' |
    awk '{ r = $1; $1 = ""; printf "demo: its plan: refill %.1f requests/s (%s)\n", r, substr($0, 2) }'
  echo "      try: curl ${URL}v1/plan    curl '${URL}v1/classes/${KEY}/forecast?horizon=1d'"
  echo "           curl ${URL}v1/anomalies"
else
  echo "demo: no model yet (see $DEMO_DIR/tidegated.log); classes run on their configured limits"
fi

# Live traffic in rounds: 40 requests per class, interleaved, spread over about 5 s (24/s in
# all); from the fourth round on, every other four rounds a flash crowd sends browse 25 times as
# many, as fast as the daemon answers. One curl per round (one kept-alive connection, paced with
# --rate) rather than one process per request, so a loaded machine keeps up.
for class in checkout browse export; do
  case "$class" in
    checkout) entries='{"key":"class","value":"checkout"},{"key":"op","value":"write"}' ;;
    browse) entries='{"key":"class","value":"browse"},{"key":"op","value":"read"}' ;;
    *) entries="{\"key\":\"class\",\"value\":\"$class\"}" ;;
  esac
  printf '{"domain":"shop","descriptors":[{"entries":[%s]}]}' "$entries" >"$DEMO_DIR/check-$class.json"
done
(
  round=0
  while :; do
    round=$((round + 1))
    crowd=$(( (round / 4) % 2 ))
    {
      sep=""
      for _ in $(seq 1 40); do
        for class in checkout browse export; do
          n=1
          [ "$class" = browse ] && [ "$crowd" = 1 ] && n=25
          for _ in $(seq 1 "$n"); do
            printf '%s' "$sep"
            sep=$'next\n'
            printf 'url = "%sv1/check"\nheader = "Content-Type: application/json"\n' "$URL"
            printf 'data-binary = "@%s/check-%s.json"\nwrite-out = "\\n"\n' "$DEMO_DIR" "$class"
            echo "$class" >&3
          done
        done
      done
    } >"$DEMO_DIR/round.curl" 3>"$DEMO_DIR/round.classes"
    total=$(wc -l <"$DEMO_DIR/round.classes")
    rate=$([ "$crowd" = 1 ] && echo 1000/s || echo "$((total * 12))/m")
    # A round cut short by Ctrl-C (the daemon gone) is not reported.
    out=$(curl -s --rate "$rate" -K "$DEMO_DIR/round.curl" |
      paste -d' ' "$DEMO_DIR/round.classes" - |
      awk -v what="$([ "$crowd" = 1 ] && echo 'flash crowd on browse' || echo 'steady traffic       ')" '
        { if (index($0, "\"overall_code\":\"OK\"")) ok[$1]++; else over[$1]++ }
        END {
          line = "demo: " what
          n = split("checkout browse export", classes, " ")
          for (i = 1; i <= n; ++i) {
            c = classes[i]
            line = line sprintf("  %s %d ok / %d refused", c, ok[c], over[c])
          }
          print line
        }') || true
    kill -0 "$DAEMON" 2>/dev/null || break
    echo "$out"
  done
) &
TRAFFIC=$!
echo "demo: live traffic on $URL — watch it on the dashboard; Ctrl-C stops everything"

if [ "$SECONDS_LIVE" -gt 0 ]; then
  sleep "$SECONDS_LIVE"
else
  wait "$TRAFFIC"
fi
