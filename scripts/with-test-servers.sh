#!/usr/bin/env bash
# Runs a command with the integration-test servers up, then stops them whatever happens.
#   scripts/with-test-servers.sh ctest --preset debug -L integration
#
# Each server listens on a free loopback port, keeps its data and config in one temporary
# directory, and is stopped (and the directory removed) on every exit path: normal exit, a failing
# command, Ctrl-C, SIGTERM. The command's exit status is the script's exit status.
#
# Exported to the command:
#   TIDEGATE_TEST_SERVERS=1
#   TIDEGATE_TEST_PROMETHEUS_URL      http://127.0.0.1:PORT of Prometheus
#   TIDEGATE_TEST_PROMETHEUS_SD_FILE  a file_sd_configs JSON file Prometheus watches (re-read every
#                                     second): write [{"targets":["127.0.0.1:PORT"],"labels":{..}}]
#                                     to have a target the test serves scraped every second
#   TIDEGATE_TEST_INFLUXDB_URL        http://127.0.0.1:PORT of InfluxDB 1.x (no auth)
#   TIDEGATE_TEST_ALERTMANAGER_URL    http://127.0.0.1:PORT of Alertmanager (API v2, clustering off)
#
# A server whose binary is missing, or that is not ready within TIDEGATE_TEST_SERVER_TIMEOUT_S
# (default 30) seconds, is an error: the script prints why and the server's log, and exits 1
# without running the command. `scripts/deps.sh test` installs the packages.
#
# Adding a server: write a start_<name> function that picks a port with free_port, launches the
# server in the background with launch (which records it for cleanup), registers its readiness
# probe with expect_ready, and exports its variables; then add its name to SERVERS. All servers
# start at once and are then awaited together, so startup costs the slowest server, not the sum.
set -euo pipefail
cd "$(dirname "$0")/.."

SERVERS=(prometheus influxdb alertmanager)
READY_TIMEOUT_S="${TIDEGATE_TEST_SERVER_TIMEOUT_S:-30}"

WORK_DIR="$(mktemp -d "${TMPDIR:-/tmp}/tidegate-test-servers.XXXXXX")"
PIDS=()

