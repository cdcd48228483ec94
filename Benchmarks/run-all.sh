#!/usr/bin/env bash
# Runs every opslog-bench workload of Docs/BENCHMARKS.md in release mode, each RUNS times as a
# separate process, and prints Markdown tables: for each workload the median with the spread
# over the runs (min-max, and (max - min) / median), the ratio against the reference's
# side-by-side figures of 2026-12-02 (Docs/BENCHMARKS.md, a range where that run gave one) and
# the target; then the cost curves (open and compact at 50k, 200k and 800k records,
# write-immediate with 20k and 800k records preloaded).
#
#   Benchmarks/run-all.sh                # build, run everything (about 15-20 min), print tables
#   RUNS=3 DURABLE_OPS=5000 Benchmarks/run-all.sh   # quicker
#   ONLY=query,open CURVE=0 Benchmarks/run-all.sh   # some workloads only
#
# The reference's speed varies by machine and by day (Docs/BENCHMARKS.md): a ratio computed
# here holds for this machine only if the reference ran on it too, side by side.
#
# Environment: RUNS (5), RECORDS (200000), OPS (20000), DURABLE_OPS (OPS; durable-1 at
# ~300 fsyncs/s takes OPS/300 s per run), CURVE (1: also the cost curves), ONLY (comma-separated
# workloads of the first table; default all), RAW (a file that receives every JSON line).
# Progress goes to stderr, the tables to stdout.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
swift build -c release --package-path "$here" >&2
bin="$(swift build -c release --package-path "$here" --show-bin-path)/opslog-bench"
export OPSLOG_BENCH_BIN="$bin"
export OPSLOG_BENCHMARKS_DIR="$here"
exec python3 - "$@" <<'PY'
import os, shutil, statistics, sys
sys.dont_write_bytecode = True  # no __pycache__ beside the scripts
sys.path.insert(0, os.environ["OPSLOG_BENCHMARKS_DIR"])
from harness import TARGET, log, measure, run

BIN = os.environ["OPSLOG_BENCH_BIN"]
RUNS = int(os.environ.get("RUNS", "5"))
RECORDS = int(os.environ.get("RECORDS", "200000"))
OPS = int(os.environ.get("OPS", "20000"))
DURABLE_OPS = int(os.environ.get("DURABLE_OPS", str(OPS)))
CURVE = os.environ.get("CURVE", "1") == "1"

def runs(workload, *args, n=RUNS):
    results = [measure([BIN, workload], *args) for _ in range(n)]
    log(f"{workload} {' '.join(map(str, args))}: seconds {[round(r['seconds'], 3) for r in results]}")
    return results

def med(results, key):
    values = [r[key] for r in results if r.get(key) is not None]
    return statistics.median(values) if values else None

prepared = {}
def prepare(records):
    if records not in prepared:
        log(f"prepare {records} records + {OPS} WAL ops")
        prepared[records] = run([BIN, "prepare"], "--records", records, "--ops", OPS)
    return prepared[records]

# The reference's side-by-side figures of 2026-12-02 (Docs/BENCHMARKS.md): seconds, ops/s as
# (low, high) ranges where that run gave one, and peak RSS MB (224 and 444 MB are that run's;
# the others, of 2026-11-22, are not compared with anything).
REF = {
    "open": ((0.49, 0.56), None, 224), "compact": ((0.58, 0.58), None, 444),
    "query": ((0.11, 0.15), None, 259), "write-immediate": (None, (11200, 11200), 113),
    "write-group": (None, (98000, 114000), 112), "write-async": (None, (91000, 123000), 112),
    "write-default": (None, (1220, 1220), 250), "undo": (None, (3340, 3340), 109),
}
ONLY = set(filter(None, os.environ.get("ONLY", "").split(",")))
def wanted(workload): return not ONLY or workload.split(" ")[0] in ONLY

def spread(results, key, digits):
    """'median (min-max, ±x %)' of a key over the runs."""
    values = sorted(r[key] for r in results if r.get(key) is not None)
    if not values: return "–"
    m = statistics.median(values)
    fmt = (lambda x: f"{x:,.0f}") if digits == 0 else (lambda x: f"{x:.{digits}f}")
    if len(values) == 1: return fmt(m)
    return f"{fmt(m)} ({fmt(values[0])}–{fmt(values[-1])}, {100 * (values[-1] - values[0]) / m:.0f} %)"

