# bench/many_classes.sh — sourced by the benchmarks that run tidegated with many classes.
#   many_classes_config N > tidegate.yaml    N classes `class=c0` ... `class=c<N-1>`, 1000/s each
#   start_tidegated BIN CONFIG DIR           starts BIN on free loopback ports with data in
#                                            DIR/data and its log in DIR/tidegated.log; sets
#                                            `pid` and `port` and returns once /readyz answers

many_classes_config() {
  python3 - "$1" <<'PY'
import sys
n = int(sys.argv[1])
print("domain: bench\ndescriptors:")
for i in range(n):
    print(f"  - key: class\n    value: c{i}\n    rate_limit: {{unit: second, requests_per_unit: 1000}}")
PY
}

start_tidegated() {
  local bin=$1 config=$2 dir=$3
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  "$bin" --config "$config" --data-dir "$dir/data" \
    --http-listen "127.0.0.1:$port" --grpc-listen 127.0.0.1:0 >"$dir/tidegated.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 1200); do
    curl -sf -o /dev/null "http://127.0.0.1:$port/readyz" && return 0
    kill -0 "$pid" 2>/dev/null || { cat "$dir/tidegated.log" >&2; return 1; }
    sleep 0.1
  done
  echo "tidegated did not become ready in 120 s" >&2
  return 1
}
