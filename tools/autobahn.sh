#!/usr/bin/env bash
# Autobahn TestSuite (via kosoku, a native re-implementation on PyPI) against a lantern binary.
#
#   tools/autobahn.sh BIN [CASES] [OUTDIR]
#
#   BIN     the server binary; started as
#             BIN --host 127.0.0.1 --port 0 --greeting "" --max-message-bytes 67108864 \
#                 --max-buffered-bytes 268435456 $AUTOBAHN_SERVER_ARGS
#           and expected to print "lantern listening on 127.0.0.1:PORT" as its first stdout line.
#           Use "-" together with AUTOBAHN_URL=ws://host:port/ws to test an already running server.
#   CASES   case ids / globs separated by spaces or commas, e.g. '1.* 2.* 9.1.1'
#           (each becomes one `kosoku -i`); empty, "all" or "*" = the whole suite.
#   OUTDIR  report directory (default .build-autobahn/report; index.json + html there).
#
# Environment: AUTOBAHN_PARALLELISM (4), AUTOBAHN_TIMEOUT (seconds for kosoku, 2400),
#   AUTOBAHN_VENV (.venv/autobahn), AUTOBAHN_KOSOKU (pip spec, kosoku==0.1.0),
#   AUTOBAHN_SERVER_ARGS (extra server args), AUTOBAHN_EXCLUDE (globs to exclude),
#   AUTOBAHN_ALLOW_UNIMPLEMENTED=1 (accept UNIMPLEMENTED verdicts).
# Exit status: 0 only if every case's behavior and behaviorClose is OK, NON-STRICT or
# INFORMATIONAL (judged from OUTDIR/index.json, not from kosoku's exit code), and the server
# neither died during the run nor crashed on SIGTERM.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD

