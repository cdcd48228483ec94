#!/usr/bin/env bash
# Thread sanitizer over the concurrency-heavy suites, in a scratch path of its own.
#
#   Tests/tsan.sh [swift test --filter regex]     (default: the suites below)
#   Tests/tsan.sh --self-check                    (shows what TSan reports for a correct
#                                                  Mutex program and for a real race)
#
# Every report, from the test process and from the helper processes it starts, is written to
# .build-tsan/tsan-logs/report.<pid> and sorted by Tests/tsan-classify.py: on Linux TSan does
# not see Synchronization.Mutex (a futex in the uninstrumented standard library), so it reports
# every access to Mutex-guarded state as a race; those are counted, everything else is printed
# in full. Exit status: the tests' status, or 1 if any report is unexplained.
# A first build takes about 4 minutes on this project's 2-core machine, the run about 1.
set -euo pipefail
cd "$(dirname "$0")/.."
scratch="${OPSLOG_TSAN_SCRATCH:-.build-tsan}"

if [ "${1:-}" = "--self-check" ]; then
  logs="$scratch/tsan-self-check"
  rm -rf "$logs"
  mkdir -p "$logs"
  # The project's pattern: a Sendable class whose mutable state is a Mutex<State>.
  cat > "$logs/mutex.swift" <<'SWIFT'
import Foundation
import Synchronization
final class Box: Sendable {
  struct State { var values: [Int] = [] }
  let state = Mutex(State())
  func add(_ value: Int) {
    state.withLock { state in
      state.values.append(value)
      if state.values.count > 100 { state.values.removeAll() }
    }
  }
}
let box = Box()
let group = DispatchGroup()
for thread in 0..<4 {
  group.enter()
  Thread {
    for index in 0..<20_000 { box.add(index + thread) }
    group.leave()
  }.start()
}
group.wait()
print("mutex program: \(box.state.withLock { $0.values.count }) values left")
SWIFT
  cat > "$logs/race.swift" <<'SWIFT'
import Foundation
final class Counter: @unchecked Sendable { var value = 0 }  // a deliberate race
let counter = Counter()
let group = DispatchGroup()
for _ in 0..<4 {
  group.enter()
  Thread {
    for _ in 0..<200_000 { counter.value += 1 }
    group.leave()
  }.start()
}
group.wait()
print("racy program: \(counter.value)")
SWIFT
  for program in mutex race; do
    swiftc -sanitize=thread -Onone "$logs/$program.swift" -o "$logs/$program"
    TSAN_OPTIONS="exitcode=0 log_path=$logs/$program-report" "$logs/$program"
    echo "$program:"
    reports=("$logs/$program-report".*)
    [ -e "${reports[0]}" ] && { python3 Tests/tsan-classify.py "${reports[@]}" | head -3 || true; } || echo "  no report"
  done
  exit 0
fi

logs="$scratch/tsan-logs"
rm -rf "$logs"
mkdir -p "$logs"
filter="${1:-WriteModeTests|MultiWriter|ProcessTests|IOThreadTests|IOTaskExecutorTests|FollowTests|LargeWALAndMemoryCrashTests|ChangeFeed|AgentFeed|CompactionPromise|FaultSweep|CheckpointArchive|ReplayOnOpen}"
swift build --build-tests --sanitize=thread --scratch-path "$scratch"
set +e
# exitcode=0: the helper processes must not fail their tests over reports; the classifier
# below decides.
TSAN_OPTIONS="halt_on_error=0 exitcode=0 log_path=$PWD/$logs/report" \
  swift test --skip-build --sanitize=thread --scratch-path "$scratch" --filter "$filter"
status=$?
set -e
shopt -s nullglob
reports=("$logs"/report.*)
if [ ${#reports[@]} -eq 0 ]; then
  echo "tsan: no reports"
  exit "$status"
fi
python3 Tests/tsan-classify.py "${reports[@]}" | tee "$logs/summary.txt"
classified=${PIPESTATUS[0]}
[ "$status" -ne 0 ] && exit "$status"
exit "$classified"
