#!/usr/bin/env bash
# Every Autobahn case against every CPU's build, the ARM ones under qemu-user: what CI runs only
# in part (its 70-minute budget), for anyone with the time (about an hour on 2 cores).
#
#   tools/autobahn-emulated.sh [ARCH...]     default: aarch64 armv7 armv6 x86_64
#
# Takes dist/lantern-linux-ARCH (tools/release.sh --all builds them; tools/cross-deps.sh installs
# what that and qemu need), runs tools/autobahn.sh with all 517 cases through
# tools/qemu-wrapper.sh, reports into .build-autobahn/report-emulated-ARCH, and prints one line
# of verdicts and minutes per CPU. Exits 1 if any CPU had a failing case.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export AUTOBAHN_SERVER_ARGS=${AUTOBAHN_SERVER_ARGS:-"--deflate-threshold 0"}   # as in .ci/run

archs=("$@")
((${#archs[@]})) || archs=(aarch64 armv7 armv6 x86_64)
status=0
summary=()
for arch in "${archs[@]}"; do
    bin=dist/lantern-linux-$arch
    [[ -x $bin ]] || { echo "autobahn-emulated.sh: $bin missing (tools/release.sh --all)" >&2; exit 1; }
    wrapper=.build-autobahn/emulated/run-$arch
    bash tools/qemu-wrapper.sh "$arch" "$bin" "$wrapper"
    started=$SECONDS
    if AUTOBAHN_TIMEOUT=${AUTOBAHN_TIMEOUT:-5400} bash tools/autobahn.sh "$wrapper" all ".build-autobahn/report-emulated-$arch" \
        2>&1 | tee ".build-autobahn/emulated-$arch.log"; then
        result=passed
    else
        result=FAILED; status=1
    fi
    verdicts=$(grep '^autobahn: [0-9]* cases' ".build-autobahn/emulated-$arch.log" | tail -n 1 || true)
    summary+=("$(printf '%-8s %-6s %3d min  %s' "$arch" "$result" $(((SECONDS - started + 30) / 60)) "$verdicts")")
done
echo
for line in "${summary[@]}"; do echo "autobahn-emulated.sh: $line"; done
exit $status
