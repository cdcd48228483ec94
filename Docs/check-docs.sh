#!/usr/bin/env bash
# Builds the DocC documentation of the library targets (and of nothing else: no archives for
# the tool, the examples or the test helpers) and fails when DocC or the compiler prints a
# single warning, or when the archives made are not exactly the libraries' ones.
#
#   Docs/check-docs.sh            # from anywhere; about 1.5 minutes after a debug build
set -euo pipefail
cd "$(dirname "$0")/.."

# The library products of Package.swift, lowest layer first; OpsLog is the umbrella whose
# catalog (Modules/OpsLog/OpsLog.docc) holds the articles.
libraries=(OpsLogTypes OpsLogCodec OpsLogStorage OpsLogEngine OpsLogMultiWriter OpsLog OpsLogS3)

outputs=.build/plugins/Swift-DocC/outputs
rm -rf "$outputs"
log=$(mktemp)
trap 'rm -f "$log"' EXIT

arguments=()
for library in "${libraries[@]}"; do arguments+=(--target "$library"); done
echo "check-docs: generating documentation for ${libraries[*]}"
if ! swift package generate-documentation "${arguments[@]}" >"$log" 2>&1; then
  cat "$log"
  echo "check-docs: generate-documentation failed" >&2
  exit 1
fi

# SwiftPM's notes about files a dependency's own manifest leaves undeclared (for example
# swift-distributed-tracing's CMakeLists.txt) are that package's, not this documentation's.
filtered=$(mktemp)
grep -v -E "^warning: '[^']+': found [0-9]+ file\(s\) which are unhandled" "$log" >"$filtered" || true
mv "$filtered" "$log"
warnings=$(grep -c "warning:" "$log" || true)
if [ "$warnings" -ne 0 ]; then
  # Each warning with the source lines DocC prints under it.
  grep -A 6 "warning:" "$log"
  echo "check-docs: $warnings warning(s); the documentation must build without any" >&2
  exit 1
fi

expected=$(printf '%s.doccarchive\n' "${libraries[@]}" | sort)
made=$(cd "$outputs" && ls -d -- *.doccarchive | sort)
if [ "$made" != "$expected" ]; then
  echo "check-docs: expected archives:" >&2
  echo "$expected" >&2
  echo "check-docs: made:" >&2
  echo "$made" >&2
  exit 1
fi

# The umbrella's landing page and articles must be in its archive.
for article in gettingstarted recordsandcodable writemodesanddurability undohistoryandaudit \
  followersandchangefeeds multiwriteragents schemamigrationandevolution testingwithmemorydisk \
  ondiskformat migratingfromnode performance; do
  if [ ! -f "$outputs/OpsLog.doccarchive/data/documentation/opslog/$article.json" ]; then
    echo "check-docs: the OpsLog archive has no article $article" >&2
    exit 1
  fi
done
echo "check-docs: ${#libraries[@]} archives, no warnings"
