#!/usr/bin/env python3
"""Builds the simulator inputs of isp.sh and alibaba_background.sh from the real traces.

  isp_trace.py ISP_DIR TRACE_OUT [--background ALIBABA_CSV BACKGROUND_OUT]

Foreground: the two ISP series of Cortez et al. (5-minute bits on the EU transatlantic link and the
UK academic backbone) as two request classes, `eu` (tier 0, critical) and `uk` (tier 1), aligned
by index: interval i of both becomes [i * STEP_S, (i + 1) * STEP_S) of simulated time (default
10 s per 5-minute interval, so a simulated day is 2,880 s), the first INTERVALS of them (default
2,240 = 7.8 days, the length of the Alibaba series). Each class's series is scaled so that its
mean over the training period (the first TRAIN intervals, default 1,440 = 5 days) is MEAN_RATE
requests/s (default 20); the trace is per interval (Poisson arrivals at that rate), cost 1.

Background (optional): Alibaba cluster-trace-v2018's whole-cluster mean CPU % per 300 s, row i
becoming the fraction cpu_i / 100 of the server taken from i * STEP_S on.

Prints "PEAK WARMUP_S INTERVALS END_S": PEAK is the largest total foreground rate of an interval,
or with a background the largest rate / (1 - background), i.e. the capacity at which the busiest
interval just fits.
"""
import csv
import os
import sys

STEP_S = float(os.environ.get("STEP_S", 10))
INTERVALS = int(os.environ.get("INTERVALS", 2240))
TRAIN = int(os.environ.get("TRAIN", 1440))
MEAN_RATE = float(os.environ.get("MEAN_RATE", 20))


def series(path):
    values = []
    with open(path) as f:
        rows = csv.reader(f)
        next(rows)  # The header is a description.
        for row in rows:
            if row and row[1].strip():
                values.append(float(row[1]))
    if len(values) < INTERVALS:
        sys.exit(f"{path}: {len(values)} intervals, need {INTERVALS}")
    values = values[:INTERVALS]
    scale = MEAN_RATE / (sum(values[:TRAIN]) / TRAIN)
    return [v * scale for v in values]


def main():
    isp, out = sys.argv[1], sys.argv[2]
    classes = [("eu", 0, series(f"{isp}/internet-traffic-data-in-bits-fr_EU_5m.csv")),
               ("uk", 1, series(f"{isp}/internet-traffic-data-in-bits-fr_UK_5m.csv"))]
    with open(out, "w") as f:
        f.write("time_s,class,tier,rate_per_s,cost,interval_s\n")
        for i in range(INTERVALS):
            for name, tier, values in classes:
                f.write(f"{i * STEP_S:g},{name},{tier},{values[i]:.4f},1,{STEP_S:g}\n")
    total = [sum(c[2][i] for c in classes) for i in range(INTERVALS)]
    if len(sys.argv) > 3:
        if len(sys.argv) != 6 or sys.argv[3] != "--background":
            sys.exit(__doc__)
        with open(sys.argv[4]) as f:
            cpu = [float(r["cpu_util_percent"]) / 100 for r in csv.DictReader(f)]
        if len(cpu) < INTERVALS:
            sys.exit(f"{sys.argv[4]}: {len(cpu)} intervals, need {INTERVALS}")
        with open(sys.argv[5], "w") as f:
            f.write("time_s,fraction\n")
            for i in range(INTERVALS):
                f.write(f"{i * STEP_S:g},{cpu[i]:.6f}\n")
        total = [total[i] / (1 - cpu[i]) for i in range(INTERVALS)]
    print(f"{max(total):.4f} {TRAIN * STEP_S:g} {INTERVALS} {INTERVALS * STEP_S:g}")


main()
