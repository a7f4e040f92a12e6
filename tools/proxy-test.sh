#!/usr/bin/env bash
# Lantern behind nginx and Caddy over HTTPS, in headless Chromium: tools/proxy-test.sh BIN
# Runs the README's "# recipe:" blocks (TCP, path prefix /lantern/, Unix socket; each proxy) with a
# throwaway CA and certificate for 127.0.0.1 (tools/browser/proxy_test.py); prints PASS/FAIL per
# proxy and layout, exits 1 on any failure. Needs nginx, caddy, chromium, openssl, python3:
# installed here when missing and we may (CI runs as root), without starting their services.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

BIN=${1:?usage: tools/proxy-test.sh BIN}
[[ -x $BIN ]] || { echo "proxy-test: $BIN is not an executable" >&2; exit 2; }

declare -A PACKAGE=([nginx]=nginx [caddy]=caddy [chromium]=chromium [openssl]=openssl [python3]=python3)
missing=()
for command in "${!PACKAGE[@]}"; do
    command -v "$command" >/dev/null || missing+=("${PACKAGE[$command]}")
done
if ((${#missing[@]})); then
    [[ $(id -u) == 0 ]] || { echo "proxy-test: missing ${missing[*]} (apt-get install them)" >&2; exit 2; }
    export DEBIAN_FRONTEND=noninteractive
    # Installing nginx and caddy would start both on port 80 (the second then fails, and its
    # postinst with it). A policy-rc.d that says "not now" (exit 101) keeps every service
    # stopped; one already there (Docker images ship one) is left as it is.
    own_policy=
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
        chmod 0755 /usr/sbin/policy-rc.d
        own_policy=1
    fi
    status=0
    { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" fonts-dejavu-core >/dev/null; } || status=$?
    [[ -z $own_policy ]] || rm -f /usr/sbin/policy-rc.d
    ((status == 0)) || { echo "proxy-test: apt-get failed ($status)" >&2; exit 2; }
fi
echo "proxy-test: $(nginx -v 2>&1), caddy $(caddy version | cut -d' ' -f1), $(chromium --version 2>/dev/null || echo chromium), $(openssl version | cut -d' ' -f1-2)"

# Bounded as a whole too: a hung browser or proxy must not hold CI.
timeout --kill-after=10 240 python3 tools/browser/proxy_test.py "$BIN"
