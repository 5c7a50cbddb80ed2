#!/usr/bin/env bash
# Closed-loop experiment on the Azure LLM inference trace (2023): conversation (tier 0, critical)
# and code (tier 1) as two classes, tokens (context + generated) as each request's cost, charged
# to the server's work resource (cpu_ms). The first half of the trace trains the policies (static
# peak, forecaster fit); the second half is measured. Capacity is set to 0.7x, 1x and 1.3x the
# peak demand (tokens/s over PEAK_WINDOW-second windows, default 300; with 10 s windows the trace
# never overloads the server even at 0.7x: it is bursty, its mean is ~1/4 of the 10 s peak), and
# every policy runs on the same server. GEN_WEIGHT (default 1) weighs the generated tokens in the
# cost (a generated token costs more to serve than a prompt token on real servers; a larger weight
# makes the part of the cost unknown at admission larger).
#
#   bench/closed-loop/azure_llm.sh [CLOSED_LOOP_SIM] [DATA_DIR] [simulate flags …]
#
# Each request declares its prompt's tokens (ContextTokens, the trace's known_cost column) at
# admission; its generated tokens are known only when it completes, so the predictive policy's
# borrowing pool is charged the prompt plus the class's running estimate of generated tokens
# (--borrow-cost declared) and settled at completion. Flags after the two arguments go to every
# `simulate` run (e.g. --borrow-cost foresight).
#
# The trace is read at run time and converted into a temporary file; nothing is copied into the
# repository.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/levels.sh"
bin=${1:-$here/../../build/release/bench/closed-loop/closed_loop_sim}
data=${2:-$here/../../../shared/data/traffic/azure_llm_inference_2023}
shift $(($# < 2 ? $# : 2))
model=${MODEL:-naive}
peak_window=${PEAK_WINDOW:-300}  # seconds over which "peak demand" is measured
gen_weight=${GEN_WEIGHT:-1}      # cost = ContextTokens + GEN_WEIGHT x GeneratedTokens
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

python3 - "$data" "$tmp/trace.csv" "$peak_window" "$gen_weight" > "$tmp/meta" <<'PY'
import csv, sys, datetime, collections
data, out, pw, gw = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
rows = []
for name, cls, tier in (("AzureLLMInferenceTrace_conv.csv", "conversation", 0),
                        ("AzureLLMInferenceTrace_code.csv", "code", 1)):
    with open(f"{data}/{name}") as f:
        for r in csv.DictReader(f):
            ts = r["TIMESTAMP"]
            base, frac = (ts.split(".") + ["0"])[:2]
            t = datetime.datetime.strptime(base, "%Y-%m-%d %H:%M:%S").timestamp() + float("0." + frac)
            ctx = int(r["ContextTokens"])
            rows.append((t, cls, tier, ctx + gw * int(r["GeneratedTokens"]), ctx))
rows.sort()
t0 = rows[0][0]
win = collections.Counter()
with open(out, "w") as f:
    f.write("time_s,class,tier,cost,known_cost\n")
    for t, cls, tier, cost, known in rows:
        f.write(f"{t - t0:.6f},{cls},{tier},{cost:.10g},{known}\n")
        win[int((t - t0) // pw)] += cost
end = rows[-1][0] - t0
print(f"{max(win.values()) / pw:.1f} {end / 2:.0f} {len(rows)} {end:.0f}")
PY
read -r peak warmup n end < "$tmp/meta"
echo "Azure LLM trace: $n requests over $end s; peak demand $peak tokens/s ($peak_window s windows);"
echo "warm-up (training) $warmup s, test period after it; model '$model'; cost = context +"
echo "$gen_weight x generated tokens."
run_levels "$bin" "$tmp/trace.csv" cpu_ms "$peak" "$warmup" "$tmp" --cost-resource cpu_ms \
  --timeout 20 --slo 5 --model "$model" --plan-step 10 "$@"
# The predictive policy with other knowledge of the cost at admission, for comparison: the whole
# cost (prompt and generated tokens: a bound no caller reaches) and the class's mean cost.
echo
echo "Predictive with other pool costs (against the same oracle):"
echo "| capacity | policy | critical rejected | critical timed out | critical p99 s | goodput / oracle |"
echo "|---|---|---|---|---|---|"
for mode in foresight mean; do
  run_variant "predictive, --borrow-cost $mode" "$bin" "$tmp/trace.csv" cpu_ms "$peak" "$warmup" \
    "$tmp" --cost-resource cpu_ms --timeout 20 --slo 5 --model "$model" --plan-step 10 "$@" \
    --borrow-cost "$mode"
done
