#!/usr/bin/env bash
# Build the shipped, fully static lantern binary into dist/lantern.
#
#   tools/release.sh              static release build (glibc, libstdc++, zlib and the Swift
#                                 runtime all linked in), stripped, into dist/lantern
#   tools/release.sh --embedded   the same from Embedded Swift: runs tools/release-embedded.sh
#   tools/release.sh --embedded --musl   Embedded Swift linked against Debian's musl (musl-dev)
#                                 instead of glibc: runs tools/release-embedded.sh --musl
#
# Fails unless `file` says "statically linked" and `ldd` says "not a dynamic executable".
# Scratch path: .build-static (kept apart from .build/, which `swift test` owns).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

EMBEDDED=0
MUSL=0
for arg in "$@"; do
    case $arg in
        --embedded) EMBEDDED=1 ;;
        --musl) MUSL=1 ;;
        -h | --help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "release.sh: unknown argument: $arg" >&2; exit 2 ;;
    esac
done

if [[ $MUSL == 1 && $EMBEDDED == 0 ]]; then
    echo "release.sh: --musl is for the Embedded build: use --embedded --musl" >&2
    exit 2
fi
if [[ $EMBEDDED == 1 ]]; then
    if [[ $MUSL == 1 ]]; then exec tools/release-embedded.sh --musl; fi
    exec tools/release-embedded.sh
fi

if ! command -v swift >/dev/null && [[ -x /opt/swift/usr/bin/swift ]]; then
    export PATH=/opt/swift/usr/bin:$PATH
fi
for tool in swift strip file ldd; do
    command -v "$tool" >/dev/null || { echo "release.sh: $tool not found" >&2; exit 1; }
done

SCRATCH=.build-static
FLAGS=(-c release --product lantern --static-swift-stdlib -Xswiftc -static-executable --scratch-path "$SCRATCH")

echo "release.sh: swift build ${FLAGS[*]}"
started=$SECONDS
swift build "${FLAGS[@]}"
BIN_DIR=$(swift build "${FLAGS[@]}" --show-bin-path)
echo "release.sh: built in $((SECONDS - started))s"

SRC=$BIN_DIR/lantern
[[ -x $SRC ]] || { echo "release.sh: no binary at $SRC" >&2; exit 1; }

source tools/static-dist.sh
install_static_dist release.sh "$SRC" ""
