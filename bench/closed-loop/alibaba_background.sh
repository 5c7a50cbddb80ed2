#!/usr/bin/env bash
# Closed-loop experiment with a background load: the ISP request classes of isp.sh on a server
# that co-located work also uses, the Alibaba cluster-trace-v2018 whole-cluster CPU % per 300 s
# (one row per compressed 5-minute interval), so the capacity left to admission is
# C * (1 - cpu %). No policy admits the background; the predictive policy forecasts it and plans
# against what it leaves. Capacity C is 0.7x, 1x and 1.3x the peak of demand / (1 - background),
# the server at which the busiest interval just fits. 5 days train, the next 2.8 days are measured.
#
#   bench/closed-loop/alibaba_background.sh [CLOSED_LOOP_SIM] [DATA_DIR]
#
# The series are read at run time into temporary files; nothing is copied into the repository.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/levels.sh"
bin=${1:-$here/../../build/release/bench/closed-loop/closed_loop_sim}
data=${2:-$here/../../../shared/data/traffic}
model=${MODEL:-naive}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

read -r peak warmup intervals end < <(python3 "$here/isp_trace.py" "$data/isp_cortez" \
  "$tmp/trace.csv" --background \
  "$data/alibaba2018/machine_usage_days_1_to_8_grouped_300_seconds.csv" "$tmp/background.csv")
echo "ISP classes on an Alibaba-loaded server: $intervals intervals over $end s; peak demand /"
echo "(1 - background) $peak requests/s; warm-up (training) $warmup s; model '$model'."
run_levels "$bin" "$tmp/trace.csv" requests "$peak" "$warmup" "$tmp" --cost-resource requests \
  --background "$tmp/background.csv" --timeout 5 --slo 1 --model "$model" --plan-step 10
