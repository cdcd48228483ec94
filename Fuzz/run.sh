#!/usr/bin/env bash
# Builds the codec fuzz target and its seed corpus, then fuzzes for a while.
#
#   Fuzz/run.sh [seconds, default 600] [extra libFuzzer flags...]
#
# New inputs that add coverage go to .build-fuzz/corpus (kept between runs; the seeds from
# Tests/Fixtures are read but never written). A failing input is written to
# .build-fuzz/crash-<sha1> and the run exits non-zero; replay it with
# `.build-fuzz/codec-fuzz .build-fuzz/crash-<sha1>`. Fails, with a message, when the
# toolchain has no libFuzzer (`Fuzz/build.sh --check` says so beforehand).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-600}"
shift || true
binary="$(Fuzz/build.sh | tail -n 1)"
python3 Fuzz/make-corpus.py .build-fuzz/seeds
mkdir -p .build-fuzz/corpus
# Leaks are not the codec's concern here (Swift's runtime keeps metadata caches for good);
# Swift's own backtracer would only get in the way of AddressSanitizer's report.
SWIFT_BACKTRACE=enable=no ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0}" "$binary" .build-fuzz/corpus .build-fuzz/seeds \
  -max_total_time="$seconds" -max_len=4096 -timeout=10 -rss_limit_mb=3072 \
  -artifact_prefix=.build-fuzz/ -print_final_stats=1 "$@"
