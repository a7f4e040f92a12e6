#!/usr/bin/env bash
# Build the shipped lantern binary in Embedded Swift (also: tools/release.sh --embedded / --arch).
#
#   tools/release-embedded.sh                 linked against glibc, x86_64 -> dist/lantern
#   tools/release-embedded.sh --musl          linked against Debian's musl, x86_64 -> dist/lantern
#   tools/release-embedded.sh --arch ARCH     musl, for ARCH (x86_64, aarch64, armv7, armv6)
#                                             -> dist/lantern-linux-ARCH
#   --out PATH                                write the binary to PATH instead
#
# Same sources as the normal build, compiled by swiftc directly as one module (Embedded mode has no
# SwiftPM product for this), then linked fully static against the C library and zlib:
#   1. build tools/EmbedTool normally and let it write EmbeddedAssets.swift (what the plugin does);
#   2. swiftc -enable-experimental-feature Embedded -wmo -Osize: Sources/Lantern, the generated
#      assets, tools/embedded/GlibcOverlay.swift and Sources/lantern/main.swift, with
#      tools/embedded/Glibc (a C module standing in for the Glibc module Embedded mode lacks);
#      GlibcOverlay.swift adds errno, SIG_DFL/SIG_IGN, CommandLine and byte-wise String ==;
#   3. clang -static (lld, --gc-sections, --icf=all) with tools/embedded/*.c, the C library, zlib.
# Fails unless the result is statically linked and `file` names the CPU it was built for.
#
# musl: the same sources and steps, but clang sees only musl's headers (-nostdinc, then clang's own
# builtin headers, musl's include folder for the CPU and a folder holding just zlib.h and zconf.h),
# tools/embedded/MuslOverlay.swift gives the few glibc spellings the sources use, the Swift entry
# point is renamed so argv.c's main can keep the arguments (musl passes none to .init_array), and
# musl.c adds arc4random_buf. The link is explicit: musl's crt1.o/crti.o/crtn.o and libc.a, with
# Debian's libz.a for the CPU (zlib needs only memcpy/memset/malloc/free and __stack_chk_fail,
# which musl has) and libgcc.a for compiler helpers.
#
# Other CPUs (cross builds, musl only): Swift compiles for the bare-metal Embedded target of the
# CPU (aarch64-none-none-elf, armv7-none-none-eabi, armv6-none-none-eabi: the toolchain ships
# their Embedded standard library); clang compiles and links for the Linux musl triple; the C
# side (musl, zlib, libgcc) comes from Debian's multiarch packages. Code for the bare-metal
# triple links with Linux musl objects: the calling convention is the same. Nothing is installed
# here: tools/cross-deps.sh installs what is missing, and this script names it when it is.
#   aarch64  Raspberry Pi 3/4/5 and Zero 2 W with a 64-bit OS, most ARM boards: arm64's musl
#   armv7    32-bit ARMv7 with VFPv3 (Pi 2/3/4 on a 32-bit OS): armhf's musl, hard float
#   armv6    ARMv6 (Pi Zero/Zero W/Pi 1; any 32-bit ARM Linux): armel's musl, soft float, so it
#            also runs on Raspberry Pi OS's ARMv6 "armhf" (a static binary brings its own ABI)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

MUSL=0
ARCH=
ARCH_GIVEN=0
OUT_BIN=
while (($#)); do
    case $1 in
        --musl) MUSL=1 ;;
        --arch) ARCH=${2:?--arch needs a value}; ARCH_GIVEN=1; MUSL=1; shift ;;
        --out) OUT_BIN=${2:?--out needs a path}; shift ;;
        -h | --help) sed -n '2,37p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "release-embedded.sh: unknown argument: $1" >&2; exit 2 ;;
    esac
    shift
done

if ! command -v swiftc >/dev/null && [[ -x /opt/swift/usr/bin/swiftc ]]; then
    export PATH=/opt/swift/usr/bin:$PATH
fi
for tool in swift swiftc clang file ldd; do
    command -v "$tool" >/dev/null || { echo "release-embedded.sh: $tool not found" >&2; exit 1; }
done

HOST_ARCH=$(uname -m)
[[ -n $ARCH ]] || ARCH=x86_64
[[ $HOST_ARCH == x86_64 ]] || { echo "release-embedded.sh: builds run on x86_64 hosts (this is $HOST_ARCH)" >&2; exit 1; }

