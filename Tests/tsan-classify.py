#!/usr/bin/env python3
"""Sorts ThreadSanitizer reports (from TSAN_OPTIONS=log_path=...) into what the tool cannot
see and what needs a look. Used by Tests/tsan.sh.

On Linux, Synchronization.Mutex locks with futex system calls inside the standard library,
which is not built with TSan, so TSan sees no happens-before edge between two holders of one
Mutex and reports every access to state that a Mutex guards as a race. A four-thread program
that only appends to a Mutex<[Int]> is reported the same way (see Tests/tsan.sh). Reports
are therefore sorted by the two stacks of the racing accesses:

- mutex: both accesses run inside a `withLock` body (a closure whose mangled name ends in
  `zYuYTXEfU_`: an `inout sending` value, typed throws) or in a StoreState method (reached
  only under the store's Mutex);
- publication: one access is the initializer of the object: it was made on one thread and
  reached the other only through some hand-over (here a Mutex-guarded job queue), which TSan
  cannot see for the same reason;
- runtime: one access is inside `CheckedContinuation`/`UnsafeContinuation.resume` (the Swift
  concurrency runtime, also not instrumented, hands the task to another thread);
- unexplained: anything else. These are printed in full; the exit status is 1 if any.
"""
import re
import sys
from collections import Counter

LOCKED = [
    # A `Mutex.withLock` body: a non-escaping closure (`XE`) of an `inout` (`z`), `sending`
    # (`Yu`) value, throwing (`K`) or not, with typed throws (`YT`), whatever the value's type
    # (`_t` ends a tuple).
    re.compile(r"z(?:_t)?(?:Yu)?K?YTXEfU"),
    re.compile(r"10StoreStateV"),  # StoreState methods run under the store's Mutex
    re.compile(r"14CommitPipelineV"),  # part of StoreState
]
INITIALIZER = re.compile(r"C\w*fc$")  # a class initializer: `...C...fc`
RUNTIME = re.compile(r"\$sScc6resume|\$sScC6resume|swift_continuation")
ACCESS = re.compile(r"^  (?:Previous )?(?:[Aa]tomic )?(?:[Rr]ead|[Ww]rite|[Mm]odifying access)")
FRAME = re.compile(r"^\s+#(\d+) (\S+)")


def stacks(report):
    """The frames (symbol names) of each access stack of one report."""
    result, current = [], None
    for line in report.splitlines():
        if ACCESS.match(line):
            current = []
            result.append(current)
        elif current is not None:
            frame = FRAME.match(line)
            if frame:
                current.append(frame.group(2))
            elif not line.strip():
                current = None
    return result


def locked(stack):
    return any(pattern.search(symbol) for symbol in stack[:8] for pattern in LOCKED)


def classify(report):
    both = stacks(report)[:2]
    if len(both) < 2:
        return "unexplained"
    if all(locked(stack) for stack in both):
        return "mutex"
    if any(RUNTIME.search(symbol) for stack in both for symbol in stack[:4]):
        return "runtime"
    if any(stack and INITIALIZER.search(stack[0]) for stack in both):
        return "publication"
    return "unexplained"


def main(paths):
    counts = Counter()
    summaries = Counter()
    unexplained = []
    for path in paths:
        with open(path, errors="replace") as handle:
            text = handle.read()
        for report in text.split("=================="):
            if "WARNING: ThreadSanitizer" not in report:
                continue
            kind = classify(report)
            counts[kind] += 1
            summary = re.search(r"SUMMARY: ThreadSanitizer: (.*)", report)
            line = summary.group(1) if summary else "?"
            line = re.sub(r" in \$s\S+", "", line).replace("/work/", "")
            summaries[(kind, line)] += 1
            if kind == "unexplained":
                unexplained.append(report.strip())
    total = sum(counts.values())
    print(f"tsan: {total} reports in {len(paths)} log files: " + ", ".join(
        f"{counts[kind]} {kind}" for kind in ["mutex", "publication", "runtime", "unexplained"]))
    for (kind, line), count in sorted(summaries.items()):
        print(f"  {count:3d} {kind:12s} {line}")
    for report in unexplained:
        print("\n==================\n" + report)
    return 1 if unexplained else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
