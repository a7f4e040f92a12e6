#!/usr/bin/env bash
# Writes an executable wrapper that runs a lantern binary for another CPU under qemu-user, so
# the test suites can take it as LANTERN_BIN (they spawn it, signal it, read its output: qemu
# passes signals and standard streams through to the guest).
#
#   tools/qemu-wrapper.sh [--uptime SECS] ARCH BINARY WRAPPER
#
# --uptime SECS runs it in a new time namespace whose CLOCK_MONOTONIC is SECS further on (root:
# `unshare -T --monotonic`), as on a box that has been up that long: on 32-bit ARM, clock
# arithmetic in a 32-bit Int trapped after 36 minutes of uptime, which a fresh CI machine may
# not have reached. CI gives the armv7 and armv6 builds 20,000,000 s (231 days: milliseconds
# since boot past 2^32).
#
# ARCH: aarch64 (qemu-aarch64-static), armv7 (qemu-arm-static -cpu cortex-a7), armv6
# (qemu-arm-static -cpu arm1176: the Pi Zero/Pi 1 CPU, so an instruction it lacks is SIGILL).
# The wrapper only runs the binary; tests learn that it is emulated from LANTERN_EMULATED=1 in
# their own environment (CI sets it).
set -euo pipefail
prefix=
if [[ ${1:-} == --uptime ]]; then
    prefix="unshare -T --monotonic ${2:?--uptime needs seconds} "
    shift 2
fi
arch=${1:?ARCH}; bin=$(realpath "${2:?BINARY}"); wrapper=${3:?WRAPPER}
case $arch in
    aarch64) cmd="qemu-aarch64-static" ;;
    armv7) cmd="qemu-arm-static -cpu cortex-a7" ;;
    armv6) cmd="qemu-arm-static -cpu arm1176" ;;
    x86_64) cmd="" ;;
    *) echo "qemu-wrapper.sh: unknown ARCH $arch" >&2; exit 2 ;;
esac
[[ -z $cmd ]] || command -v "${cmd%% *}" >/dev/null || { echo "qemu-wrapper.sh: ${cmd%% *} not found (apt-get install qemu-user-static)" >&2; exit 1; }
mkdir -p "$(dirname "$wrapper")"
printf '#!/bin/sh\nexec %s%s %s "$@"\n' "$prefix" "$cmd" "$bin" > "$wrapper"
chmod 755 "$wrapper"
