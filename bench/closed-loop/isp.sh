#!/usr/bin/env bash
# Closed-loop experiment on the ISP traffic series (Cortez et al.): the EU transatlantic link
# (tier 0, critical) and the UK academic backbone (tier 1) as two request classes, 5-minute
# intervals compressed to 10 s of simulated time, each scaled to 20 requests/s on average over the
# training period (isp_trace.py says how). The first 5 days train the policies; the next 2.8 days
# are measured. Capacity (requests/s) is 0.7x, 1x and 1.3x the busiest interval's total rate.
#
#   bench/closed-loop/isp.sh [CLOSED_LOOP_SIM] [DATA_DIR]
#
# The series are read at run time into a temporary trace; nothing is copied into the repository.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/levels.sh"
bin=${1:-$here/../../build/release/bench/closed-loop/closed_loop_sim}
data=${2:-$here/../../../shared/data/traffic}
model=${MODEL:-naive}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

read -r peak warmup intervals end < <(python3 "$here/isp_trace.py" "$data/isp_cortez" \
  "$tmp/trace.csv")
echo "ISP trace: 2 classes, $intervals intervals over $end s; peak demand $peak requests/s;"
echo "warm-up (training) $warmup s, test period after it; model '$model'."
run_levels "$bin" "$tmp/trace.csv" requests "$peak" "$warmup" "$tmp" --cost-resource requests \
  --timeout 5 --slo 1 --model "$model" --plan-step 10
