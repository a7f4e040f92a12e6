#!/usr/bin/env bash
# Installs what tools/release.sh --all needs on a Debian 12 x86_64 machine (root): musl, zlib and
# libgcc for every CPU from Debian's multiarch packages, and qemu-user-static to run the results.
# CI runs it; release.sh itself installs nothing and names what is missing.
#
# armel (the armv6 build) is special: Debian 12's armel zlib1g-dev lags the other architectures'
# security update (1:1.2.13.dfsg-1 against -1+deb12u1), and multiarch -dev packages must share one
# version, so it cannot be installed beside arm64's and armhf's. It is downloaded and unpacked
# into .build-deps/armel instead (only libz.a is used; the fix it lacks is in minizip, which
# libz.a does not contain).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export DEBIAN_FRONTEND=noninteractive

PACKAGES=(musl-dev zlib1g-dev gcc file python3
    musl-dev:arm64 zlib1g-dev:arm64 libgcc-12-dev:arm64
    musl-dev:armhf zlib1g-dev:armhf libgcc-12-dev:armhf
    musl-dev:armel libgcc-12-dev-armel-cross
    qemu-user-static)

foreign=$(dpkg --print-foreign-architectures)
added=0
for arch in arm64 armhf armel; do
    if ! grep -qx "$arch" <<<"$foreign"; then dpkg --add-architecture "$arch"; added=1; fi
done
missing=()
for pkg in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]} || added)); then
    echo "cross-deps.sh: installing ${missing[*]}"
    apt-get update -q
    ((${#missing[@]})) && apt-get install -y -q --no-install-recommends "${missing[@]}"
else
    echo "cross-deps.sh: all present: ${PACKAGES[*]}"
fi

ARMEL_ZLIB=.build-deps/armel/usr/lib/arm-linux-gnueabi/libz.a
if [[ ! -e /usr/lib/arm-linux-gnueabi/libz.a && ! -e $ARMEL_ZLIB ]]; then
    tmp=$(mktemp -d)
    chmod 755 "$tmp"   # apt's download user must be able to write there
    (cd "$tmp" && apt-get download zlib1g-dev:armel)
    mkdir -p .build-deps/armel
    dpkg-deb -x "$tmp"/zlib1g-dev_*_armel.deb .build-deps/armel
    rm -rf "$tmp"
    echo "cross-deps.sh: unpacked armel zlib into .build-deps/armel"
fi
[[ -e /usr/lib/arm-linux-gnueabi/libz.a || -e $ARMEL_ZLIB ]]
echo "cross-deps.sh: ready for tools/release.sh --all"
