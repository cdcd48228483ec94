#!/usr/bin/env bash
# The long kill -9 torture: Tests/OpsLogEngineTests/KillTortureTests.swift with many rounds.
#
#   Tests/torture.sh [rounds per write mode, default 1000]
#
# Environment: OPSLOG_TORTURE_MODES=immediate,group (default: all three, run in parallel),
# OPSLOG_TORTURE_SEED=<n> (replay a run: the seed is in every summary and failure),
# OPSLOG_TORTURE_REPORT=<file> (default .build/torture-report.txt; one summary line per mode
# is appended). A failing round's store is kept under $TMPDIR/opslog-torture-failures/.
# On this project's 2-core machine a round takes about 0.35 s, so 1,000 rounds per mode take
# about 6 minutes with the three modes in parallel.
set -euo pipefail
cd "$(dirname "$0")/.."

rounds="${1:-1000}"
report="${OPSLOG_TORTURE_REPORT:-$PWD/.build/torture-report.txt}"
mkdir -p "$(dirname "$report")"

swift build --build-tests
echo "torture: $rounds rounds per write mode; summaries go to $report"
set +e
OPSLOG_TORTURE_ROUNDS="$rounds" OPSLOG_TORTURE_REPORT="$report" \
  swift test --skip-build --filter 'KillTortureTests/killedWriterLeavesWhatTheWriteModePromises'
status=$?
set -e
echo "torture: summaries"
tail -n 3 "$report"
exit "$status"
