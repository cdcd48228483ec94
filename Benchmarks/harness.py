"""What Benchmarks/run-all.sh and Benchmarks/side-by-side.sh share: running one benchmark
process, keeping its JSON line, logging progress, and the targets of Docs/BENCHMARKS.md."""
import json, os, subprocess, sys, time

# Targets (Docs/BENCHMARKS.md): ("time", f): seconds <= f x the reference's, "time+rss" the
# peak RSS too; ("rate", f): ops/s >= f x the reference's.
TARGET = {
    "open": ("time+rss", 0.5), "compact": ("time+rss", 0.5), "query": ("time", 0.33),
    "write-immediate": ("rate", 10), "write-group": ("rate", 5), "write-async": ("rate", 5),
    "write-default": ("rate", 20), "undo": ("rate", 10),
}

_started = time.time()
_raw = open(os.environ["RAW"], "a") if os.environ.get("RAW") else None


def log(message):
    """Progress on stderr, with the seconds since the script started."""
    print(f"[{time.time() - _started:6.0f}s] {message}", file=sys.stderr, flush=True)


def run(command, *args):
    """Runs a benchmark process (command: a list) and returns what it printed on stdout."""
    return subprocess.run([*command, *map(str, args)], check=True, stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL, text=True).stdout.strip()


def measure(command, *args):
    """Runs one workload and returns its JSON result; the line also goes to RAW when set."""
    line = run(command, *args)
    if _raw:
        _raw.write(line + "\n")
        _raw.flush()
    return json.loads(line)
