#!/usr/bin/env bash
# NAB (the dev subset in ../shared/data/NAB-dev): tidegate's conformal detector beside the classic
# windowed-Gaussian baseline, all three profiles, thresholds chosen per detector and profile.
#   make release && bench/run_nab.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BUILD_DIR:-build/release}/bench/anomaly/nab_run
DATA=${NAB_DATA:-../shared/data/NAB-dev}
[ -x "$BIN" ] || { echo "run_nab.sh: build first: make release" >&2; exit 1; }
"$BIN" --data "$DATA" --detectors conformal,windowed_gaussian
