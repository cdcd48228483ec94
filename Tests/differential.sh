#!/usr/bin/env bash
# The differential run against the reference, opslog 0.8.1 for Node: random scripts of sets,
# deletes, batches, undos, compactions and archives, applied in turn by this project and by the
# reference to one store, each reading what the other wrote (Tests/Differential/run.py says
# what is compared). Needs node and the reference:
#
#   (cd Benchmarks/reference && npm install opslog@0.8.1)   # or OPSLOG_REFERENCE=/path/to/dist/index.js
#   Tests/differential.sh [rounds, default 200] [--seed N]
#
# Runs single-writer rounds, then as many with three multi-writer agents. Not part of
# `swift test`: CI has no reference.
set -euo pipefail
cd "$(dirname "$0")/.."

rounds="${1:-200}"
shift || true
# An ES module resolves packages from its own directory up, so the reference installed for the
# benchmark harness is named by its path.
if [[ -z "${OPSLOG_REFERENCE:-}" && -d Benchmarks/reference/node_modules/opslog ]]; then
  OPSLOG_REFERENCE="$(cd Benchmarks/reference &&
    node --input-type=module -e 'console.log(new URL(import.meta.resolve("opslog")).pathname)')"
  export OPSLOG_REFERENCE
fi
command -v node > /dev/null || { echo "differential.sh: node is not installed" >&2; exit 2; }
node Tests/Differential/reference-exec.mjs check || {
  echo "differential.sh: install the reference (cd Benchmarks/reference && npm install opslog@0.8.1) or set OPSLOG_REFERENCE" >&2
  exit 2
}
swift build --product OpsLogTestHelper >&2
helper="$(swift build --show-bin-path)/OpsLogTestHelper"
status=0
python3 Tests/Differential/run.py "$helper" "$rounds" "$@" || status=1
python3 Tests/Differential/run.py "$helper" "$rounds" --agents "$@" || status=1
exit "$status"
