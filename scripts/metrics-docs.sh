#!/usr/bin/env bash
# Regenerates docs/user/metrics.md from what a running tidegated exposes: it starts the daemon on
# free loopback ports with examples/tidegate.yaml and a temporary data directory, sends a few
# checks (so that per-class families have samples), reads GET /metrics and writes one table row
# per metric family: name, type, labels, help.
#   scripts/metrics-docs.sh [path/to/tidegated]     (default: build/debug/src/exe/tidegated)
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${1:-build/debug/src/exe/tidegated}"
doc=docs/user/metrics.md
[ -x "$bin" ] || { echo "metrics-docs.sh: $bin is not built (cmake --build ... --target tidegated)" >&2; exit 2; }
work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
"$bin" --config examples/tidegate.yaml --data-dir "$work/data" --http-listen 127.0.0.1:0 \
  --grpc-listen 127.0.0.1:0 2>"$work/log" &
pid=$!
url=""
for _ in $(seq 1 300); do
  url=$(sed -n 's|.*HTTP listening on \(http://[^ ]*\)/.*|\1|p' "$work/log" | head -1)
  [ -n "$url" ] && curl -sf "$url/readyz" >/dev/null 2>&1 && break
  sleep 0.1
done
[ -n "$url" ] || { echo "metrics-docs.sh: tidegated did not start:" >&2; cat "$work/log" >&2; exit 1; }
for _ in 1 2 3; do
  curl -sf -X POST "$url/v1/check" -H 'Content-Type: application/json' \
    -d '{"domain":"shop","descriptors":[{"entries":[{"key":"class","value":"checkout"}]}]}' >/dev/null
done
sleep 2  # One planning tick and one Service tick.
curl -sf "$url/metrics" >"$work/metrics"
{
  cat <<'HEAD'
# Metrics reference

Every metric family tidegated exposes at `GET /metrics` (Prometheus text format 0.0.4), generated
from a running daemon by `scripts/metrics-docs.sh`. Per-class families carry `tenant` and `class`
labels (the class's descriptor entries, `key=value,...`); families of the planning loop appear once
a class has a bucket. A `—` in the labels column: the generating run had no sample of that family
(the forecast and anomaly families get theirs once a class has a trained model; they carry
`tenant` and `class`, the anomalies also `kind`). [operations.md](operations.md) says which ones
to watch.

| metric | type | labels | meaning |
|---|---|---|---|
HEAD
  awk '
    /^# HELP / { name = $3; $1 = ""; $2 = ""; $3 = ""; sub(/^ +/, ""); help[name] = $0; order[++n] = name; next }
    /^# TYPE / { type[$3] = $4; next }
    /^[a-z_]/ {
      metric = $0; sub(/[{ ].*/, "", metric)
      base = metric
      if (!(base in help)) { sub(/_(bucket|sum|count)$/, "", base) }
      sampled[base] = 1
      if (match($0, /\{[^}]*\}/)) {
        ls = substr($0, RSTART + 1, RLENGTH - 2)
        m = split(ls, parts, /",/)
        for (i = 1; i <= m; i++) {
          split(parts[i], kv, "=")
          if (!index(labels[base], "`" kv[1] "`")) labels[base] = labels[base] (labels[base] ? ", " : "") "`" kv[1] "`"
        }
      }
    }
    END {
      for (i = 1; i <= n; i++) {
        name = order[i]; h = help[name]; gsub(/\|/, "\\|", h)
        l = labels[name]; if (l == "" && !(name in sampled)) l = "—"
        printf "| `%s` | %s | %s | %s |\n", name, type[name], l, h
      }
    }' "$work/metrics"
} >"$doc.tmp"
mv "$doc.tmp" "$doc"
echo "metrics-docs.sh: wrote $doc ($(grep -c '^| `' "$doc") families)"
