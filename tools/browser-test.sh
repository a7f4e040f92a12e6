#!/usr/bin/env bash
# Real-browser test of the page: tools/browser-test.sh BIN [OUTDIR]
# Starts BIN on a free port, opens /client in headless Chromium (Debian's `chromium`, driven over
# the DevTools pipe by tools/browser/cdp_test.py with the Python standard library only) and checks
# greeting, echo + RTT (also after an echo that came back changed), permessage-deflate, an HTML
# payload shown as text, binary messages, CSP, 360 px width, and what happens when the server
# goes away: the hint after refused attempts, a quiet status live region during the countdown,
# an unanswered attempt abandoned after 10 s (Reconnect and 'online' usable meanwhile), a backoff
# that keeps growing while every open is closed at once, and the automatic reconnect; then, against
# a server with --access-token-file, the link with #token=… connects and the bare page says why not.
# Screenshots go to OUTDIR (default .build-browser/): client.png, client-360.png, client-dark.png.
# Last, the page against `lantern -- tools/examples/counter.sh 3` (issue 18); BROWSER_TEST_ONLY=program
# runs that step alone (CI does, against the ARM builds under qemu).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

BIN=${1:?usage: tools/browser-test.sh BIN [OUTDIR]}
OUTDIR=${2:-.build-browser}
[[ -x $BIN ]] || { echo "browser-test: $BIN is not an executable" >&2; exit 2; }

# Debian's chromium; installed here when missing and we may (CI runs as root).
if ! command -v chromium >/dev/null; then
    if [[ $(id -u) == 0 ]]; then
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq chromium fonts-dejavu-core >/dev/null
    else
        echo "browser-test: chromium missing (apt-get install chromium)" >&2
        exit 2
    fi
fi
command -v python3 >/dev/null || { echo "browser-test: python3 missing" >&2; exit 2; }

# Bounded as a whole too: a hung browser must not hold CI.
timeout --kill-after=10 180 python3 tools/browser/cdp_test.py "$BIN" "$OUTDIR"