# Per CPU: Swift's target, clang's target and flags, Debian's names for its musl, zlib and libgcc,
# and what `file` must say.
ZLIB_INCLUDE=/usr/include
ARCH_SWIFTFLAGS=()
# 32-bit ARM: LLVM's ARM load/store optimizer merges the stores that end a mutating method into
# one store-multiple with writeback on r10, which Swift's calling convention uses for `self` and
# callers expect preserved: the caller then reads its fields 12 bytes off. Seen as a bad receive
# pointer (EFAULT, connection reset) in ReadBuffer.reserve, the first growth of the receive
# buffer (any request head over 1 KiB). The pass is off for Swift code; tools/check-arm-r10.sh
# scans every build for the pattern (and fails it).
ARM_SWIFTFLAGS=(-Xllvm -arm-load-store-opt=false)
case $ARCH in
    x86_64)
        SWIFT_TARGET=x86_64-unknown-linux-gnu; CLANG_TARGET=; ARCH_CFLAGS=()
        MUSL_TRIPLE=x86_64-linux-musl; DEB_ARCH=amd64; GNU_TRIPLE=x86_64-linux-gnu
        LIBGCC=$(gcc -print-libgcc-file-name 2>/dev/null || echo /usr/lib/gcc/x86_64-linux-gnu/12/libgcc.a)
        ELF_MACHINE="x86-64" ;;
    aarch64)
        SWIFT_TARGET=aarch64-none-none-elf; CLANG_TARGET=aarch64-linux-musl; ARCH_CFLAGS=()
        MUSL_TRIPLE=aarch64-linux-musl; DEB_ARCH=arm64; GNU_TRIPLE=aarch64-linux-gnu
        LIBGCC=/usr/lib/gcc/aarch64-linux-gnu/12/libgcc.a
        ELF_MACHINE="ARM aarch64" ;;
    armv7)
        SWIFT_TARGET=armv7-none-none-eabi; CLANG_TARGET=armv7-linux-musleabihf
        ARCH_CFLAGS=(-mfloat-abi=hard -mfpu=vfpv3-d16)
        ARCH_SWIFTFLAGS=("${ARM_SWIFTFLAGS[@]}")
        MUSL_TRIPLE=arm-linux-musleabihf; DEB_ARCH=armhf; GNU_TRIPLE=arm-linux-gnueabihf
        LIBGCC=/usr/lib/gcc/arm-linux-gnueabihf/12/libgcc.a
        ELF_MACHINE="ARM, EABI5" ;;
    armv6)
        SWIFT_TARGET=armv6-none-none-eabi; CLANG_TARGET=armv6-linux-musleabi
        ARCH_CFLAGS=(-mfloat-abi=soft -mcpu=arm1176jzf-s)
        ARCH_SWIFTFLAGS=("${ARM_SWIFTFLAGS[@]}")
        MUSL_TRIPLE=arm-linux-musleabi; DEB_ARCH=armel; GNU_TRIPLE=arm-linux-gnueabi
        LIBGCC=/usr/lib/gcc-cross/arm-linux-gnueabi/12/libgcc.a
        ELF_MACHINE="ARM, EABI5" ;;
    *) echo "release-embedded.sh: unknown --arch $ARCH (x86_64, aarch64, armv7, armv6)" >&2; exit 2 ;;
esac
ZLIB_A=/usr/lib/$GNU_TRIPLE/libz.a
# armel's zlib1g-dev lags the other architectures' security update in Debian 12, so it cannot be
# installed beside them; tools/cross-deps.sh unpacks it into .build-deps instead.
if [[ $ARCH == armv6 && ! -e $ZLIB_A ]]; then
    ZLIB_A=.build-deps/armel/usr/lib/$GNU_TRIPLE/libz.a
fi

if [[ -z $OUT_BIN ]]; then
    if [[ $MUSL == 1 && $ARCH_GIVEN == 1 ]]; then OUT_BIN=dist/lantern-linux-$ARCH; else OUT_BIN=dist/lantern; fi
fi