if [[ $# -lt 1 || $1 == -h || $1 == --help ]]; then
    sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
fi

BIN=$1
CASES=${2:-}
OUTDIR=${3:-.build-autobahn/report}
PARALLELISM=${AUTOBAHN_PARALLELISM:-4}
KOSOKU_TIMEOUT=${AUTOBAHN_TIMEOUT:-2400}
VENV=${AUTOBAHN_VENV:-$ROOT/.venv/autobahn}
KOSOKU_SPEC=${AUTOBAHN_KOSOKU:-kosoku==0.1.0}
WORK=$ROOT/.build-autobahn
mkdir -p "$WORK"

log() { echo "autobahn.sh: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# ---------------------------------------------------------------- kosoku in a venv
install_kosoku() {
    if [[ -x $VENV/bin/kosoku ]] && "$VENV/bin/python" -c 'import kosoku' 2>/dev/null; then
        return
    fi
    local py
    py=$(command -v python3 || true)
    [[ -n $py ]] || die "python3 not found (apt-get install python3 python3-venv)"
    rm -rf "$VENV"
    if ! "$py" -m venv "$VENV" >"$WORK/venv.log" 2>&1; then
        # Debian's python3 lacks ensurepip until python3-venv is installed.
        if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
            log "python3 -m venv failed; installing python3-venv"
            DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-venv >/dev/null \
                || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-venv >/dev/null; }
            rm -rf "$VENV"
            "$py" -m venv "$VENV" || die "python3 -m venv failed"
        else
            cat "$WORK/venv.log" >&2
            die "python3 -m venv failed (install python3-venv)"
        fi
    fi
    log "installing $KOSOKU_SPEC into $VENV"
    "$VENV/bin/pip" install -q --disable-pip-version-check "$KOSOKU_SPEC" \
        || die "pip install $KOSOKU_SPEC failed"
}
install_kosoku

# ---------------------------------------------------------------- server
SERVER_PID=
SERVER_STATUS=
stop_server() {
    [[ -n $SERVER_PID ]] || return 0
    local pid=$SERVER_PID
    SERVER_PID=
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then
            log "WARNING: server $pid ignored SIGTERM for 5 s; sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    set +e
    wait "$pid" 2>/dev/null
    SERVER_STATUS=$?
    set -e
}
trap 'stop_server' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [[ -n ${AUTOBAHN_URL:-} ]]; then
    URL=$AUTOBAHN_URL
    log "testing the already running server at $URL"
else
    [[ -x $BIN ]] || die "not an executable: $BIN"
    [[ $BIN == */* ]] || BIN=./$BIN
    SERVER_OUT=$WORK/server.stdout
    SERVER_ERR=$WORK/server.stderr
    : >"$SERVER_OUT"
    : >"$SERVER_ERR"
    # shellcheck disable=SC2086  # AUTOBAHN_SERVER_ARGS is split on purpose
    # 9.* sends messages of up to 16 MiB, four cases at a time (-p 4): up to 64 MiB being
    # received at once, over the default --max-buffered-bytes (32 MiB), which closes the
    # connection that would pass it with 1013. Natively the cases rarely overlap that much; under
    # qemu they do (9.3.1 got 1013 on aarch64). The budget is policy, not protocol: room for four.
    "$BIN" --host 127.0.0.1 --port 0 --greeting "" --max-message-bytes 67108864 \
        --max-buffered-bytes 268435456 ${AUTOBAHN_SERVER_ARGS:-} >"$SERVER_OUT" 2>"$SERVER_ERR" </dev/null &
    SERVER_PID=$!
    PORT=
    for _ in $(seq 200); do  # 20 s
        if [[ $(wc -l <"$SERVER_OUT") -ge 1 ]]; then   # a complete first line
            line=$(head -n 1 "$SERVER_OUT")
            if [[ $line =~ ^lantern\ listening\ on\ ([0-9.]+):([0-9]+) ]]; then
                PORT=${BASH_REMATCH[2]}
                break
            fi
            die "unexpected first stdout line from the server: '$line'"
        fi
        kill -0 "$SERVER_PID" 2>/dev/null || { cat "$SERVER_ERR" >&2; die "server exited before listening"; }
        sleep 0.1
    done
    [[ -n $PORT ]] || { cat "$SERVER_ERR" >&2; die "server printed no 'lantern listening on' line within 20 s"; }
    for _ in $(seq 100); do  # 10 s
        if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
            break
        fi
        sleep 0.1
    done
    (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null || die "server does not accept TCP on port $PORT"
    URL=ws://127.0.0.1:$PORT/ws
    log "server pid $SERVER_PID listening at $URL"
fi

# ---------------------------------------------------------------- kosoku
ARGS=("$URL" -p "$PARALLELISM" -o "$OUTDIR")
read -r -a patterns <<<"${CASES//,/ }"
for pattern in "${patterns[@]}"; do
    [[ $pattern == all || $pattern == '*' ]] && continue
    ARGS+=(-i "$pattern")
done
read -r -a excludes <<<"${AUTOBAHN_EXCLUDE:-}"
for pattern in "${excludes[@]}"; do
    ARGS+=(-x "${pattern//,/}")
done

rm -rf "$OUTDIR"   # never judge a stale report
mkdir -p "$OUTDIR"
log "kosoku ${ARGS[*]}"
started=$SECONDS
set +e
timeout -k 10 "$KOSOKU_TIMEOUT" "$VENV/bin/kosoku" "${ARGS[@]}" 2>&1 | tail -n 40
kosoku_status=${PIPESTATUS[0]}
set -e
elapsed=$((SECONDS - started))
log "kosoku exited with status $kosoku_status after ${elapsed}s"
[[ $kosoku_status != 124 && $kosoku_status != 137 ]] || log "kosoku hit the ${KOSOKU_TIMEOUT}s timeout"

# ---------------------------------------------------------------- server health
server_problem=
if [[ -z ${AUTOBAHN_URL:-} ]]; then
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
        server_problem="the server died during the run"
    fi
    stop_server
    case $SERVER_STATUS in
        0 | 143) ;;   # clean exit, or killed by our SIGTERM
        137) log "WARNING: server had to be SIGKILLed" ;;
        *) server_problem="${server_problem:+$server_problem; }server exit status $SERVER_STATUS" ;;
    esac
    if [[ -n $server_problem ]]; then
        log "server stderr (last 20 lines):"
        tail -n 20 "$SERVER_ERR" >&2 || true
    fi
fi

# ---------------------------------------------------------------- verdicts
set +e
"$VENV/bin/python" "$ROOT/tools/autobahn_verdicts.py" "$OUTDIR"
verdict=$?
set -e
log "report: $OUTDIR/index.html"
if [[ -n $server_problem ]]; then
    log "FAILED: $server_problem"
    exit 1
fi
if [[ $verdict != 0 ]]; then
    exit 1
fi
if [[ $kosoku_status != 0 ]]; then
    # The verdicts passed but kosoku complained (it should not happen: its own rule is the same).
    log "WARNING: kosoku exited $kosoku_status although every case in index.json passed"
fi
exit 0
