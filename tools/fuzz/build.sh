#!/usr/bin/env bash
# Builds the libFuzzer targets (frame, http, extensions, inflate) into .build-fuzz/.
# Each target is the harness file compiled in one module with the Sources files it needs, so
# internal types are visible.  Usage: tools/fuzz/build.sh [TARGET...]   (default: all four)
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=.build-fuzz
mkdir -p "$OUT"

PROTOCOL=(Sources/Lantern/Protocol/*.swift)
DEFLATE=(Sources/Lantern/Deflate/*.swift Sources/Lantern/Base/*.swift)
# -O keeps every precondition and overflow/bounds check (only -Ounchecked drops them) and is
# several times faster than -Onone under libFuzzer.
FLAGS=(-sanitize=fuzzer,address -parse-as-library -swift-version 6 -O -g -module-name LanternFuzz)

build() {
    local target=$1 harness=$2; shift 2
    echo "building $OUT/fuzz-$target" >&2
    rm -f "$OUT/fuzz-$target"
    # ld.gold warns "Cannot export local symbol '__asan_...'" for every target: harmless.
    swiftc "${FLAGS[@]}" "$@" tools/fuzz/FuzzSupport.swift "tools/fuzz/$harness" -o "$OUT/fuzz-$target" 2>&1 \
        | { grep -v "Cannot export local symbol" || true; } >&2
    test -x "$OUT/fuzz-$target"
}

targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(frame http extensions inflate)
for t in "${targets[@]}"; do
    case $t in
        frame)      build frame FrameFuzz.swift "${PROTOCOL[@]}" ;;
        http)       build http HTTPFuzz.swift "${PROTOCOL[@]}" ;;
        extensions) build extensions ExtensionsFuzz.swift "${PROTOCOL[@]}" ;;
        inflate)    build inflate InflateFuzz.swift "${PROTOCOL[@]}" "${DEFLATE[@]}" -I Sources/CZlib -lz ;;
        *) echo "unknown target: $t (frame, http, extensions, inflate)" >&2; exit 2 ;;
    esac
done
