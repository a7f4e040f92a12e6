#!/usr/bin/env bash
# Build the shipped, fully static lantern binaries into dist/.
#
#   tools/release.sh --arch ARCH  the Embedded Swift + musl build for one CPU, static and stripped,
#                                 into dist/lantern-linux-ARCH; ARCH: x86_64, aarch64, armv7, armv6
#   tools/release.sh --all        every ARCH above, then dist/SHA256SUMS
#   tools/release.sh              static release build (glibc, libstdc++, zlib and the Swift
#                                 runtime all linked in), stripped, into dist/lantern
#   tools/release.sh --embedded   the same from Embedded Swift: runs tools/release-embedded.sh
#   tools/release.sh --embedded --musl   Embedded Swift linked against Debian's musl (musl-dev)
#                                 instead of glibc: runs tools/release-embedded.sh --musl
#
# Fails unless `file` says "statically linked" and names the CPU (and, for x86_64, `ldd` says
# "not a dynamic executable"). Installs nothing: when Debian packages for a CPU are missing it
# names them (tools/cross-deps.sh installs them all).
# Scratch path: .build-static (kept apart from .build/, which `swift test` owns).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

ALL_ARCHS=(x86_64 aarch64 armv7 armv6)
EMBEDDED=0
MUSL=0
ARCHS=()
while (($#)); do
    case $1 in
        --embedded) EMBEDDED=1 ;;
        --musl) MUSL=1 ;;
        --arch) ARCHS+=("${2:?--arch needs a value: ${ALL_ARCHS[*]}}"); shift ;;
        --all) ARCHS=("${ALL_ARCHS[@]}"); ALL=1 ;;
        -h | --help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "release.sh: unknown argument: $1" >&2; exit 2 ;;
    esac
    shift
done

if ((${#ARCHS[@]})); then
    if [[ $EMBEDDED == 1 || $MUSL == 1 ]]; then
        echo "release.sh: --arch and --all are the Embedded musl build already" >&2; exit 2
    fi
    for arch in "${ARCHS[@]}"; do
        bash tools/release-embedded.sh --arch "$arch"
    done
    if [[ ${ALL:-0} == 1 ]]; then
        (cd dist && sha256sum "${ARCHS[@]/#/lantern-linux-}" > SHA256SUMS)
        echo "release.sh: dist/SHA256SUMS:"
        sed 's/^/  /' dist/SHA256SUMS
    fi
    exit 0
fi

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
install_static_dist release.sh "$SRC"