CHILD_PID=""
cleanup() {
  local pid
  if [ -n "$CHILD_PID" ]; then
    kill -TERM "$CHILD_PID" 2>/dev/null || true
    wait "$CHILD_PID" 2>/dev/null || true
  fi
  for pid in "${PIDS[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    # Up to 5 s for a clean shutdown, then SIGKILL.
    local i
    for ((i = 0; i < 50; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$WORK_DIR"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

die() {
  echo "with-test-servers: $*" >&2
  exit 1
}

# Prints a loopback TCP port that no socket uses: a random port in [20000, 60999] that is absent
# from /proc/net/tcp{,6} (any state) and that nothing answers on. Pure bash, no interpreter start-up
# (a pyenv python3 shim alone can take seconds on a loaded machine). A port already handed out by
# this script is never returned twice. The window between the check and the server's bind is
# tiny; a lost race shows up as that server failing to start, with its log.
USED_PORTS=" "
free_port() {
  local port taken=" " _sl local_address _rest
  for f in /proc/net/tcp /proc/net/tcp6; do
    [ -r "$f" ] || continue
    while read -r _sl local_address _rest; do
      [[ "$local_address" == *:* ]] && taken+="$((16#${local_address##*:})) "
    done <"$f"
  done
  for _ in $(seq 1 200); do
    port=$((20000 + (RANDOM * 32768 + RANDOM) % 41000))
    [[ "$taken" == *" $port "* || "$USED_PORTS" == *" $port "* ]] && continue
    # Something answers on it: taken.
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then continue; fi
    USED_PORTS+="$port "
    echo "$port"
    return 0
  done
  die "could not find a free loopback port"
}

# launch NAME LOG CMD...: starts CMD in the background with its output in LOG; records the pid.
launch() {
  local name="$1" log="$2"
  shift 2
  command -v "$1" >/dev/null 2>&1 ||
    die "$name: '$1' not found (install it with: scripts/deps.sh test)"
  "$@" >"$log" 2>&1 &
  PIDS+=("$!")
  LAST_PID="$!"
}

# expect_ready NAME PID URL LOG: registers a readiness probe: URL must answer 2xx.
READY_CHECKS=()
expect_ready() {
  READY_CHECKS+=("$1|$2|$3|$4")
}

# Polls every registered probe until all pass; fails with the server's log if a server exits or
# READY_TIMEOUT_S passes.
wait_all_ready() {
  local deadline=$((SECONDS + READY_TIMEOUT_S)) pending check name pid url log
  while :; do
    pending=()
    for check in "${READY_CHECKS[@]}"; do
      IFS='|' read -r name pid url log <<<"$check"
      if ! kill -0 "$pid" 2>/dev/null; then
        echo "with-test-servers: $name exited before becoming ready; its log ($log):" >&2
        tail -n 40 "$log" >&2 || true
        exit 1
      fi
      if ! curl -fsS -o /dev/null --max-time 1 "$url" 2>/dev/null; then
        pending+=("$check")
      fi
    done
    READY_CHECKS=("${pending[@]+"${pending[@]}"}")
    ((${#READY_CHECKS[@]} == 0)) && return 0
    if ((SECONDS >= deadline)); then
      IFS='|' read -r name pid url log <<<"${READY_CHECKS[0]}"
      echo "with-test-servers: $name not ready at $url after ${READY_TIMEOUT_S}s; its log ($log):" >&2
      tail -n 40 "$log" >&2 || true
      exit 1
    fi
    sleep 0.1
  done
}

start_prometheus() {
  local dir="$WORK_DIR/prometheus" port
  mkdir -p "$dir/data"
  port="$(free_port)"
  echo '[]' >"$dir/targets.json"
  cat >"$dir/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: tidegate-test
    file_sd_configs:
      - files: ['$dir/targets.json']
        refresh_interval: 1s
EOF
  launch prometheus "$dir/log" prometheus \
    --config.file="$dir/prometheus.yml" \
    --storage.tsdb.path="$dir/data" \
    --web.listen-address="127.0.0.1:$port" \
    --web.enable-admin-api \
    --log.level=warn
  expect_ready prometheus "$LAST_PID" "http://127.0.0.1:$port/-/ready" "$dir/log"
  export TIDEGATE_TEST_PROMETHEUS_URL="http://127.0.0.1:$port"
  export TIDEGATE_TEST_PROMETHEUS_SD_FILE="$dir/targets.json"
}

start_influxdb() {
  local dir="$WORK_DIR/influxdb" http_port rpc_port
  mkdir -p "$dir"
  http_port="$(free_port)"
  rpc_port="$(free_port)"
  cat >"$dir/influxdb.conf" <<EOF
reporting-disabled = true
bind-address = "127.0.0.1:$rpc_port"
[meta]
  dir = "$dir/meta"
[data]
  dir = "$dir/data"
  wal-dir = "$dir/wal"
  query-log-enabled = false
[monitor]
  store-enabled = false
[http]
  enabled = true
  bind-address = "127.0.0.1:$http_port"
  auth-enabled = false
  log-enabled = false
[logging]
  level = "warn"
EOF
  launch influxdb "$dir/log" influxd run -config "$dir/influxdb.conf"
  expect_ready influxdb "$LAST_PID" "http://127.0.0.1:$http_port/ping" "$dir/log"
  export TIDEGATE_TEST_INFLUXDB_URL="http://127.0.0.1:$http_port"
}

start_alertmanager() {
  local dir="$WORK_DIR/alertmanager" port bin
  mkdir -p "$dir/data"
  port="$(free_port)"
  # Debian installs the binary as prometheus-alertmanager; upstream names it alertmanager.
  bin=prometheus-alertmanager
  command -v "$bin" >/dev/null 2>&1 || bin=alertmanager
  # One receiver that goes nowhere: the tests read alerts back through the API.
  cat >"$dir/alertmanager.yml" <<EOF
route:
  receiver: blackhole
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: blackhole
EOF
  launch alertmanager "$dir/log" "$bin" \
    --config.file="$dir/alertmanager.yml" \
    --storage.path="$dir/data" \
    --web.listen-address="127.0.0.1:$port" \
    --cluster.listen-address= \
    --log.level=warn
  expect_ready alertmanager "$LAST_PID" "http://127.0.0.1:$port/-/ready" "$dir/log"
  export TIDEGATE_TEST_ALERTMANAGER_URL="http://127.0.0.1:$port"
}

[ $# -gt 0 ] || die "usage: scripts/with-test-servers.sh COMMAND [ARGS...]"
command -v curl >/dev/null 2>&1 || die "curl not found (it probes server readiness)"

for server in "${SERVERS[@]}"; do
  "start_$server"
done
wait_all_ready
export TIDEGATE_TEST_SERVERS=1

# Not exec: the trap must run after the command to stop the servers. In the background plus
# `wait` so that a signal to this script is handled at once (and forwarded to the command) rather
# than after the command ends; `<&0` keeps the caller's stdin.
set +e
"$@" <&0 &
CHILD_PID=$!
wait "$CHILD_PID"
status=$?
CHILD_PID=""
set -e
exit "$status"
