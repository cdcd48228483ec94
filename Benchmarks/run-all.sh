#!/usr/bin/env bash
# Runs every opslog-bench workload of Docs/BENCHMARKS.md in release mode, each RUNS times as a
# separate process, and prints a Markdown table of the medians against the reference's
# figures and the targets, then the cost curve (open/compact at 50k/200k/800k records,
# write-immediate with 20k and 800k records preloaded).
#
#   Benchmarks/run-all.sh                # build, run everything (about 10-15 min), print tables
#   RUNS=3 DURABLE_OPS=5000 Benchmarks/run-all.sh   # quicker
#
# Environment: RUNS (5), RECORDS (200000), OPS (20000), DURABLE_OPS (OPS; durable-1 at
# ~300 fsyncs/s takes OPS/300 s per run), CURVE (1: also the cost curve), RAW (a file that
# receives every JSON line). Progress goes to stderr, the tables to stdout.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
swift build -c release --package-path "$here" >&2
bin="$(swift build -c release --package-path "$here" --show-bin-path)/opslog-bench"
export OPSLOG_BENCH_BIN="$bin"
exec python3 - "$@" <<'PY'
import json, os, shutil, statistics, subprocess, sys, time

BIN = os.environ["OPSLOG_BENCH_BIN"]
RUNS = int(os.environ.get("RUNS", "5"))
RECORDS = int(os.environ.get("RECORDS", "200000"))
OPS = int(os.environ.get("OPS", "20000"))
DURABLE_OPS = int(os.environ.get("DURABLE_OPS", str(OPS)))
CURVE = os.environ.get("CURVE", "1") == "1"
RAW = os.environ.get("RAW")
raw = open(RAW, "a") if RAW else None
started = time.time()

def log(message):
    print(f"[{time.time() - started:6.0f}s] {message}", file=sys.stderr, flush=True)

def bench(workload, *args):
    out = subprocess.run([BIN, workload, *map(str, args)], check=True, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, text=True).stdout.strip()
    return out

def runs(workload, *args, n=RUNS):
    results = []
    for i in range(n):
        line = bench(workload, *args)
        result = json.loads(line)
        if raw: raw.write(line + "\n"); raw.flush()
        results.append(result)
    log(f"{workload} {' '.join(map(str, args))}: seconds {[round(r['seconds'], 3) for r in results]}")
    return results

def med(results, key):
    values = [r[key] for r in results if r.get(key) is not None]
    return statistics.median(values) if values else None

prepared = {}
def prepare(records):
    if records not in prepared:
        log(f"prepare {records} records + {OPS} WAL ops")
        prepared[records] = bench("prepare", "--records", records, "--ops", OPS)
    return prepared[records]

# The reference's figures (Docs/BENCHMARKS.md): seconds, ops/s, peak RSS MB.
REF = {
    "open": (0.77, None, 224), "compact": (0.55, None, 444), "query": (0.15, None, 259),
    "write-immediate": (2.7, 7500, 113), "write-group": (0.24, 84000, 112),
    "write-async": (0.23, 86000, 112), "write-default": (19, 1050, 250), "undo": (7.3, 2700, 109),
}
# Targets: ("time", f): seconds and RSS <= f x the reference; ("rate", f): ops/s >= f x.
TARGET = {
    "open": ("time+rss", 0.5), "compact": ("time+rss", 0.5), "query": ("time", 0.33),
    "write-immediate": ("rate", 10), "write-group": ("rate", 5), "write-async": ("rate", 5),
    "write-default": ("rate", 20), "undo": ("rate", 10),
}