SCRATCH=.build-embedded
if [[ $MUSL == 1 ]]; then
    SCRATCH=.build-embedded-musl
    [[ $ARCH == x86_64 ]] || SCRATCH=.build-embedded-$ARCH
    MUSL_LIB=/usr/lib/$MUSL_TRIPLE
    MUSL_INCLUDE=/usr/include/$MUSL_TRIPLE
    missing=()
    [[ -e $MUSL_LIB/libc.a && -e $MUSL_LIB/crt1.o && -e $MUSL_INCLUDE/stdio.h ]] || missing+=("musl-dev:$DEB_ARCH")
    [[ -e $ZLIB_INCLUDE/zlib.h ]] || missing+=(zlib1g-dev)
    if [[ ! -e $ZLIB_A ]]; then
        if [[ $ARCH == armv6 ]]; then
            echo "release-embedded.sh: armel's libz.a missing: bash tools/cross-deps.sh unpacks zlib1g-dev:armel into" \
                ".build-deps/armel (apt cannot install it beside arm64's and armhf's: its version lags)" >&2
            exit 1
        fi
        missing+=("zlib1g-dev:$DEB_ARCH")
    fi
    [[ -f $LIBGCC ]] || missing+=("$([[ $ARCH == armv6 ]] && echo libgcc-12-dev-armel-cross || echo "libgcc-12-dev:$DEB_ARCH")")
    if ((${#missing[@]})); then
        echo "release-embedded.sh: missing for --arch $ARCH: ${missing[*]}" >&2
        [[ $DEB_ARCH == amd64 ]] || echo "  dpkg --add-architecture $DEB_ARCH && apt-get update" >&2
        echo "  apt-get install ${missing[*]}   (or: bash tools/cross-deps.sh, which does all of it)" >&2
        exit 1
    fi
elif [[ $ARCH != x86_64 ]]; then
    echo "release-embedded.sh: other CPUs are built against musl only" >&2; exit 2
fi
OUT=$SCRATCH/embedded
mkdir -p "$OUT"
started=$SECONDS

# 1. The asset table, generated by the same tool the build plugin runs (a host program).
echo "release-embedded.sh: building EmbedTool"
swift build --product EmbedTool --scratch-path "$SCRATCH/tool"
"$(swift build --product EmbedTool --scratch-path "$SCRATCH/tool" --show-bin-path)/EmbedTool" \
    "$OUT/EmbeddedAssets.swift" "$PWD/Web"

# 2. Every Swift source as one module; main.swift is the entry point (its `import Lantern` is ignored).
SOURCES=()
while IFS= read -r file; do SOURCES+=("$file"); done < <(find Sources/Lantern -name '*.swift' | LC_ALL=C sort)
SOURCES+=("$OUT/EmbeddedAssets.swift" tools/embedded/GlibcOverlay.swift Sources/lantern/main.swift)
SWIFT_FLAGS=(
    -target "$SWIFT_TARGET" -enable-experimental-feature Embedded -wmo -Osize
    -Xfrontend -function-sections
    -module-name Lantern
    -I tools/embedded/Glibc -I Sources/CZlib -I Sources/CSystem
    # What `lantern --version` says it is (BuildInfo.swift).
    -D "LANTERN_CPU_$ARCH"
)
SWIFT_FLAGS+=("${ARCH_SWIFTFLAGS[@]}")
C_FLAGS=(-Os)
[[ -n $CLANG_TARGET ]] && C_FLAGS+=("--target=$CLANG_TARGET")
C_FLAGS+=("${ARCH_CFLAGS[@]}")
if [[ $MUSL == 1 ]]; then
    SWIFT_FLAGS+=(-D LANTERN_MUSL)
    # Only musl's headers (and zlib's, from a folder of their own) for every C file and module.
    mkdir -p "$OUT/include"
    ln -sf "$ZLIB_INCLUDE/zlib.h" "$ZLIB_INCLUDE/zconf.h" "$OUT/include/"
    HEADER_FLAGS=(-nostdinc -isystem "$(clang -print-resource-dir)/include" -isystem "$MUSL_INCLUDE"
        -isystem "$OUT/include")
    C_FLAGS+=("${HEADER_FLAGS[@]}")
    # The Swift compiler's own clang must agree on headers and on the float ABI.
    for flag in "${ARCH_CFLAGS[@]}" "${HEADER_FLAGS[@]}"; do SWIFT_FLAGS+=(-Xcc "$flag"); done
    SWIFT_FLAGS+=(-Xfrontend -entry-point-function-name -Xfrontend lantern_swift_main)
    SOURCES+=(tools/embedded/MuslOverlay.swift)
fi
echo "release-embedded.sh: swiftc ${SWIFT_FLAGS[*]} (${#SOURCES[@]} files)"
# Always from scratch: the driver was seen to keep an old lantern.o when only -Xllvm flags changed.
rm -f "$OUT/lantern.o"
swiftc "${SWIFT_FLAGS[@]}" -c "${SOURCES[@]}" -o "$OUT/lantern.o"

# 3. Link fully static with the C library and zlib, dropping unreferenced sections and folding
#    identical functions (lld). argv.c keeps the process arguments; zlib-checksums.c keeps zlib's
#    checksum tables out. libm: ceil.
C_FILES=(argv zlib-checksums)
[[ $MUSL == 1 ]] && C_FILES+=(musl)
OBJECTS=()
for c in "${C_FILES[@]}"; do
    clang "${C_FLAGS[@]}" -c "tools/embedded/$c.c" -o "$OUT/$c.o"
    OBJECTS+=("$OUT/$c.o")
done
if [[ $MUSL == 1 ]]; then
    clang ${CLANG_TARGET:+--target=$CLANG_TARGET} -static -nostdlib -fuse-ld=lld \
        -Wl,--gc-sections -Wl,--icf=all -Wl,--build-id=none -o "$OUT/lantern" \
        "$MUSL_LIB/crt1.o" "$MUSL_LIB/crti.o" "$OUT/lantern.o" "${OBJECTS[@]}" \
        "$ZLIB_A" "$MUSL_LIB/libc.a" "$LIBGCC" "$MUSL_LIB/crtn.o"
else
    clang -static -fuse-ld=lld -Wl,--gc-sections -Wl,--icf=all -o "$OUT/lantern" \
        "$OUT/lantern.o" "${OBJECTS[@]}" -lz -lm
fi
echo "release-embedded.sh: built in $((SECONDS - started))s"
if [[ $ARCH == armv7 || $ARCH == armv6 ]]; then
    python3 tools/check-arm-r10.py "$OUT/lantern"
fi

SRC=$OUT/lantern
source tools/static-dist.sh
install_static_dist release-embedded.sh "$SRC" "$OUT_BIN" "$ELF_MACHINE" \
    " (Embedded Swift$([[ $MUSL == 1 ]] && echo ", musl"), $ARCH)"
