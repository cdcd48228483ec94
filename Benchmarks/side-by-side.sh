#!/usr/bin/env bash
# Runs the workloads both implementations have, alternating this project's opslog-bench and a
# reference harness process by process, and prints each side's median and the ratio measured in
# this one run on this one machine: the only kind of ratio Docs/BENCHMARKS.md counts.
#
#   (cd Benchmarks/reference && npm install opslog@0.8.1)
#   REFERENCE='node Benchmarks/reference/bench.mjs' Benchmarks/side-by-side.sh
#   REFERENCE='node Benchmarks/reference/bench.mjs' RUNS=3 ONLY=query,write-group Benchmarks/side-by-side.sh
#
# REFERENCE is a command that takes opslog-bench's arguments (WORKLOAD [--records N] [--ops N]
# [--dir DIR]) and prints the same one JSON line (Docs/BENCHMARKS.md): Benchmarks/reference/
# bench.mjs is that harness for opslog for Node (OPSLOG_REFERENCE=path/to/index.js for another
# build of it); nothing of the reference itself is part of this repository. open, compact and
# query of both sides read one store, made by opslog-bench prepare (the format is shared,
# Docs/FORMAT.md).
#
# Environment: REFERENCE (required), RUNS (5), RECORDS (200000), OPS (20000), ONLY
# (comma-separated workloads), RAW (a file that receives every JSON line).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
: "${REFERENCE:?set REFERENCE to the reference harness command, e.g. REFERENCE='node Benchmarks/reference/bench.mjs'}"
swift build -c release --package-path "$here" >&2
export OPSLOG_BENCH_BIN="$(swift build -c release --package-path "$here" --show-bin-path)/opslog-bench"
export OPSLOG_BENCHMARKS_DIR="$here"
exec python3 - "$@" <<'PY'
import os, shlex, shutil, statistics, sys, time
sys.dont_write_bytecode = True  # no __pycache__ beside the scripts
sys.path.insert(0, os.environ["OPSLOG_BENCHMARKS_DIR"])
from harness import TARGET, log, measure, run

SWIFT = [os.environ["OPSLOG_BENCH_BIN"]]
REFERENCE = shlex.split(os.environ["REFERENCE"])
RUNS = int(os.environ.get("RUNS", "5"))
RECORDS = int(os.environ.get("RECORDS", "200000"))
OPS = int(os.environ.get("OPS", "20000"))
ONLY = set(filter(None, os.environ.get("ONLY", "").split(",")))

# (workload, what is compared: "time" = seconds, lower is better; "rate" = ops/s, higher is better; target)
WORKLOADS = [(workload, kind.split("+")[0], factor) for workload, (kind, factor) in TARGET.items()]
chosen = [w for w in WORKLOADS if not ONLY or w[0] in ONLY]
store = None
try:
    if any(w[0] in ("open", "compact", "query") for w in chosen):
        log(f"prepare {RECORDS} records + {OPS} WAL ops")
        store = run(SWIFT, "prepare", "--records", RECORDS, "--ops", OPS)
    rows = []
    for workload, kind, target in chosen:
        args = ["--dir", store] if workload in ("open", "compact", "query") else ["--records", RECORDS, "--ops", OPS]
        sides = {"swift": [], "reference": []}
        for run in range(RUNS):
            # Alternate which side goes first, so that neither always runs on a warmer machine.
            order = [("reference", REFERENCE), ("swift", SWIFT)] if run % 2 == 0 else [("swift", SWIFT), ("reference", REFERENCE)]
            for side, command in order:
                sides[side].append(measure(command, workload, *args))
        key = "seconds" if kind == "time" else "opsPerSecond"
        s = [r[key] for r in sides["swift"]]
        ref = [r[key] for r in sides["reference"]]
        # Per-run ratios of the pairs, and the ratio of the medians.
        pairs = sorted(a / b for a, b in zip(s, ref))
        rss = statistics.median(r["peakRSSBytes"] for r in sides["swift"]) / statistics.median(r["peakRSSBytes"] for r in sides["reference"])
        log(f"{workload}: swift {[round(x, 4) for x in s]} reference {[round(x, 4) for x in ref]}")
        rows.append((workload, kind, target, s, ref, pairs, rss))
    print(f"\n### Side by side, {RUNS} alternating runs each ({RECORDS:,} records, {OPS:,} ops), {time.strftime('%Y-%m-%d')}\n")
    print("| workload | opslog-bench median (min–max) | reference median (min–max) | ratio of medians | per-pair ratios | peak RSS ratio | target |")
    print("| --- | ---: | ---: | ---: | --- | ---: | --- |")
    for workload, kind, target, s, ref, pairs, rss in rows:
        fmt = (lambda x: f"{x:.3f} s") if kind == "time" else (lambda x: f"{x:,.0f} ops/s")
        ratio = statistics.median(s) / statistics.median(ref)
        goal = f"≤ {target}× time" if kind == "time" else f"≥ {target}× ops/s"
        if TARGET[workload][0] == "time+rss": goal += " and RSS"
        print(f"| {workload} | {fmt(statistics.median(s))} ({fmt(min(s))}–{fmt(max(s))}) | {fmt(statistics.median(ref))} ({fmt(min(ref))}–{fmt(max(ref))}) | {ratio:.2f}× | {pairs[0]:.2f}–{pairs[-1]:.2f}× | {rss:.2f}× | {goal} |")
finally:
    if store: shutil.rmtree(store, ignore_errors=True)
    log("done")
PY
