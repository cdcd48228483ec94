#!/usr/bin/env bash
# Builds the codec fuzz target (Fuzz/CodecFuzzTarget.swift) with libFuzzer and
# AddressSanitizer, straight with swiftc: OpsLogTypes and OpsLogCodec are compiled from their
# sources with the same instrumentation, so that the fuzzer sees their coverage. Everything
# goes to .build-fuzz/, apart from SwiftPM's .build.
#
#   Fuzz/build.sh            # prints the path of the fuzzer binary on its last line
#   Fuzz/build.sh --check    # only says whether this toolchain can build it (exit 0 or 1)
#
# Exits 1, with a message, when the toolchain has no libFuzzer (e.g. Xcode's swiftc).
set -euo pipefail
cd "$(dirname "$0")/.."

out=.build-fuzz
mkdir -p "$out/modules" "$out/objects"
flags=(-swift-version 6 -parse-as-library -O -g -sanitize=fuzzer,address -wmo
  -module-cache-path "$out/module-cache" -I "$out/modules" -warnings-as-errors)

# Linking a trivial target is the test: the fuzzer runtime is there or it is not.
probe="$out/probe"
if ! printf '@_cdecl("LLVMFuzzerTestOneInput") public func f(_ d: UnsafePointer<UInt8>?, _ n: Int) -> CInt { 0 }\n' \
  >"$probe.swift" || ! swiftc -sanitize=fuzzer,address -parse-as-library -use-ld=lld -module-cache-path \
  "$out/module-cache" "$probe.swift" -o "$probe" >/dev/null 2>&1; then
  echo "fuzz: this toolchain cannot link a libFuzzer target (swiftc -sanitize=fuzzer,address)" >&2
  exit 1
fi
if [ "${1:-}" = "--check" ]; then exit 0; fi

# Compiles module $1, which imports the modules named in $2 (space-separated), from the
# sources that follow, unless its object is newer than all of them, this script and the
# objects of those modules.
module() {
  local name="$1" imports="$2"
  shift 2
  local object="$out/objects/$name.o" inputs=("$@" "$0")
  for imported in $imports; do inputs+=("$out/objects/$imported.o"); done
  if [ -f "$object" ] && [ -z "$(find "${inputs[@]}" -newer "$object" 2>/dev/null)" ]; then
    echo "fuzz: $name is up to date" >&2
    return
  fi
  echo "fuzz: compiling $name" >&2
  swiftc "${flags[@]}" -I Modules/CZlib -module-name "$name" -package-name OpsLog -emit-module \
    -emit-module-path "$out/modules/$name.swiftmodule" -c -o "$object" "$@"
}

module OpsLogTypes "" Modules/OpsLogTypes/*.swift
module OpsLogCodec "OpsLogTypes" Modules/OpsLogCodec/*.swift
echo "fuzz: linking the fuzz target" >&2
swiftc "${flags[@]}" -module-name CodecFuzz -I Modules/CZlib Fuzz/CodecFuzzTarget.swift \
  "$out/objects/OpsLogTypes.o" "$out/objects/OpsLogCodec.o" -lz -use-ld=lld -o "$out/codec-fuzz"
echo "$out/codec-fuzz"
