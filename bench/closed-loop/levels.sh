# Shared by the closed-loop experiments (azure_llm.sh, isp.sh, alibaba_background.sh); source it.
#
#   run_levels BIN TRACE RESOURCE PEAK WARMUP OUTDIR [extra `simulate` flags …]
#
# Runs every policy at capacity RESOURCE = 0.7x, 1.0x and 1.3x PEAK, printing each level's table, then a summary per level against the issue's
# targets:
#   * critical tier (tier 0) rejections of predictive <= 50 % of the best reactive policy's
#     (AIMD or gradient, whichever rejects fewer critical requests), at a critical p99 no higher;
#   * total goodput of predictive >= 95 % of the oracle's.
run_levels() {
  local bin=$1 trace=$2 resource=$3 peak=$4 warmup=$5 out=$6
  shift 6
  local k cap
  for k in 0.7 1.0 1.3; do
    cap=$(python3 -c "print(f'{$peak * $k:.6g}')")
    echo
    echo "=== capacity ${k}x peak = $cap ==="
    nice "$bin" simulate --trace "$trace" --capacity "$resource=$cap" --policy all \
      --warmup "$warmup" --json "$out/result_$k.json" "$@"
  done
  echo
  summarise_levels "$out"
}

# The summary table (markdown) of run_levels' JSON files.
summarise_levels() {
  python3 - "$1" <<'PY'
import json, sys
out = sys.argv[1]
print("| capacity | policy | critical rejected | critical timed out | critical p99 s | goodput / oracle |")
print("|---|---|---|---|---|---|")
verdicts = []
for k in ("0.7", "1.0", "1.3"):
    with open(f"{out}/result_{k}.json") as f:
        pol = {p["policy"]: p for p in json.load(f)["policies"]}
    crit = {n: next(t for t in p["tiers"] if t["tier"] == 0) for n, p in pol.items()}
    good = {n: p["total"]["good"] for n, p in pol.items()}
    for i, n in enumerate(("static", "aimd", "gradient", "predictive", "oracle")):
        c = crit[n]
        print(f"| {k + 'x' if i == 0 else ''} | {n} | {c['rejected']:,} | {c['timed_out']:,} | "
              f"{c['p99_s']:.2f} | {good[n] / max(1, good['oracle']):.3f} |")
    best = min(("aimd", "gradient"), key=lambda n: (crit[n]["rejected"], crit[n]["p99_s"]))
    b, p = crit[best], crit["predictive"]
    fewer = 1 - p["rejected"] / b["rejected"] if b["rejected"] else (0.0 if p["rejected"] else None)
    rej_ok = (p["rejected"] <= 0.5 * b["rejected"]) if b["rejected"] else p["rejected"] == 0
    p99_ok = p["p99_s"] <= b["p99_s"]
    ratio = good["predictive"] / max(1, good["oracle"])
    verdicts.append(
        f"{k}x: best reactive = {best} ({b['rejected']:,} critical rejections, p99 {b['p99_s']:.2f} s); "
        f"predictive {p['rejected']:,} ({'n/a' if fewer is None else f'{100 * fewer:.0f} % fewer'}), "
        f"p99 {p['p99_s']:.2f} s -> rejections target {'MET' if rej_ok else 'NOT met'}, "
        f"p99 {'MET' if p99_ok else 'NOT met'}; goodput {100 * ratio:.1f} % of oracle -> "
        f"{'MET' if ratio >= 0.95 else 'NOT met'}")
print()
print("\n".join(verdicts))
PY
}

# Runs the predictive policy alone with extra flags at the three levels, after run_levels (whose
# oracle it is measured against), and prints one labelled row per level:
#
#   run_variant LABEL BIN TRACE RESOURCE PEAK WARMUP OUTDIR [extra `simulate` flags …]
run_variant() {
  local label=$1 bin=$2 trace=$3 resource=$4 peak=$5 warmup=$6 out=$7
  shift 7
  local k cap
  for k in 0.7 1.0 1.3; do
    cap=$(python3 -c "print(f'{$peak * $k:.6g}')")
    nice "$bin" simulate --trace "$trace" --capacity "$resource=$cap" --policy predictive \
      --warmup "$warmup" --json "$out/variant_$k.json" "$@" > /dev/null
  done
  python3 - "$out" "$label" <<'PY'
import json, sys
out, label = sys.argv[1], sys.argv[2]
for k in ("0.7", "1.0", "1.3"):
    with open(f"{out}/result_{k}.json") as f:
        oracle = next(p for p in json.load(f)["policies"] if p["policy"] == "oracle")
    with open(f"{out}/variant_{k}.json") as f:
        p = json.load(f)["policies"][0]
    c = next(t for t in p["tiers"] if t["tier"] == 0)
    print(f"| {k}x | {label} | {c['rejected']:,} | {c['timed_out']:,} | {c['p99_s']:.2f} | "
          f"{p['total']['good'] / max(1, oracle['total']['good']):.3f} |")
PY
}