def ratio_range(value, low_high, invert=False):
    """The ratio against both ends of the reference's range, as 'a-b×'."""
    low, high = low_high
    a, b = (value / high, value / low)
    a, b = min(a, b), max(a, b)
    return (a, b, f"{a:.2f}×" if abs(a - b) < 0.005 else f"{a:.2f}-{b:.2f}×")

try:
    results = {}
    store = prepare(RECORDS) if any(wanted(w) for w in ["open", "compact", "query"]) else None
    for workload in ["open", "compact", "query"]:
        if wanted(workload): results[workload] = runs(workload, "--dir", store)
    for workload in ["write-immediate", "write-group", "write-async", "write-default", "undo"]:
        if wanted(workload): results[workload] = runs(workload, "--records", RECORDS, "--ops", OPS)
    # The same loops run by a task that prefers the store's I/O executor (Store.taskExecutor).
    for workload in ["write-immediate", "write-group", "write-async", "undo"]:
        if wanted(workload):
            results[workload + " (store executor)"] = runs(
                workload, "--records", RECORDS, "--ops", OPS, "--store-executor")
    for workload in ["durable-1", "durable-64"]:
        if wanted(workload): results[workload] = runs(workload, "--ops", DURABLE_OPS)
    if wanted("codec"): results["codec"] = runs("codec", "--records", RECORDS)

    def mb(b): return f"{b / 1e6:.0f} MB"
    def num(x): return f"{x:,.0f}"
    print(f"\n### opslog-bench, median (min–max, spread) of {RUNS} runs ({RECORDS:,} records, {OPS:,} ops)\n")
    print("Ratios against the reference's side-by-side figures of 2026-12-02 (Docs/BENCHMARKS.md);")
    print("they hold for that machine, and for this one only if the reference ran here too.\n")
    print("| workload | seconds | ops/s | peak RSS | reference 2026-12-02 | ratio | target | met |")
    print("| --- | ---: | ---: | ---: | --- | --- | --- | --- |")
    for workload in ["open", "compact", "query", "write-immediate", "write-immediate (store executor)",
                     "write-group", "write-group (store executor)", "write-async", "write-async (store executor)",
                     "write-default", "undo", "undo (store executor)"]:
        if workload not in results: continue
        r = results[workload]
        s, rate, rss = med(r, "seconds"), med(r, "opsPerSecond"), med(r, "peakRSSBytes")
        base = workload.split(" ")[0]
        rseconds, rrate, rrss = REF[base]
        kind, factor = TARGET[base]
        if kind == "rate":
            low, high, ratio_text = ratio_range(rate, rrate)
            ratio_text += " ops/s"
            met = "yes" if low >= factor else ("**no**" if high < factor else "in part of the range")
            target_text = f"≥ {factor}×"
            ref_text = f"{num(rrate[0])}" + (f"-{num(rrate[1])}" if rrate[1] != rrate[0] else "") + " ops/s"
        else:
            low, high, ratio_text = ratio_range(s, rseconds)
            ratio_text += " time"
            ok_all, ok_some = high <= factor, low <= factor
            if kind == "time+rss":
                rss_ratio = rss / (rrss * 1e6)
                ratio_text += f", {rss_ratio:.2f}× RSS"
                ok_all, ok_some = ok_all and rss_ratio <= factor, ok_some and rss_ratio <= factor
            met = "yes" if ok_all else ("in part of the range" if ok_some else "**no**")
            target_text = f"≤ {factor}×"
            ref_text = f"{rseconds[0]}" + (f"-{rseconds[1]}" if rseconds[1] != rseconds[0] else "") + " s"
            if kind == "time+rss": ref_text += f", {rrss} MB"
        rate_text = spread(r, "opsPerSecond", 0) if rate else "–"
        print(f"| {workload} | {spread(r, 'seconds', 3)} | {rate_text} | {mb(rss)} | {ref_text} | {ratio_text} | {target_text} | {met} |")
    footnote = None
    if "durable-1" in results and "durable-64" in results:
        d1, d64 = results["durable-1"], results["durable-64"]
        fsync = med(d1 + d64, "fsyncPerSecond")
        d1rate, d64rate = med(d1, "opsPerSecond"), med(d64, "opsPerSecond")
        print(f"| durable-1 ({DURABLE_OPS:,} ops) | {spread(d1, 'seconds', 3)} | {spread(d1, 'opsPerSecond', 0)} | {mb(med(d1, 'peakRSSBytes'))} | fsync rate {num(fsync)}/s | {d1rate / fsync:.2f}× fsync rate | ≥ 0.8× | {'yes' if d1rate >= 0.8 * fsync else '**no**'} |")
        print(f"| durable-64 ({DURABLE_OPS:,} ops) | {spread(d64, 'seconds', 3)} | {spread(d64, 'opsPerSecond', 0)} | {mb(med(d64, 'peakRSSBytes'))} | durable-1 {num(d1rate)}/s | {d64rate / d1rate:.1f}× durable-1 | ≥ 10× | {'yes' if d64rate >= 10 * d1rate else '**no**'} |")
        footnote = f"\nThis machine's fsync rate (4 KiB O_DSYNC appends, median): {num(fsync)}/s"
    if "codec" in results:
        c = results["codec"]
        p, sz, fp, fs = (med(c, k) for k in ["parseMBps", "serializeMBps", "foundationParseMBps", "foundationSerializeMBps"])
        print(f"| codec parse | | {spread(c, 'parseMBps', 0)} MB/s | {mb(med(c, 'peakRSSBytes'))} | Foundation {fp:.0f} MB/s | {p / fp:.1f}× Foundation | ≥ 100 MB/s, ≥ 4× | {'yes' if p >= 100 and p >= 4 * fp else '**no**'} |")
        print(f"| codec serialize | | {spread(c, 'serializeMBps', 0)} MB/s | | Foundation {fs:.0f} MB/s | {sz / fs:.1f}× Foundation | ≥ 120 MB/s, ≥ 5× | {'yes' if sz >= 120 and sz >= 5 * fs else '**no**'} |")
    if footnote: print(footnote)
    sys.stdout.flush()

    if CURVE:
        curve = []
        for records in [50_000, 200_000, 800_000]:
            directory = prepare(records)
            o = runs("open", "--dir", directory)
            k = runs("compact", "--dir", directory)
            curve.append((records, o, k))
        w20 = runs("write-immediate", "--ops", OPS, "--preload", 20_000)
        w800 = runs("write-immediate", "--ops", OPS, "--preload", 800_000)
        print(f"\n### Cost curves, median (min–max, spread) of {RUNS} runs (every store also holds {OPS:,} WAL ops)\n")
        print("| records | open s | open peak RSS | compact s | compact peak RSS | open s per 100k | compact s per 100k |")
        print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for records, o, k in curve:
            os_, ks = med(o, "seconds"), med(k, "seconds")
            print(f"| {records:,} | {spread(o, 'seconds', 3)} | {mb(med(o, 'peakRSSBytes'))} | {spread(k, 'seconds', 3)} | {mb(med(k, 'peakRSSBytes'))} | {os_ / records * 1e5:.3f} | {ks / records * 1e5:.3f} |")
        print("\n| write-immediate | ops/s | seconds | peak RSS |")
        print("| --- | ---: | ---: | ---: |")
        for label, r in [("20k preloaded", w20), ("800k preloaded", w800)]:
            print(f"| {label} | {spread(r, 'opsPerSecond', 0)} | {spread(r, 'seconds', 3)} | {mb(med(r, 'peakRSSBytes'))} |")
        r20, r800 = med(w20, "opsPerSecond"), med(w800, "opsPerSecond")
        difference = abs(r20 - r800) / max(r20, r800)
        print(f"\nwrite-immediate, 800k vs 20k preloaded: {100 * difference:.1f} % apart (target: within 10 %): {'yes' if difference <= 0.10 else '**no**'}")
finally:
    for directory in prepared.values():
        shutil.rmtree(directory, ignore_errors=True)
    log("done")
PY
