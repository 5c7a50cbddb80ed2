#!/usr/bin/env bash
# Admission benchmarks, side by side: tidegate vs a mutex token bucket (same binary, same run) and
# Guava's RateLimiter (JVM, same script). Prints medians of REPS repetitions and the ratios.
#   make release && bench/run_shaping.sh            (REPS=7 by default)
set -euo pipefail
cd "$(dirname "$0")/.."
REPS=${REPS:-7}
BIN=${BUILD_DIR:-build/release}/bench/micro/shaping_bench
[ -x "$BIN" ] || { echo "run_shaping.sh: build first: make release" >&2; exit 1; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

"$BIN" --benchmark_repetitions="$REPS" --benchmark_report_aggregates_only=true \
  --benchmark_min_time=0.3 --benchmark_format=json >"$out/tidegate.json" 2>/dev/null

guava_jar=$(ls /usr/share/java/guava.jar 2>/dev/null || true)
if [ -n "$guava_jar" ] && command -v javac >/dev/null; then
  javac -d "$out" -cp "$guava_jar" bench/peers/GuavaRateLimiterBench.java
  java -cp "$out:$guava_jar" GuavaRateLimiterBench "$REPS" >"$out/guava.txt"
fi

python3 - "$out" <<'PY'
import json, statistics, sys, os
out = sys.argv[1]
data = json.load(open(os.path.join(out, "tidegate.json")))
med = {}
for b in data["benchmarks"]:
    if b.get("aggregate_name") == "median":
        name = b["run_name"]
        med[name] = b
def ns(name):  # real or cpu time per item, ns
    b = med[name]
    return b["real_time"] if "UseRealTime" in name or "real_time" in name else b["cpu_time"]
def ips(name):
    return med[name]["items_per_second"]
guava = None
gpath = os.path.join(out, "guava.txt")
if os.path.exists(gpath):
    vals = [float(l.split()[1]) for l in open(gpath) if l.startswith("guava_tryacquire_ns")]
    guava = statistics.median(vals)
print(f"machine: {os.cpu_count()} cores; medians of repetitions; ns per decision (lower is better)")
rows = [
  ("one class, one thread, time passed in", "BM_Tidegate_OneClass", "BM_Mutex_OneClass"),
  ("one class, reading the real clock", "BM_Tidegate_OneClass_RealClock", None),
  ("three-level hierarchy", "BM_Tidegate_ThreeLevels", "BM_Mutex_ThreeLevels"),
]
print(f"{'case':45s} {'tidegate ns':>12s} {'mutex ns':>10s} {'mutex/tg':>9s}")
for label, tg, mx in rows:
    t = 1e9 / ips(tg)
    m = 1e9 / ips(mx) if mx else None
    print(f"{label:45s} {t:12.2f} {m if m else float('nan'):10.2f} {(m / t) if m else float('nan'):9.2f}")
if guava:
    t = 1e9 / ips("BM_Tidegate_OneClass_RealClock")
    print(f"{'Guava RateLimiter.tryAcquire (JVM, real clock)':45s} {guava:12.2f}   guava/tidegate(real clock) = {guava / t:.2f}")
print()
print("throughput, decisions/s (items_per_second, all threads)")
for base in ["ThreadsOwnClass", "ThreadsSameClass"]:
    for impl in ["Tidegate", "Mutex"]:
        one = ips(f"BM_{impl}_{base}/real_time/threads:1")
        two = ips(f"BM_{impl}_{base}/real_time/threads:2")
        print(f"  {impl:9s} {base:17s} 1 thread {one/1e6:8.1f} M/s   2 threads {two/1e6:8.1f} M/s   scaling {two/one:5.2f}x")
q = ips("BM_Tidegate_DecideWhileReplanning/0/real_time")
r = ips("BM_Tidegate_DecideWhileReplanning/1/real_time")
replans = med["BM_Tidegate_DecideWhileReplanning/1/real_time"].get("replans", float("nan"))
print(f"  decisions while replanning ~1,000/s: {r/1e6:.1f} M/s vs {q/1e6:.1f} M/s quiet: change {100*(r-q)/q:+.1f} % ({replans:.0f} replans in the run)")
print(f"  hot state per class: {med['BM_Tidegate_OneClass']['bucket_bytes']:.0f} bytes (sizeof TokenBucket)")
PY