try:
    store = prepare(RECORDS)
    results = {}
    for workload in ["open", "compact", "query"]:
        results[workload] = runs(workload, "--dir", store)
    for workload in ["write-immediate", "write-group", "write-async", "write-default", "undo"]:
        results[workload] = runs(workload, "--records", RECORDS, "--ops", OPS)
    # The same loops run by a task that prefers the store's I/O executor (Store.taskExecutor).
    for workload in ["write-immediate", "write-group", "write-async", "undo"]:
        results[workload + " (store executor)"] = runs(workload, "--records", RECORDS, "--ops", OPS, "--store-executor")
    results["durable-1"] = runs("durable-1", "--ops", DURABLE_OPS)
    results["durable-64"] = runs("durable-64", "--ops", DURABLE_OPS)
    results["codec"] = runs("codec", "--records", RECORDS)

    def mb(b): return f"{b / 1e6:.0f} MB"
    def num(x): return f"{x:,.0f}"
    print(f"\n### opslog-bench, median of {RUNS} runs ({RECORDS:,} records, {OPS:,} ops)\n")
    print("| workload | seconds | ops/s | peak RSS | reference (s / ops/s / RSS) | ratio | target | met |")
    print("| --- | ---: | ---: | ---: | --- | --- | --- | --- |")
    for workload in ["open", "compact", "query", "write-immediate", "write-immediate (store executor)",
                     "write-group", "write-group (store executor)", "write-async", "write-async (store executor)",
                     "write-default", "undo", "undo (store executor)"]:
        r = results[workload]
        s, rate, rss = med(r, "seconds"), med(r, "opsPerSecond"), med(r, "peakRSSBytes")
        base = workload.split(" ")[0]
        rs, rrate, rrss = REF[base]
        kind, factor = TARGET[base]
        if kind == "rate":
            ratio = rate / rrate
            ratio_text, target_text, met = f"{ratio:.1f}× ops/s", f"≥ {factor}×", ratio >= factor
        else:
            ratio = s / rs
            ratio_text = f"{ratio:.2f}× time"
            met = ratio <= factor
            if kind == "time+rss":
                rss_ratio = rss / (rrss * 1e6)
                ratio_text += f", {rss_ratio:.2f}× RSS"
                met = met and rss_ratio <= factor
            target_text = f"≤ {factor}×"
        ref_text = f"{rs} s / {num(rrate) if rrate else '–'} / {rrss} MB"
        print(f"| {workload} | {s:.3f} | {num(rate) if rate else '–'} | {mb(rss)} | {ref_text} | {ratio_text} | {target_text} | {'yes' if met else '**no**'} |")
    d1, d64 = results["durable-1"], results["durable-64"]
    fsync = med(d1 + d64, "fsyncPerSecond")
    d1rate, d64rate = med(d1, "opsPerSecond"), med(d64, "opsPerSecond")
    print(f"| durable-1 ({DURABLE_OPS:,} ops) | {med(d1, 'seconds'):.3f} | {num(d1rate)} | {mb(med(d1, 'peakRSSBytes'))} | fsync rate {num(fsync)}/s | {d1rate / fsync:.2f}× fsync rate | ≥ 0.8× | {'yes' if d1rate >= 0.8 * fsync else '**no**'} |")
    print(f"| durable-64 ({DURABLE_OPS:,} ops) | {med(d64, 'seconds'):.3f} | {num(d64rate)} | {mb(med(d64, 'peakRSSBytes'))} | durable-1 {num(d1rate)}/s | {d64rate / d1rate:.1f}× durable-1 | ≥ 10× | {'yes' if d64rate >= 10 * d1rate else '**no**'} |")
    c = results["codec"]
    p, sz, fp, fs = (med(c, k) for k in ["parseMBps", "serializeMBps", "foundationParseMBps", "foundationSerializeMBps"])
    print(f"| codec parse | | {p:.0f} MB/s | {mb(med(c, 'peakRSSBytes'))} | Foundation {fp:.0f} MB/s | {p / fp:.1f}× Foundation | ≥ 100 MB/s, ≥ 4× | {'yes' if p >= 100 and p >= 4 * fp else '**no**'} |")
    print(f"| codec serialize | | {sz:.0f} MB/s | | Foundation {fs:.0f} MB/s | {sz / fs:.1f}× Foundation | ≥ 120 MB/s, ≥ 5× | {'yes' if sz >= 120 and sz >= 5 * fs else '**no**'} |")
    print(f"\nThis machine's fsync rate (4 KiB O_DSYNC appends, median): {num(fsync)}/s")
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
        print(f"\n### Cost curve, median of {RUNS} runs (every store also holds {OPS:,} WAL ops)\n")
        print("| records | open s | open RSS | compact s | compact RSS | open s per 100k | compact s per 100k |")
        print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for records, o, k in curve:
            os_, ks = med(o, "seconds"), med(k, "seconds")
            print(f"| {records:,} | {os_:.3f} | {mb(med(o, 'peakRSSBytes'))} | {ks:.3f} | {mb(med(k, 'peakRSSBytes'))} | {os_ / records * 1e5:.3f} | {ks / records * 1e5:.3f} |")
        print("\n| write-immediate | ops/s | seconds | peak RSS |")
        print("| --- | ---: | ---: | ---: |")
        for label, r in [("20k preloaded", w20), ("800k preloaded", w800)]:
            print(f"| {label} | {num(med(r, 'opsPerSecond'))} | {med(r, 'seconds'):.3f} | {mb(med(r, 'peakRSSBytes'))} |")
finally:
    for directory in prepared.values():
        shutil.rmtree(directory, ignore_errors=True)
    log("done")
PY
