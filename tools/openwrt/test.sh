#!/bin/sh
# Runs tools/openwrt/lantern.init's functions against stubs of OpenWrt's config_load (which calls
# config_cb/option_cb/list_cb, as /lib/functions.sh does for each section, option and list item)
# and of procd_*, which record their calls. No router was used. Exits 1 on a failure.
set -eu
cd "$(dirname "$0")"

CALLS=
procd_open_instance() { CALLS="${CALLS}open
"; }
procd_close_instance() { CALLS="${CALLS}close
"; }
procd_set_param() {
    CALLS="${CALLS}param"
    for arg in "$@"; do CALLS="$CALLS [$arg]"; done
    CALLS="$CALLS
"
}
procd_add_reload_trigger() { CALLS="${CALLS}trigger $*
"; }

# The init script as rc.common sources it (its #! line is a comment to sh).
. ./lantern.init

# What config_load would read from lantern.config plus a few extra options.
CONFIG=default
config_load() {
    [ "$1" = lantern ] || { echo "config_load $1" >&2; exit 1; }
    config_cb lantern main
    case $CONFIG in
        default)
            # lantern.config as shipped: every `option` line, in order.
            while read -r name value; do option_cb "$name" "$value"; done <<EOT
$(sed -n "s/^[[:space:]]*option \([a-z_]*\) '\(.*\)'$/\1 \2/p" lantern.config)
EOT
            ;;
        extra)
            option_cb port 9000
            option_cb greeting 'hello from the router'
            list_cb allow_origin http://a.lan
            list_cb allow_origin http://b.lan:8080
            option_cb no_deflate 1
            config_cb system other
            option_cb port 1   # another section's option: not ours
            ;;
        disabled)
            option_cb enabled 0
            option_cb port 9000
            ;;
    esac
}

failures=0
expect() { # description needle
    if printf '%s' "$CALLS" | grep -qF -- "$2"; then echo "ok: $1"; else echo "FAILED: $1: no '$2' in:"; printf '%s' "$CALLS"; failures=$((failures + 1)); fi
}

CONFIG=default; CALLS=; start_service
expect "starts /usr/bin/lantern" "param [command] [/usr/bin/lantern]"
expect "shipped config: options become LANTERN_*" "param [env] [LANTERN_PORT=8080] [LANTERN_MODE=echo] [LANTERN_MAX_CONNECTIONS=64] [LANTERN_MAX_BUFFERED_BYTES=4194304] [LANTERN_DEFLATE_MEMORY=small] [LANTERN_DEFLATE_BUDGET=2097152] [LANTERN_LOG_LEVEL=info]"
expect "respawned by procd" "param [respawn]"
expect "restarted when /etc/config/lantern changes" "param [file] [/etc/config/lantern]"
expect "one instance" "open"

CONFIG=extra; CALLS=; start_service
expect "a value with spaces is one argument; lists joined with commas; other sections ignored" \
    "param [env] [LANTERN_PORT=9000] [LANTERN_GREETING=hello from the router] [LANTERN_ALLOW_ORIGIN=http://a.lan,http://b.lan:8080] [LANTERN_NO_DEFLATE=1]"

CONFIG=disabled; CALLS=; start_service
if [ -z "$CALLS" ]; then echo "ok: enabled 0 starts nothing"; else echo "FAILED: enabled 0 started: $CALLS"; failures=$((failures + 1)); fi

CALLS=; service_triggers
expect "reload trigger on the lantern config" "trigger lantern"

[ "$failures" = 0 ] || { echo "openwrt test: $failures failed"; exit 1; }
echo "openwrt test: all passed (stubbed procd; not run on a router)"
